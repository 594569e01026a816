/**
 * The analytics consumer: a domain event → the subjects it changes → `applySubject`.
 *
 * For records that change (opportunities, orders, activities, targets) the consumer reads the
 * record as it is now (one consistent GetItem) and applies it at the record's version: any
 * event of the record brings the aggregates to its latest state, so duplicates and events
 * out of order are harmless by construction, and a deleted record contributes nothing. Facts
 * that never change (a payment, a creation, a conversion, a pool move) come from the event
 * itself, keyed by the record or the event id, at version 1.
 */
import { entityKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { cachedRules } from '#domain/pool/rules.ts';
import { targetKey } from '#domain/sales/target.ts';
import { toMinor } from '#domain/sales/money.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { applySubject, type Fact } from '#domain/analytics/aggregates.ts';
import { activityFacts, countFacts, opportunityFacts, orderFacts, paymentFacts, targetFacts } from '#domain/analytics/facts.ts';

type Item = Record<string, unknown>;

/** The version of a subject whose record is gone: nothing older can bring it back. */
export const GONE = Number.MAX_SAFE_INTEGER;

/** Every kind of subject the consumer keeps a contribution for (the rebuild sums them all). */
export const SUBJECT_KINDS = ['opportunity', 'order', 'payment', 'activity', 'target', 'account', 'lead', 'lead-converted', 'pool-move'] as const;

/** A changing record's subject id: its key. */
export const recordSubjectId = (key: { PK: string; SK: string }) => `${key.PK}/${key.SK}`;

/** Applies one event; true when it changed any figure. */
export async function applyEvent(event: DomainEvent): Promise<boolean> {
  const tenantId = event.tenantId;
  const { timeZone } = await cachedRules(tenantId);
  const data = event.data as Item;
  const id = String(data.id ?? event.entity.id);

  /** A record that changes: its current state, at its version. */
  const current = async (kind: string, key: { PK: string; SK: string }, factsOf: (item: Item) => Fact[]) => {
    const item = await getItem(key);
    const subject = { kind, id: recordSubjectId(key) };
    return item ? applySubject(tenantId, subject, Number(item.version), factsOf(item)) : applySubject(tenantId, subject, GONE, []);
  };
  /** A fact that never changes. */
  const once = (kind: string, subjectId: string, facts: Fact[]) => applySubject(tenantId, { kind, id: subjectId }, 1, facts);

  switch (event.type) {
    case 'opportunity.created':
    case 'opportunity.updated':
    case 'opportunity.deleted':
      return current('opportunity', entityKey(tenantId, 'OPPORTUNITY', id), (o) => opportunityFacts(o, timeZone));
    case 'order.created':
    case 'order.updated':
      return current('order', entityKey(tenantId, 'ORDER', id), (o) => orderFacts(o, timeZone));
    case 'payment.received': {
      const orderId = String(data.orderId);
      const payment = once('payment', id, paymentFacts({
        receivedAt: String(data.receivedAt),
        amountMinor: toMinor(Number(data.amount)) ?? 0,
        currency: String(data.currency),
        ownerId: (data.ownerId as string | null) ?? null,
        ownerTeamId: (data.ownerTeamId as string | null) ?? null,
      }, timeZone));
      const order = current('order', entityKey(tenantId, 'ORDER', orderId), (o) => orderFacts(o, timeZone));
      return (await Promise.all([payment, order])).some(Boolean);
    }
    case 'activity.logged':
    case 'activity.updated':
    case 'activity.deleted':
      return current('activity', entityKey(tenantId, 'ACTIVITY', id), (a) => activityFacts(a, timeZone));
    case 'target.set': {
      const subject = typeof data.userId === 'string' ? { userId: data.userId } : { teamId: String(data.teamId) };
      return current('target', targetKey(tenantId, String(data.period), subject), targetFacts);
    }
    case 'account.created':
      return once('account', id, countFacts('acc_n', String(data.createdAt), owner(data), team(data), timeZone));
    case 'lead.created':
      return once('lead', id, countFacts('lead_n', String(data.createdAt), owner(data), team(data), timeZone));
    case 'lead.converted':
      return once('lead-converted', id, countFacts('lconv_n', String(data.convertedAt), owner(data), team(data), timeZone));
    case 'account.released':
      return once('pool-move', event.id, countFacts('pool_rel', String(data.releasedAt), String(data.prevOwnerId), (data.prevOwnerTeamId as string | null) ?? null, timeZone));
    case 'account.claimed':
      return once('pool-move', event.id, countFacts('pool_clm', event.occurredAt, String(data.claimedBy), team(data), timeZone));
    case 'account.assigned':
      return once('pool-move', event.id, countFacts('pool_clm', event.occurredAt, String(data.assigneeId), team(data), timeZone));
    default:
      return false;
  }
}

const owner = (data: Item) => (typeof data.ownerId === 'string' ? data.ownerId : null);
const team = (data: Item) => (typeof data.ownerTeamId === 'string' ? data.ownerTeamId : null);
