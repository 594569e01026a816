/**
 * One sentence per event type, for `GET /v1/webhooks/event-types` (api/integrations.md). Kept
 * beside the catalog rather than in it so that its entries stay one schema each; the type makes a
 * catalog entry without a description a compile error.
 */
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { eventCatalog, type EventType } from '#events/catalog.ts';

export const eventDescriptions = {
  'account.created': 'An account (customer) was created.',
  'account.updated': 'An account changed: its state before and after, and the fields that changed.',
  'account.deleted': 'An account was deleted.',
  'account.merged': 'An account absorbed another (the source is gone; its children moved to the target).',
  'account.released': 'An account went to the public pool, by the pool rules or by hand.',
  'account.claimed': 'A user claimed an account from the public pool.',
  'account.assigned': 'An account of the public pool was assigned to a user.',
  'account.locked': 'An account was locked: the pool rules never release it.',
  'account.unlocked': 'An account was unlocked.',
  'pool.rules_updated': 'An admin replaced the tenant\'s public pool rules.',
  'contact.created': 'A contact was created.',
  'contact.updated': 'A contact changed.',
  'contact.deleted': 'A contact was deleted.',
  'activity.logged': 'A follow-up (call, meeting, email, visit, note) was logged.',
  'activity.updated': 'A follow-up changed.',
  'activity.deleted': 'A follow-up was deleted.',
  'task.created': 'A task was created.',
  'task.updated': 'A task changed.',
  'task.completed': 'A task was marked done.',
  'task.deleted': 'A task was deleted.',
  'lead.created': 'A lead was created.',
  'lead.updated': 'A lead changed.',
  'lead.deleted': 'A lead was deleted.',
  'lead.converted': 'A lead was converted into an account, a contact and possibly an opportunity.',
  'pipeline.created': 'A sales pipeline was created.',
  'pipeline.updated': 'A sales pipeline or its stages changed.',
  'pipeline.deleted': 'A sales pipeline was deleted.',
  'opportunity.created': 'An opportunity was created.',
  'opportunity.updated': 'An opportunity changed.',
  'opportunity.deleted': 'An opportunity was deleted.',
  'opportunity.stageChanged': 'An opportunity moved from one stage to another.',
  'opportunity.won': 'An opportunity entered a won stage.',
  'opportunity.lost': 'An opportunity entered a lost stage.',
  'quote.created': 'A quote was created on an opportunity.',
  'quote.updated': 'A quote changed.',
  'quote.deleted': 'A quote was deleted.',
  'quote.sent': 'A quote was sent to the customer.',
  'quote.accepted': 'A quote was accepted.',
  'quote.rejected': 'A quote was rejected.',
  'order.created': 'An order (contract) was created.',
  'order.updated': 'An order changed.',
  'order.deleted': 'An order was deleted.',
  'payment.received': 'A payment was recorded against an order; carries the order\'s totals right after it.',
  'email.opened': 'A recipient opened a campaign email.',
  'email.clicked': 'A recipient clicked a link in a campaign email.',
  'email.bounced': 'A campaign email bounced permanently; the address is now suppressed.',
  'email.complained': 'A recipient marked a campaign email as spam; the address is now suppressed.',
  'contact.unsubscribed': 'A contact unsubscribed from campaign email.',
  'lead.unsubscribed': 'A lead unsubscribed from campaign email.',
  'kb.article.created': 'A knowledge-base article was created.',
  'kb.article.updated': 'A knowledge-base article changed.',
  'kb.article.deleted': 'A knowledge-base article was deleted.',
  'ticket.created': 'A ticket was created.',
  'ticket.updated': 'A ticket changed.',
  'ticket.solved': 'A ticket was solved.',
  'ticket.commented': 'A comment was added to a ticket.',
  'ticket.sla_breached': 'A ticket missed an SLA target (first response or resolution).',
  'ticket.csat_answered': 'A requester answered a ticket\'s satisfaction survey.',
  'survey.created': 'An NPS survey was created.',
  'survey.sent': 'An NPS survey was sent to its segment.',
  'survey.answered': 'A recipient answered an NPS survey.',
  'target.set': 'A sales target was set or changed.',
  'campaign.created': 'A campaign was created.',
  'campaign.updated': 'A campaign changed (including its status).',
  'campaign.deleted': 'A campaign was deleted.',
  'form.submitted': 'A signed submission of an inbound form was accepted: a new lead, or a note on the record it duplicates.',
  'apikey.created': 'An admin created an API key (its id, name, role and team; never the key).',
  'apikey.deleted': 'An admin deleted an API key; it stops working.',
  'import.created': 'A CSV import was started (its entity, row count and duplicate mode); it runs in the background.',
} satisfies Record<EventType, string>;

export interface EventTypeInfo {
  type: EventType;
  version: number;
  description: string;
}

/** Every event type the API emits, in name order (the catalog is built on the first call, not at load). */
export const eventTypes: () => EventTypeInfo[] = builtOnFirstUse(() =>
  (Object.keys(eventDescriptions) as EventType[])
    .sort()
    .map((type) => ({ type, version: eventCatalog()[type].version, description: eventDescriptions[type] })),
);

// The descriptions have exactly the catalog's keys (their type says so), without building its schemas.
export const isEventType = (type: string): type is EventType => Object.hasOwn(eventDescriptions, type);
