/**
 * Inbound forms (api/integrations.md "Inbound forms and webhooks"): admins manage them
 * (`/v1/forms`), websites post signed submissions to `/in/forms/{id}`, each becoming a lead, or
 * a note on the lead or contact it duplicates.
 *
 * A submission, in order:
 *   1. `openSubmission`: the form its path names (through the tenant-free pointer), and a valid
 *      Standard Webhooks signature of the raw body by one of the form's secrets (current, or the
 *      previous one for 24 h after a rotation), its timestamp within ±5 minutes. Every failure,
 *      an unknown or deleted form included, is the same 401; the body has not been read yet.
 *      A `webhook-id` already accepted for the form within 24 h: its stored first answer.
 *   2. The caller parses the body (400).
 *   3. `submitForm`: ONE transaction holds what the submission does (the lead with its note, or
 *      the note on the existing record), its `form.submitted` event, and its receipt (the answer,
 *      keyed by form and webhook-id, conditioned on not existing). Two identical requests racing:
 *      one commits, the other fails on the receipt and answers what the first stored.
 */
import { sealResult } from '#domain/secrets/envelope.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import { conflict, DomainError, notFound, validationFailed } from '#domain/errors.ts';
import { requireRole, type Identity } from '#domain/identity.ts';
import { checkIfMatch, mergePatch, newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { activityWrites } from '#domain/accounts/activities.ts';
import type { Activity } from '#domain/accounts/activity.ts';
import { GuardTaken, holdersOf, type Holder } from '#domain/accounts/duplicates.ts';
import { campaignKey } from '#domain/marketing/keys.ts';
import { LEAD_ROLES } from '#domain/sales/lead.ts';
import { newLeadWrites } from '#domain/sales/leads.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';
import { newSecret, rotate, validSecrets, verifySignature, type RotatingSecret } from '#domain/integrations/standard-webhooks.ts';
import {
  formItem,
  formKey,
  formOf,
  formPartition,
  formPointerKey,
  receiptKey,
  RECEIPT_TTL_SECONDS,
  secretOf,
  viewOf,
  withSecret,
  type Form,
  type FormCreate,
  type FormPatch,
  type FormSubmission,
  type FormView,
  type FormWithSecret,
  type SubmissionAnswer,
} from '#domain/integrations/form.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem, getItems, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { IdempotencyRecordExists, UnitOfWork } from '#domain/table/transaction.ts';

type Item = Record<string, unknown>;

/** Forms are integration settings: admins only (api/integrations.md). */
const FORM_ROLES = ['admin'] as const;

// ---------------------------------------------------------------------------------------
// Managing forms (admin)

/** A form's owner must be in the directory, in a role that may hold leads (support may not read them). */
async function checkOwner(tenantId: string, ownerId: string): Promise<void> {
  const user = await requireDirectoryUser(tenantId, ownerId, 'body.ownerId');
  if (!(LEAD_ROLES as readonly string[]).includes(user.role)) {
    throw validationFailed([{ path: 'body.ownerId', message: `a form's leads go to a user who may hold leads (${LEAD_ROLES.join(', ')})` }]);
  }
}

/** One GetItem: a campaign id that names no campaign of the tenant is a 400, as for campaigns' segments. */
async function checkCampaign(tenantId: string, campaignId: string): Promise<void> {
  if (!(await getItem(campaignKey(tenantId, campaignId)))) throw validationFailed([{ path: 'body.campaignId', message: 'no such campaign' }]);
}

/** Checks the owner and campaign a create or patch names (a `null` clears them: nothing to check). */
async function checkReferences(tenantId: string, refs: { ownerId?: string | null; campaignId?: string | null }): Promise<void> {
  await Promise.all([
    refs.ownerId ? checkOwner(tenantId, refs.ownerId) : undefined,
    refs.campaignId ? checkCampaign(tenantId, refs.campaignId) : undefined,
  ]);
}

export async function createForm(ctx: UseCaseContext, input: FormCreate): Promise<FormWithSecret> {
  requireRole(ctx.identity, ...FORM_ROLES);
  const tenantId = ctx.identity.tenantId;
  await checkReferences(tenantId, input);
  const at = ctx.now.toISOString();
  const form: Form = {
    id: newId(ctx),
    name: input.name,
    source: input.source,
    ownerId: input.ownerId ?? null,
    campaignId: input.campaignId ?? null,
    tags: input.tags,
    createdBy: ctx.identity.userId,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const secret = { current: newSecret() };
  const idCollision = () => new Error(`id collision on form ${form.id}`);
  // The form and its public pointer land together (an Idempotency-Key replay gets the same secret back).
  return new UnitOfWork(ctx)
    .put(await withSecret(formItem(tenantId, form), secret), { condition: 'attribute_not_exists(PK)', onConditionFailed: idCollision })
    .put({ ...formPointerKey(form.id), tenantId, entityType: 'FORMPOINTER', formId: form.id }, { condition: 'attribute_not_exists(PK)', onConditionFailed: idCollision })
    .commit({ ...viewOf(form), secret: secret.current }, { sealResult });
}

/** A form of the caller's tenant: 404 first (another tenant's id looks missing to every role), then 403 for non-admins. */
async function loadManaged(ctx: UseCaseContext, id: string): Promise<{ form: Form; item: Item }> {
  const item = await getItem(formKey(ctx.identity.tenantId, id));
  if (!item) throw notFound('form');
  requireRole(ctx.identity, ...FORM_ROLES);
  return { form: formOf(item), item };
}

export async function getForm(ctx: UseCaseContext, id: string): Promise<FormView> {
  return viewOf((await loadManaged(ctx, id)).form);
}

/** The tenant's forms, oldest first (ids are ULIDs). */
export async function listForms(ctx: UseCaseContext, page: PageRequest): Promise<Page<FormView>> {
  requireRole(ctx.identity, ...FORM_ROLES);
  return queryPage({ index: 'byType', pk: formPartition(ctx.identity.tenantId) }, page, (item) => viewOf(formOf(item)));
}

const versionIs = (version: number) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': version },
  onConditionFailed: () => new VersionRace(),
});

/** Writes the form's next version over the one read, with the secret it is to hold. */
/** Replaces the form's item; `answer` is what the caller answers (kept for an Idempotency-Key replay, sealed: it may hold the secret). */
async function replaceForm<R>(ctx: UseCaseContext, before: Form, next: Form, secret: RotatingSecret, answer: R): Promise<R> {
  return new UnitOfWork(ctx).put(await withSecret(formItem(ctx.identity.tenantId, next), secret), versionIs(before.version)).commit(answer, { sealResult });
}

export async function updateForm(ctx: UseCaseContext, id: string, patch: FormPatch, ifMatch: number | undefined): Promise<FormView> {
  return retryOnVersionRace(ifMatch, async () => {
    const { form: before, item } = await loadManaged(ctx, id);
    checkIfMatch(before, ifMatch);
    await checkReferences(ctx.identity.tenantId, patch);
    const merged = mergePatch(before, patch as Record<string, unknown>);
    // merge-patch deletes what `null` clears; the form shows it as null.
    const after: Form = { ...merged, ownerId: merged.ownerId ?? null, campaignId: merged.campaignId ?? null };
    if (JSON.stringify(after) === JSON.stringify(before)) return viewOf(before);
    const next: Form = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    return replaceForm(ctx, before, next, await secretOf(item), viewOf(next));
  });
}

/**
 * A new current secret; the one it replaces still verifies for 24 hours (a second rotation
 * within them ends the first one's overlap: at most two secrets are ever valid).
 */
export async function rotateFormSecret(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<FormWithSecret> {
  return retryOnVersionRace(ifMatch, async () => {
    const { form: before, item } = await loadManaged(ctx, id);
    checkIfMatch(before, ifMatch);
    const secret = rotate(await secretOf(item), ctx.now);
    const next: Form = { ...before, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    // The answer holds the new secret: an Idempotency-Key replay answers it again (the first
    // answer may have been lost), so it is kept, sealed like a create's.
    return replaceForm(ctx, before, next, secret, { ...viewOf(next), secret: secret.current });
  });
}

/** The form and its pointer go together: from then on its URL answers 401 like an unknown one. Receipts expire on their own. */
export async function deleteForm(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const { form } = await loadManaged(ctx, id);
    checkIfMatch(form, ifMatch);
    await new UnitOfWork(ctx).delete(formKey(ctx.identity.tenantId, id), versionIs(form.version)).delete(formPointerKey(id)).commit(undefined);
  });
}

// ---------------------------------------------------------------------------------------
// Submissions (the public route)

/** Every refusal of a submission's proof looks the same: no hint whether the form exists. */
const notSigned = () => new DomainError(401, 'unauthenticated', 'The request does not carry a valid signature of this form.');

/** Form ids are ULIDs; anything else names no form (and never reaches a key: DynamoDB bounds key sizes). */
const FORM_ID = /^[A-Za-z0-9]{1,64}$/;
/** `webhook-id` is stored in the receipt and the event: a sender's message id, bounded. */
const MAX_WEBHOOK_ID = 256;

/**
 * Whose form this is: the pointer, remembered per container. A form never changes tenant, so a
 * remembered pointer stays true; a deleted form is caught by the form's own read (a miss is
 * never remembered: a form created later must be found). Warm, a submission makes 3 requests.
 */
const tenantOfFormMemo = new Map<string, string>();
const MEMO_LIMIT = 10_000;
export async function tenantOfForm(formId: string): Promise<string | undefined> {
  if (!FORM_ID.test(formId)) return undefined;
  const known = tenantOfFormMemo.get(formId);
  if (known !== undefined) return known;
  const tenantId = (await getItem(formPointerKey(formId)))?.tenantId;
  if (typeof tenantId !== 'string') return undefined;
  if (tenantOfFormMemo.size >= MEMO_LIMIT) tenantOfFormMemo.delete(tenantOfFormMemo.keys().next().value!);
  tenantOfFormMemo.set(formId, tenantId);
  return tenantId;
}

export interface OpenedSubmission {
  tenantId: string;
  form: Form;
  webhookId: string;
  /** The first answer to this webhook-id when it was accepted within 24 hours: answer it again, do nothing. */
  replay?: SubmissionAnswer;
}

/** A receipt's stored answer while it holds (TTL deletion lags: an expired one no longer counts). */
function answerOf(receipt: Item | undefined, now: Date): SubmissionAnswer | undefined {
  if (!receipt || (receipt.expiresAt as number) * 1000 <= now.getTime()) return undefined;
  return JSON.parse(receipt.answer as string) as SubmissionAnswer;
}

/**
 * Step 1: the form the path names and the proof that its secret signed this very body. One
 * GetItem (the pointer, unless remembered) and one BatchGetItem (the form and the receipt of this webhook-id).
 * `headers` are lower-cased; `rawBody` is the body exactly as it came.
 */
export async function openSubmission(formId: string, headers: Record<string, string | undefined>, rawBody: string, now: Date): Promise<OpenedSubmission> {
  if (!FORM_ID.test(formId)) throw notSigned();
  const webhookId = headers['webhook-id'];
  if (!webhookId || webhookId.length > MAX_WEBHOOK_ID) throw notSigned();
  const tenantId = await tenantOfForm(formId);
  if (!tenantId) throw notSigned();
  const [item, receipt] = await getItems([formKey(tenantId, formId), receiptKey(tenantId, formId, webhookId)]);
  if (!item) throw notSigned(); // deleted since the pointer was read
  const verified = verifySignature(validSecrets(await secretOf(item), now), headers, rawBody, now);
  if (!verified.ok) throw notSigned();
  const replay = answerOf(receipt, now);
  return { tenantId, form: formOf(item), webhookId, ...(replay ? { replay } : {}) };
}

/** The receipt of this webhook-id exists: a twin request committed first. */
class ReceiptExists extends IdempotencyRecordExists {}
/** The lead or contact it matched was deleted or merged meanwhile: look again. */
class HolderGone extends Error {}

const MAX_ATTEMPTS = 6;

/**
 * Step 3: what a verified submission (its body parsed) does, exactly once per webhook-id.
 * It acts as the form's owner (its leads' owner) in the form's tenant, with an admin's reach: a
 * system identity, as workflow actions have, since the submission may match a record its owner
 * cannot open. A matching lead (email or phone, API.md §5) is preferred to a matching contact.
 */
export async function submitForm(opened: OpenedSubmission, input: FormSubmission, now: Date): Promise<SubmissionAnswer> {
  const { tenantId, form } = opened;
  const ownerId = form.ownerId ?? form.createdBy;
  for (let attempt = 1; ; attempt++) {
    // 1. What it duplicates (leads first) and the owner's team (its directory entry), in one read.
    const {
      holders,
      also: [owner],
    } = await holdersOf(tenantId, ['lead', 'contact'], { email: input.email, phone: input.phone }, [entityKey(tenantId, 'USER', ownerId)]);
    const teamId = typeof owner?.teamId === 'string' ? owner.teamId : undefined;
    const identity: Identity = { tenantId, userId: ownerId, role: 'admin', ...(teamId ? { teamId } : {}) };
    const ctx: UseCaseContext = { identity, now };
    const uow = new UnitOfWork(ctx);
    try {
      // 2. The lead and its note, or the note on the record it matched.
      const holder = holders[0];
      const { answer, activity } = holder
        ? await logOnExisting(ctx, uow, form, input, holder)
        : await createLeadFrom(ctx, uow, form, input, teamId ?? null);
      // 3. Its event and its receipt, in the same transaction.
      uow.emit('form.submitted', { type: 'form', id: form.id }, {
        formId: form.id,
        webhookId: opened.webhookId,
        source: form.source,
        campaignId: form.campaignId,
        duplicate: !!holder,
        leadId: answer.body.leadId ?? null,
        contactId: answer.body.contactId ?? null,
        activityId: activity?.id ?? null,
      });
      putReceipt(ctx, uow, opened, answer);
      return await uow.commit(answer);
    } catch (err) {
      if (err instanceof ReceiptExists) {
        const first = answerOf(await getItem(receiptKey(tenantId, form.id, opened.webhookId)), now);
        if (first) return first;
      } else if (!(err instanceof GuardTaken || err instanceof VersionRace || err instanceof HolderGone)) {
        throw err;
      }
      // A lead with its email or phone appeared meanwhile (now a duplicate), or what it matched moved: again.
      if (attempt >= MAX_ATTEMPTS) throw conflict('concurrent_update', 'The records this submission touches are changing too fast; send it again.');
    }
  }
}

interface Outcome {
  answer: SubmissionAnswer;
  activity?: Activity;
}

/** A form's leads carry its tags and the submission's: a lead holds at most 100. */
function tagsOf(form: Form, input: FormSubmission): string[] {
  const tags = [...new Set([...form.tags, ...(input.tags ?? [])])];
  if (tags.length > 100) {
    throw validationFailed([{ path: 'body.tags', message: `a lead holds at most 100 tags, and this form adds ${form.tags.length} of its own` }]);
  }
  return tags;
}

/** A new lead through the leads' own writes (guards, `lead.created`), and its message as a note on it. */
async function createLeadFrom(ctx: UseCaseContext, uow: UnitOfWork, form: Form, input: FormSubmission, ownerTeamId: string | null): Promise<Outcome> {
  await loadNormalizers(); // the lead's duplicate guards normalize its phone
  const lead = newLeadWrites(
    ctx,
    {
      name: input.name,
      ...(input.company !== undefined ? { company: input.company } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.phone !== undefined ? { phone: input.phone } : {}),
      source: form.source,
      ...(form.campaignId ? { campaignId: form.campaignId } : {}),
      status: 'new',
      tags: tagsOf(form, input),
      ...(input.custom !== undefined ? { custom: input.custom } : {}),
    },
    { ownerId: ctx.identity.userId, ownerTeamId },
    uow,
  );
  const activity = input.message
    ? await activityWrites(ctx, { type: 'note', subject: form.name, body: input.message, leadId: lead.id }, uow, { lead })
    : undefined;
  return { answer: { status: 201, body: { leadId: lead.id } }, ...(activity ? { activity } : {}) };
}

/**
 * The submission as a note on the lead or contact it duplicates (always, with or without a
 * message: the note is the only trace of it). The record must still exist when it commits.
 */
async function logOnExisting(ctx: UseCaseContext, uow: UnitOfWork, form: Form, input: FormSubmission, holder: Holder): Promise<Outcome> {
  const link = holder.entity === 'lead' ? { leadId: holder.id } : { contactId: holder.id };
  const note = { type: 'note' as const, subject: form.name, ...(input.message ? { body: input.message } : {}), ...link };
  // A lead's note touches nothing else (no account yet): nothing to read, the ConditionCheck below
  // proves the lead. A contact's is read with its account, whose follow-up clock the note moves.
  const activity = await activityWrites(ctx, note, uow, holder.entity === 'lead' ? {} : undefined).catch((err: unknown) => {
    // A link that is gone is a 400 of the activity's; here, a record to look for again.
    if (err instanceof DomainError && err.status === 400) throw new HolderGone();
    throw err;
  });
  uow.check(entityKey(ctx.identity.tenantId, holder.entity === 'lead' ? 'LEAD' : 'CONTACT', holder.id), {
    condition: 'attribute_exists(PK)',
    onConditionFailed: () => new HolderGone(),
  });
  return { answer: { status: 200, body: { ...link, duplicate: true } }, activity };
}

/** The answer, kept 24 hours under (form, webhook-id); an expired receipt TTL has not removed yet is replaced. */
function putReceipt(ctx: UseCaseContext, uow: UnitOfWork, opened: OpenedSubmission, answer: SubmissionAnswer): void {
  const nowSeconds = Math.floor(ctx.now.getTime() / 1000);
  uow.put(
    {
      ...receiptKey(opened.tenantId, opened.form.id, opened.webhookId),
      tenantId: opened.tenantId,
      entityType: 'FORMRCPT',
      formId: opened.form.id,
      webhookId: opened.webhookId,
      answer: JSON.stringify(answer),
      createdAt: ctx.now.toISOString(),
      expiresAt: nowSeconds + RECEIPT_TTL_SECONDS,
    },
    {
      condition: 'attribute_not_exists(PK) OR expiresAt < :nowSeconds',
      values: { ':nowSeconds': nowSeconds },
      onConditionFailed: () => new ReceiptExists(),
    },
  );
}
