/**
 * The registry of stored record kinds: `EntityType` → its `RecordSpec` (domain/records.ts),
 * for code that meets records it did not create and must treat them generically:
 *
 * - **Account merge** (domain/accounts/merge.ts) moves every item of the source account's
 *   collection (`byParent` `T#t#ACCOUNT#<id>`) other than the account itself to the target:
 *   it sets the record's `accountId`, recomputes the record's index keys with
 *   `spec.indexKeys`, bumps `version`/`updatedAt` and emits `spec.events.updated`. An item of
 *   a kind that is NOT registered here stops the merge with an error naming the kind, so a
 *   new child kind cannot be left behind silently. A child kind needs nothing more than a
 *   spec whose record has an `accountId` field and whose `indexKeys` derives its account
 *   keys from it (opportunities, quotes, orders…).
 * - **Duplicate search** (domain/accounts/duplicates.ts) reports the records holding a
 *   guard and shows `ownerId` only when the caller may open the record: `mayOpen` below,
 *   which is records.ts `readable(spec, …)` unless the kind registers its own rule in
 *   `openRules`.
 *
 * To register a kind: add ONE line to `recordSpecs` (and one to `openRules` when its
 * visibility is not `readable`). Nothing else reads this file's internals.
 */
import type { Identity } from '#domain/identity.ts';
import { readable, type RecordSpec, type StoredRecord } from '#domain/records.ts';
import type { EntityType } from '#domain/table/keys.ts';
import { accountSpec } from '#domain/accounts/account.ts';
import { activitySpec } from '#domain/accounts/activity.ts';
import { contactSpec } from '#domain/accounts/contact.ts';
import { canReadLead, leadSpec } from '#domain/sales/lead.ts';
import { canReadOpportunity, opportunitySpec } from '#domain/sales/opportunity.ts';
import { taskSpec } from '#domain/tasks/task.ts';
import { orderSpec } from '#domain/sales/order.ts';
import { quoteSpec } from '#domain/sales/quote.ts';
import { ticketSpec } from '#domain/service/ticket.ts';

/** A registry of every record shape. */
type AnySpec = RecordSpec<any>;

export const recordSpecs: Partial<Record<EntityType, AnySpec>> = {
  ACCOUNT: accountSpec,
  CONTACT: contactSpec,
  ACTIVITY: activitySpec,
  TASK: taskSpec,
  LEAD: leadSpec,
  OPPORTUNITY: opportunitySpec,
  QUOTE: quoteSpec,
  ORDER: orderSpec,
  TICKET: ticketSpec,
};

/** Kinds whose visibility is not records.ts `readable(spec, who, record)`. */
export const openRules: Partial<Record<EntityType, (who: Identity, record: StoredRecord) => boolean>> = {
  // Every role may open a pool account (API.md §6; the rule of domain/pool/pool.ts `mayOpenAccount`,
  // restated here so the duplicate search does not load the pool module).
  ACCOUNT: (who, record) => (record as { poolStatus?: string }).poolStatus === 'pool' || readable(accountSpec, who, record),
  LEAD: (who, record) => canReadLead(who, record),
  OPPORTUNITY: (who, record) => canReadOpportunity(who, record),
  // Tickets are opened through their account (domain/service/tickets.ts `canReadTicket`); no guard names one.
  TICKET: (who) => who.role === 'admin' || who.role === 'support',
};

/** The spec of a stored item's `entityType`, or undefined when no spec is registered for it. */
export function specOf(entityType: unknown): AnySpec | undefined {
  return typeof entityType === 'string' ? recordSpecs[entityType as EntityType] : undefined;
}

/** May `who` open this record of this kind? False for a kind nobody registered. */
export function mayOpen(entityType: EntityType, who: Identity, record: StoredRecord): boolean {
  const rule = openRules[entityType];
  if (rule) return rule(who, record);
  const spec = recordSpecs[entityType];
  return spec ? readable(spec, who, record) : false;
}
