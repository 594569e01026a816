/**
 * What the public routes do (`/u/{token}`, `/t/o/{token}`, `/t/c/{token}`) and what the
 * provider's events do (bounce, complaint): each changes the recipient once, with its
 * counter in the same transaction and a condition that makes a repeat change nothing.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { notFound } from '#domain/errors.ts';
import { getItems } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { audience } from '#domain/marketing/audience.ts';
import { campaignKey, campaignStatsKey, recipientKey, recipientStatusPartition } from '#domain/marketing/keys.ts';
import { verifyToken, type TokenKind } from '#domain/marketing/tokens.ts';
import { trackableLinks } from '#domain/marketing/tracking-links.ts';

type Item = Record<string, unknown>;

export const PUBLIC_ACTOR = 'system:public';

/** The identity public writes are recorded under: no user, the token's tenant. */
export function systemContext(tenantId: string, now: Date, userId = PUBLIC_ACTOR): UseCaseContext {
  return { identity: { tenantId, userId, role: 'admin' }, now };
}

interface Target {
  tenantId: string;
  campaignId: string;
  recipientId: string;
  recipient: Item;
  campaign: Item;
  extra: string[];
}

/** The recipient a genuine token names; 404 for anything else (malformed, tampered, unknown). */
async function target(token: string, kind: TokenKind): Promise<Target> {
  const claims = verifyToken(token, kind);
  if (!claims) throw notFound('link');
  const [campaignId, recipientId, ...extra] = claims.ids;
  if (!campaignId || !recipientId) throw notFound('link');
  const [campaign, recipient] = await getItems([campaignKey(claims.tenantId, campaignId), recipientKey(claims.tenantId, campaignId, recipientId)]);
  if (!campaign || !recipient) throw notFound('link');
  return { tenantId: claims.tenantId, campaignId, recipientId, recipient, campaign, extra };
}

const subject = (t: Target) => ({
  campaignId: t.campaignId,
  recipientId: t.recipientId,
  email: String(t.recipient.email),
  ...(t.recipient.contactId ? { contactId: String(t.recipient.contactId) } : {}),
  ...(t.recipient.leadId ? { leadId: String(t.recipient.leadId) } : {}),
});

/** Sets `field` on the recipient and counts it, in `uow`; the commit fails with `alreadySet()` when it was already set. */
function firstTime(uow: UnitOfWork, t: Target, field: string, stat: string, at: string, alreadySet: () => Error = () => new AlreadyDone()): void {
  uow.update(
    recipientKey(t.tenantId, t.campaignId, t.recipientId),
    { expression: 'SET #f = :at', names: { '#f': field }, values: { ':at': at } },
    { condition: 'attribute_not_exists(#f)', names: { '#f': field }, onConditionFailed: alreadySet },
  );
  uow.update(campaignStatsKey(t.tenantId, t.campaignId), { expression: 'ADD #n :one', names: { '#n': stat }, values: { ':one': 1 } });
}

class AlreadyDone extends Error {}

async function commitOnce(uow: UnitOfWork): Promise<boolean> {
  try {
    await uow.commit(null);
    return true;
  } catch (err) {
    if (err instanceof AlreadyDone) return false;
    throw err;
  }
}

/** Checks a token for the unsubscribe page (GET shows a confirmation; it changes nothing). */
export async function unsubscribeTarget(token: string): Promise<{ email: string }> {
  const t = await target(token, 'unsubscribe');
  return { email: String(t.recipient.email) };
}

/**
 * RFC 8058 one-click or the page's form: suppress the address, mark the recipient, count and emit
 * once, in ONE transaction, so a fault leaves all of it or none (never a suppression without its
 * count and event). What is done already (the address listed, the recipient marked) stays out of
 * it; an unsubscribe or suppression that lands between the reads and the commit fails a condition
 * (`VersionRace`) and the request reads again, so a repeat or a race changes nothing twice.
 */
export async function unsubscribe(token: string, now: Date): Promise<{ email: string }> {
  return retryOnVersionRace(undefined, async () => {
    const t = await target(token, 'unsubscribe');
    const email = String(t.recipient.email);
    const uow = new UnitOfWork(systemContext(t.tenantId, now));
    await audience().suppressWithin(uow, t.tenantId, email, { reason: 'unsubscribed', campaignId: t.campaignId, now });
    if (t.recipient.unsubscribedAt === undefined) {
      firstTime(uow, t, 'unsubscribedAt', 'unsubscribed', now.toISOString(), () => new VersionRace());
      const person = t.recipient.contactId ? { type: 'contact', id: String(t.recipient.contactId) } : t.recipient.leadId ? { type: 'lead', id: String(t.recipient.leadId) } : undefined;
      if (person) {
        uow.emit(person.type === 'contact' ? 'contact.unsubscribed' : 'lead.unsubscribed', person, {
          id: person.id,
          email,
          campaignId: t.campaignId,
          unsubscribedAt: now.toISOString(),
        });
      }
    }
    if (uow.size > 0) await uow.commit(null);
    return { email };
  });
}

export async function recordOpen(token: string, now: Date): Promise<void> {
  const t = await target(token, 'open');
  const uow = new UnitOfWork(systemContext(t.tenantId, now));
  firstTime(uow, t, 'openedAt', 'opened', now.toISOString());
  uow.emit('email.opened', { type: 'campaign', id: t.campaignId }, { ...subject(t), openedAt: now.toISOString() });
  await commitOnce(uow);
}

/** The link's original URL, from the campaign's own html; records the click. */
export async function recordClick(token: string, now: Date): Promise<string> {
  const t = await target(token, 'click');
  const index = Number(t.extra[0]);
  const url = Number.isInteger(index) && index >= 0 ? trackableLinks(String(t.campaign.html))[index] : undefined;
  if (!url || !/^https?:\/\//i.test(url)) throw notFound('link');
  const at = now.toISOString();
  const ctx = systemContext(t.tenantId, now);
  const first = new UnitOfWork(ctx);
  firstTime(first, t, 'clickedAt', 'clicked', at);
  first.emit('email.clicked', { type: 'campaign', id: t.campaignId }, { ...subject(t), url, clickedAt: at, first: true });
  if (!(await commitOnce(first))) {
    await new UnitOfWork(ctx).emit('email.clicked', { type: 'campaign', id: t.campaignId }, { ...subject(t), url, clickedAt: at, first: false }).commit(null);
  }
  return url;
}

// ---------------------------------------------------------------------------------------
// Provider events: SES's consumer in the cloud, `POST /_local/mail/events` locally.

export interface MailEvent {
  tenantId: string;
  type: 'bounce' | 'complaint' | 'delivery';
  bounceType?: 'Permanent' | 'Transient' | string;
  messageId: string;
  email: string;
  source: { kind: string; campaignId?: string; recipientId?: string };
}

/**
 * A permanent bounce suppresses the address (`bounced`) and marks the campaign recipient
 * `bounced`; a complaint suppresses it (`complained`) and marks it `complained`; a
 * transient bounce and a delivery change nothing. Applying one twice changes nothing more.
 */
export async function applyMailEvent(event: MailEvent, now: Date): Promise<{ applied: boolean }> {
  if (event.type === 'delivery' || (event.type === 'bounce' && event.bounceType !== 'Permanent')) return { applied: false };
  const reason = event.type === 'bounce' ? 'bounced' : 'complained';
  const { campaignId, recipientId } = event.source;
  await audience().suppress(event.tenantId, event.email, { reason, ...(campaignId ? { campaignId } : {}), now });
  const ctx = systemContext(event.tenantId, now, 'system:mail-events');
  const uow = new UnitOfWork(ctx);
  const data = { messageId: event.messageId, email: event.email, source: event.source.kind, ...(campaignId ? { campaignId } : {}), ...(recipientId ? { recipientId } : {}) };
  if (campaignId && recipientId) {
    // From `sent` (or, for a complaint, `bounced`) only: a second delivery of the event finds it moved.
    const from = reason === 'bounced' ? ['sent'] : ['sent', 'bounced'];
    uow.update(
      recipientKey(event.tenantId, campaignId, recipientId),
      {
        expression: 'SET #s = :to, parentPk = :pk, #at = :now',
        names: { '#s': 'status', '#at': `${reason}At` },
        values: { ':to': reason, ':pk': recipientStatusPartition(event.tenantId, campaignId, reason), ':now': now.toISOString() },
      },
      {
        condition: `#s IN (${from.map((_s, i) => `:from${i}`).join(', ')})`,
        values: Object.fromEntries(from.map((s, i) => [`:from${i}`, s])),
        onConditionFailed: () => new AlreadyDone(),
      },
    );
    uow.update(campaignStatsKey(event.tenantId, campaignId), { expression: 'ADD #n :one', names: { '#n': reason }, values: { ':one': 1 } });
  }
  if (reason === 'bounced') uow.emit('email.bounced', { type: 'email', id: event.messageId }, { ...data, bounceType: String(event.bounceType) });
  else uow.emit('email.complained', { type: 'email', id: event.messageId }, data);
  return { applied: await commitOnce(uow) };
}
