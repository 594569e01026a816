/**
 * The workflows' `sendEmail` action (marketing.md "Workflows"): one mail to the run's subject
 * (a contact or a lead), its merge tags rendered as in campaigns, from the tenant's marketing
 * `fromAddress`; nothing is sent to a subject without an address or to a suppressed one.
 *
 * AT MOST ONCE per (run key, action index), however often the run is retried: a mail send is
 * not a table write, so no idempotency record can share its transaction. Instead a claim item
 * (`mailClaimKey`) is Put `sending` BEFORE the provider call, conditioned on not existing (as the
 * campaign dispatch claims a recipient `queued → sending`), then turned `sent` or `failed`:
 *   - a claim found `sent` (or still `sending`: another attempt is in flight, or died after
 *     the provider call with the outcome unknown) → nothing is sent again;
 *   - a claim found `failed` → the run fails again with the recorded refusal;
 *   - a provider error worth another try → the claim is released (conditioned on this
 *     attempt's own claim) and the error thrown, so the consumer or runner retries the run.
 * An attempt that dies between its claim and the release leaves the claim `sending`: that mail is
 * never sent (never twice is the rule that wins).
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DomainError } from '#domain/errors.ts';
import { MailRefused, sendMail } from '#domain/mail/mailer.ts';
import { fieldDefinitions, visibleCustom } from '#domain/marketing/custom-fields.ts';
import { renderTemplate, type MergeValues } from '#domain/marketing/merge-tags.ts';
import { loadSettings } from '#domain/marketing/settings.ts';
import { normalizeEmail, suppressedAmong } from '#domain/marketing/suppressions.ts';
import { mailClaimKey, type Action, type SkippedAction, type SubjectType } from '#domain/marketing/workflow.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';

type Item = Record<string, unknown>;
type SendEmail = Extract<Action, { type: 'sendEmail' }>;

export interface MailRun {
  tenantId: string;
  runKey: string;
  workflowId: string;
  runId: string;
  now: Date;
}

const refused = (message: string) => new DomainError(422, 'workflow_action_refused', message);

/** Sends the action's mail to the subject (null: it is gone); answers why nothing was sent, if nothing was. */
export async function sendWorkflowEmail(
  run: MailRun,
  index: number,
  action: SendEmail,
  subject: { type: SubjectType; id: string },
  record: Item | null,
): Promise<SkippedAction['reason'] | undefined> {
  if (subject.type !== 'contact' && subject.type !== 'lead') throw refused(`sendEmail mails a contact or a lead; the subject is a ${subject.type}`);
  if (!record) throw refused(`the ${subject.type} ${subject.id} no longer exists`);
  const email = typeof record.email === 'string' && record.email.trim() ? record.email.trim() : undefined;
  if (!email) return 'no_email';
  if ((await suppressedAmong(run.tenantId, [email])).has(normalizeEmail(email))) return 'suppressed';

  // 1. The claim, before anything leaves.
  const key = mailClaimKey(run.tenantId, run.runKey, index);
  const claimId = randomUUID();
  try {
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...key, tenantId: run.tenantId, entityType: 'WFMAIL', workflowId: run.workflowId, runId: run.runId, to: email, status: 'sending', claimId, claimedAt: run.now.toISOString() },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const earlier = await getItem(key);
    if (earlier?.status === 'failed') throw refused(`the mail was refused: ${String(earlier.error)}`);
    return undefined; // sent, or in flight / outcome unknown: never twice
  }

  // 2. The mail, rendered for this subject.
  const values = await mergeValues(run.tenantId, subject.type, record, email);
  const settings = await loadSettings(run.tenantId);
  let messageId: string;
  try {
    ({ messageId } = await sendMail({
      tenantId: run.tenantId,
      from: { address: settings.fromAddress },
      to: email,
      subject: renderTemplate(action.subject, values, 'text'),
      html: renderTemplate(action.html, values, 'html'),
      ...(action.text !== undefined ? { text: renderTemplate(action.text, values, 'text') } : {}),
      headers: {},
      source: { kind: 'workflow', workflowId: run.workflowId, recipientId: run.runId },
    }));
  } catch (err) {
    if (err instanceof MailRefused) {
      await finish(key, claimId, { status: 'failed', error: err.message });
      throw refused(`the mail was refused: ${err.message}`);
    }
    // Worth another try: release the claim so the retried run sends it.
    await db
      .send(new DeleteCommand({ TableName: tableName(), Key: key, ConditionExpression: 'claimId = :c', ExpressionAttributeValues: { ':c': claimId } }))
      .catch((e: unknown) => {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      });
    throw err;
  }
  // 3. The outcome (a failure here leaves the claim `sending`: the mail is not sent again).
  await finish(key, claimId, { status: 'sent', messageId });
  return undefined;
}

async function finish(key: { PK: string; SK: string }, claimId: string, outcome: { status: 'sent'; messageId: string } | { status: 'failed'; error: string }): Promise<void> {
  const detail = outcome.status === 'sent' ? { ':d': outcome.messageId } : { ':d': outcome.error };
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key,
      UpdateExpression: `SET #s = :s, ${outcome.status === 'sent' ? 'messageId' : '#e'} = :d`,
      ConditionExpression: 'claimId = :c',
      ExpressionAttributeNames: { '#s': 'status', ...(outcome.status === 'failed' ? { '#e': 'error' } : {}) },
      ExpressionAttributeValues: { ':s': outcome.status, ':c': claimId, ...detail },
    }),
  );
}

/** The merge values of a contact (company: its account's name) or a lead (its company). */
async function mergeValues(tenantId: string, type: 'contact' | 'lead', record: Item, email: string): Promise<MergeValues> {
  let company: string | null = null;
  if (type === 'lead') company = typeof record.company === 'string' ? record.company : null;
  else if (typeof record.accountId === 'string') {
    const account = await getItem(entityKey(tenantId, 'ACCOUNT', record.accountId), false);
    company = typeof account?.name === 'string' ? account.name : null;
  }
  const defs = await fieldDefinitions(tenantId, type === 'contact' ? 'contacts' : 'leads');
  return {
    name: typeof record.name === 'string' ? record.name : null,
    email,
    company,
    owner: typeof record.ownerId === 'string' ? record.ownerId : null,
    custom: visibleCustom(defs, record.custom as Record<string, unknown> | undefined),
  };
}
