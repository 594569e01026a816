/**
 * CSAT (api/service.md "Satisfaction surveys"): one email when a ticket with a requester is
 * solved for the first time, and the one answer that sets the ticket's `csat`.
 *
 * SEND (consumer of `ticket.solved`). The invitation item `SURVRCPT#CSAT#<ticketId>` is written
 * with `attribute_not_exists(PK)` BEFORE the mail goes out: a second delivery of the event, a
 * reopen and a second solve, or two deliveries at once all find it and send nothing. The price
 * is at most once rather than at least once: a process killed between the write and the send
 * leaves the invitation `sending` and no mail (a lost survey is better than two).
 * A suppressed address gets an invitation `suppressed` and no mail.
 *
 * ANSWER. One transaction: the invitation (`attribute_not_exists(answeredAt)`: else 409), the
 * ticket (its version read, as every ticket write; `csat` set), `ticket.updated` and
 * `ticket.csat_answered` (counted by the service report).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DomainEvent } from '#events/catalog.ts';
import { notFound } from '#domain/errors.ts';
import { sendMail } from '#domain/mail/mailer.ts';
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import { loadSettings } from '#domain/marketing/settings.ts';
import { normalizeEmail, suppressedAmong } from '#domain/marketing/suppressions.ts';
import { systemContext } from '#domain/marketing/tracking.ts';
import { nextVersion, retryOnVersionRace } from '#domain/records.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItems } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { ticketOf, ticketSnapshot, type Csat } from '#domain/service/ticket.ts';
import { ticketWrites } from '#domain/service/tickets.ts';
import { alreadyAnswered, csatRecipientKey, surveyUrl, type SurveyAnswer } from '#domain/service/surveys.ts';

type Item = Record<string, unknown>;

export type CsatSendOutcome = 'sent' | 'suppressed' | 'failed' | 'skipped';

/** `ticket.solved` → the requester's one CSAT email. Idempotent (see the header). */
export async function sendCsatInvitation(event: DomainEvent): Promise<CsatSendOutcome> {
  if (event.type !== 'ticket.solved') return 'skipped';
  const data = event.data as { id: string; number: number; subject?: string; requesterEmail: string | null; firstSolve: boolean };
  if (!data.firstSolve || !data.requesterEmail) return 'skipped';
  const tenantId = event.tenantId;
  const email = normalizeEmail(data.requesterEmail);
  const suppressed = (await suppressedAmong(tenantId, [email])).has(email);
  const key = csatRecipientKey(tenantId, data.id);
  try {
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...key,
          tenantId,
          entityType: 'SURVRCPT',
          kind: 'csat',
          ticketId: data.id,
          ticketNumber: data.number,
          email,
          status: suppressed ? 'suppressed' : 'sending',
          createdAt: event.occurredAt,
          eventId: event.id,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return 'skipped';
    throw err;
  }
  if (suppressed) return 'suppressed';

  const settings = await loadSettings(tenantId);
  const url = surveyUrl({ tenantId, kind: 'csat', ticketId: data.id });
  const subject = `How did we do? Ticket #${data.number}`;
  const about = data.subject ? ` “${data.subject}”` : '';
  let outcome: { status: 'sent'; messageId: string } | { status: 'failed'; error: string };
  try {
    const { messageId } = await sendMail({
      tenantId,
      from: { address: settings.fromAddress },
      to: email,
      subject,
      html:
        `<p>Your ticket #${data.number}${escapeHtml(about)} has been solved.</p>` +
        `<p>How satisfied are you with the help you got? <a href="${escapeHtml(url)}">Rate it (1–5)</a></p>`,
      text: `Your ticket #${data.number}${about} has been solved.\nHow satisfied are you with the help you got? Rate it (1–5): ${url}\n`,
      headers: {},
      source: { kind: 'survey', recipientId: `csat:${data.id}` },
    });
    outcome = { status: 'sent', messageId };
  } catch (err) {
    outcome = { status: 'failed', error: (err as Error).message.slice(0, 500) };
  }
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: key,
      UpdateExpression: outcome.status === 'sent' ? 'SET #s = :s, messageId = :m, sentAt = :at' : 'SET #s = :s, #e = :m',
      ConditionExpression: '#s = :sending',
      ExpressionAttributeNames: { '#s': 'status', ...(outcome.status === 'failed' ? { '#e': 'error' } : {}) },
      ExpressionAttributeValues: {
        ':s': outcome.status,
        ':m': outcome.status === 'sent' ? outcome.messageId : outcome.error,
        ':sending': 'sending',
        ...(outcome.status === 'sent' ? { ':at': new Date().toISOString() } : {}),
      },
    }),
  );
  return outcome.status;
}

export interface CsatInvitation {
  ticketNumber: number;
  subject: string;
  answered: boolean;
}

async function load(tenantId: string, ticketId: string): Promise<{ invitation: Item; ticketItem: Item }> {
  const [invitation, ticketItem] = await getItems([csatRecipientKey(tenantId, ticketId), entityKey(tenantId, 'TICKET', ticketId)]);
  if (!invitation || !ticketItem) throw notFound('link');
  return { invitation, ticketItem };
}

/** What the form shows (GET /s/{token}); 404 when the invitation or its ticket is gone. */
export async function csatInvitation(tenantId: string, ticketId: string): Promise<CsatInvitation> {
  const { invitation, ticketItem } = await load(tenantId, ticketId);
  const ticket = ticketOf(ticketItem);
  return { ticketNumber: ticket.number, subject: ticket.subject, answered: invitation.answeredAt !== undefined || ticket.csat !== null };
}

/** The one answer: sets the ticket's `csat` (see the header). 409 `already_answered` on a second. */
export async function answerCsat(tenantId: string, ticketId: string, answer: SurveyAnswer, now: Date): Promise<Csat> {
  const ctx = systemContext(tenantId, now);
  const answeredAt = now.toISOString();
  const csat: Csat = { score: answer.score, ...(answer.comment !== undefined ? { comment: answer.comment } : {}), answeredAt };
  return retryOnVersionRace(undefined, async () => {
    const { invitation, ticketItem } = await load(tenantId, ticketId);
    const before = ticketOf(ticketItem);
    if (invitation.answeredAt !== undefined || before.csat !== null) throw alreadyAnswered();
    const next = nextVersion(ctx, before, { ...before, csat });
    const uow = new UnitOfWork(ctx).update(
      csatRecipientKey(tenantId, ticketId),
      { expression: 'SET answeredAt = :at, score = :score', values: { ':at': answeredAt, ':score': answer.score } },
      { condition: 'attribute_exists(PK) AND attribute_not_exists(answeredAt)', onConditionFailed: () => alreadyAnswered() },
    );
    ticketWrites(ctx, uow, before, next, []);
    uow.emit('ticket.csat_answered', { type: 'ticket', id: ticketId }, { ...ticketSnapshot(next), score: answer.score, answeredAt });
    return uow.commit(csat);
  });
}
