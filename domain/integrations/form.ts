/**
 * The inbound form (api/integrations.md "Inbound forms and webhooks"): a signed endpoint
 * `/in/forms/{id}` that a website posts to, turning each submission into a lead. Its shape,
 * input rules, keys, and the one place that reads and writes its signing secret.
 *
 * Keys:
 *   - the form: `T#t#FORM#<id>` / `FORM`, listed through `byType` `T#t#FORM` (sort key the id, a ULID);
 *   - its public pointer: `FORM#<id>` / `FORM` → `tenantId`. The public route's path names the
 *     form alone; this one tenant-free item says whose it is (written and deleted in the form's
 *     own transactions). The id is a ULID, unguessable enough for a URL that is public anyway:
 *     what proves a submission is the signature, never the id;
 *   - a submission's receipt: `T#t#FORMRCPT#<formId>#<sha256(webhook-id)>` / `FORMRCPT`, the
 *     first answer to that `webhook-id`, kept 24 hours (replays get it back).
 */
import { isSealed, open, seal, type SealContext } from '#domain/secrets/envelope.ts';
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { RotatingSecret } from '#domain/integrations/standard-webhooks.ts';
import { t } from '#domain/table/keys.ts';

type Item = Record<string, unknown>;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const fields = builtOnFirstUse(() => ({
  name: f.name,
  /** Copied onto every lead the form makes (`source` of leads). */
  source: f.shortText,
  /** Who its leads belong to: a user of the directory; none → the admin who created the form. */
  ownerId: z.optional(f.id),
  /** The campaign its leads count for (api/marketing.md stats). */
  campaignId: z.optional(f.id),
  /** Added to every lead's tags, with the submission's own. */
  tags: z._default(f.tags, []),
}));

export const formCreate = z.lazy(() => z.strictObject(fields()));
/** `null` clears `ownerId` (leads go to the form's creator again) and `campaignId`. */
export const formPatch = z.lazy(() => f.patchOf(fields(), ['ownerId', 'campaignId']));
export type FormCreate = z.infer<typeof formCreate>;
export type FormPatch = z.infer<typeof formPatch>;

export interface Form {
  id: string;
  name: string;
  source: string;
  ownerId: string | null;
  campaignId: string | null;
  tags: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** The form as the API shows it (`response:` of its routes): never its secret. */
const formViewObject = builtOnFirstUse(() =>
  z.object({
    id: f.out.id,
    name: f.out.name,
    source: f.out.name,
    ownerId: z.nullable(f.out.id),
    campaignId: z.nullable(f.out.id),
    tags: f.out.tags,
    /** Where the form posts: `/in/forms/{id}` on the API's own host. */
    url: f.out.url,
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);
export const formView = z.lazy(formViewObject);
export type FormView = z.infer<typeof formView>;

/** Create and rotate-secret answers: the view and the secret, shown this once. */
export const formWithSecret = z.lazy(() => z.extend(formViewObject(), { secret: f.out.code }));
export type FormWithSecret = z.infer<typeof formWithSecret>;

export const formUrl = (id: string) => `/in/forms/${id}`;
export const viewOf = (form: Form): FormView => ({ ...form, url: formUrl(form.id) });

/** What a submission's body may hold (the public route validates it strictly, after the signature). */
export const formSubmission = z.lazy(() =>
  z.strictObject({
    name: f.name,
    company: z.optional(f.name),
    email: z.optional(f.email),
    phone: z.optional(f.phone),
    message: z.optional(f.freeText),
    tags: z.optional(f.tags),
    custom: f.customValues,
  }),
);
export type FormSubmission = z.infer<typeof formSubmission>;

/**
 * The answer to an accepted submission, stored in its receipt: `201 {leadId}` for a new lead,
 * `200 {leadId?, contactId?, duplicate: true}` when it matched an existing lead or contact.
 */
export interface SubmissionAnswer {
  status: 200 | 201;
  body: { leadId?: string; contactId?: string; duplicate?: true };
}

/** What `POST /in/forms/{id}` answers: 201 `{leadId}` for a new lead, 200 with `duplicate: true` for an existing record. */
export const submissionAnswerView = z.lazy(() =>
  z.object({
    leadId: z.optional(f.out.id),
    contactId: z.optional(f.out.id),
    duplicate: z.optional(z.literal(true)),
  }),
);

export const formKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#FORM#${id}`, SK: 'FORM' });
export const formPartition = (tenantId: string) => `${t(tenantId)}#FORM`;
/** The tenant-free pointer the public route starts from. */
export const formPointerKey = (id: string) => ({ PK: `FORM#${id}`, SK: 'FORM' });
export const receiptKey = (tenantId: string, formId: string, webhookId: string) => ({
  PK: `${t(tenantId)}#FORMRCPT#${formId}#${createHash('sha256').update(webhookId).digest('base64url')}`,
  SK: 'FORMRCPT',
});

/** Receipts are kept as long as a replay is answered from them. */
export const RECEIPT_TTL_SECONDS = 24 * 60 * 60;

const FORM_FIELDS = ['id', 'name', 'source', 'ownerId', 'campaignId', 'tags', 'createdBy', 'createdAt', 'updatedAt', 'version'] as const;

/** The form's item (its secret added by `withSecret`). */
export function formItem(tenantId: string, form: Form): Item {
  return { ...form, ...formKey(tenantId, form.id), tenantId, entityType: 'FORM', typePk: formPartition(tenantId), typeSk: form.id };
}

/** The form of an item: its fields only (the secret and keys stay behind). */
export function formOf(item: Item): Form {
  return Object.fromEntries(FORM_FIELDS.map((k) => [k, item[k] ?? null])) as unknown as Form;
}

// ---- the signing secret: read and written here only ---------------------------------------
// Sealed under the CRM secrets key (domain/secrets/envelope.ts: a data key per item, bound to the
// tenant and `form/<id>`); the item holds no plaintext. An item written before sealing (a plain
// `{current}`) still reads, and is sealed on its next write.

const SECRET_ATTRIBUTE = 'signing';

/** The item with its signing secret (current and, during a rotation, previous). */
export async function withSecret(item: Item, secret: RotatingSecret): Promise<Item> {
  return { ...item, [SECRET_ATTRIBUTE]: await seal(secret, secretContext(item)) };
}

const secretContext = (item: Item): SealContext => ({ tenant: String(item.tenantId), resource: `form/${String(item.id)}` });

/** The signing secret stored on a form's item. */
export async function secretOf(item: Item): Promise<RotatingSecret> {
  const stored = item[SECRET_ATTRIBUTE];
  const s = (isSealed(stored) ? await open<RotatingSecret>(stored, secretContext(item)) : stored) as RotatingSecret | undefined;
  if (!s || typeof s.current !== 'string') throw new Error(`form ${String(item.id)} has no signing secret`);
  return s;
}
