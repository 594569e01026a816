/**
 * The event catalog: every domain event's type, schema version and payload schema.
 * An event is validated against its schema when it is recorded (in the same
 * transaction as the change) and again by consumers when they receive it.
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';

/** The catalog's ~60 payload schemas, built on first use (`eventCatalog()`): every function imports
 * the catalog, few need it at start-up (issue 11 point 6, docs/api-decisions.md "Lean bundles"). */
function buildCatalog() {
  const snapshot = z.looseObject({ id: z.string(), version: z.int() });
  const deleted = z.object({ id: z.string() });
  /** Who owned the record at the moment of the event, and that owner's team. */
  const ownership = { ownerId: z.nullable(z.string()), ownerTeamId: z.nullable(z.string()) };
  const updated = z.object({ before: snapshot, after: snapshot, changed: z.array(z.string()) });
  const quoteFacts = {
    opportunityId: z.string(),
    accountId: z.string(),
    status: z.enum(['draft', 'sent', 'accepted', 'rejected']),
    currency: z.string(),
    total: z.number(),
  };
  const pipelineStage = z.object({ id: z.string(), name: z.string(), probability: z.int(), kind: z.enum(['open', 'won', 'lost']) });
  /** What every opportunity event says about the opportunity as it now is. */
  const opportunityFacts = {
    accountId: z.string(),
    pipelineId: z.string(),
    stageId: z.string(),
    status: z.enum(['open', 'stalled', 'won', 'lost']),
    amount: z.number(),
    currency: z.string(),
    probability: z.int(),
    ownerId: z.nullable(z.string()),
  };
  /** Who a campaign email went to: the recipient's address and the contact or lead it was sent for. */
  const emailRecipient = {
    campaignId: z.string(),
    email: z.string(),
    contactId: z.optional(z.string()),
    leadId: z.optional(z.string()),
  };
  /** What every ticket event says about the ticket as it now is (api/service.md "Tickets"). */
  const ticketFacts = z.extend(snapshot, {
    number: z.int(),
    priority: z.enum(['low', 'normal', 'high', 'urgent']),
    status: z.enum(['new', 'open', 'pending', 'solved', 'closed']),
    accountId: z.nullable(z.string()),
    contactId: z.nullable(z.string()),
    requesterEmail: z.nullable(z.string()),
    assigneeId: z.nullable(z.string()),
    ownerId: z.nullable(z.string()),
  });
  /** A quote's status change: the quote as it now is and the status it left. */
  const quoteTransition = { ...quoteFacts, from: z.enum(['draft', 'sent']), note: z.optional(z.string()) };

  const providerEvent = {
    messageId: z.string(),
    email: z.string(),
    campaignId: z.optional(z.string()),
    recipientId: z.optional(z.string()),
    source: z.string(),
  };

  return {
    /** v2: with the owner's team, as every record snapshot now carries it (analytics attribute by it). */
    'account.created': { version: 2, data: z.extend(snapshot, ownership) },
    'account.updated': { version: 1, data: updated },
    'account.deleted': { version: 1, data: deleted },
    /**
     * The target absorbed the source (domain/accounts/merge.ts): the source is gone (this is its
     * end of life: no `account.deleted`), `source` is its last state. Each moved child emitted its
     * own `<kind>.updated`, and the target its `account.updated`, in the merge's transactions.
     */
    'account.merged': { version: 1, data: z.object({ targetId: z.string(), sourceId: z.string(), source: z.nullable(snapshot) }) },
    // The public pool (domain/pool/): each carries the account as it now is.
    /** Released to the pool by the rules (`rule`, `days`) or by hand (`manual`, `reason`); `prevOwnerId` is who lost it. */
    /** v2: `prevOwnerTeamId`, the team the account left (the analytics' `pool.released`). */
    'account.released': {
      version: 2,
      data: z.extend(snapshot, {
        prevOwnerId: z.string(),
        prevOwnerTeamId: z.nullable(z.string()),
        rule: z.enum(['no_follow_up', 'not_won', 'manual']),
        days: z.nullable(z.int()),
        reason: z.optional(z.string()),
        releasedAt: z.string(),
        releasedBy: z.string(),
      }),
    },
    /** v2: `ownerTeamId`, the claimer's (assignee's) team, for the analytics' `pool.claimed`. */
    'account.claimed': { version: 2, data: z.extend(snapshot, { ...ownership, claimedBy: z.string(), prevOwnerId: z.nullable(z.string()) }) },
    'account.assigned': { version: 2, data: z.extend(snapshot, { ...ownership, assigneeId: z.string(), assignedBy: z.string() }) },
    'account.locked': { version: 1, data: snapshot },
    'account.unlocked': { version: 1, data: snapshot },
    /** An admin replaced the tenant's pool rules. */
    'pool.rules_updated': { version: 1, data: z.object({ before: z.looseObject({ version: z.int() }), after: z.looseObject({ version: z.int() }) }) },
    'contact.created': { version: 1, data: snapshot },
    'contact.updated': { version: 1, data: updated },
    'contact.deleted': { version: 1, data: deleted },
    'activity.logged': {
      version: 1,
      data: z.extend(snapshot, { type: z.string(), occurredAt: z.string(), accountId: z.optional(z.string()) }),
    },
    'activity.updated': { version: 1, data: updated },
    'activity.deleted': { version: 1, data: deleted },
    'task.created': { version: 1, data: z.extend(snapshot, { assigneeId: z.string(), dueAt: z.string() }) },
    'task.updated': { version: 1, data: updated },
    'task.completed': { version: 1, data: snapshot },
    'task.deleted': { version: 1, data: deleted },
    'lead.created': { version: 2, data: z.extend(snapshot, ownership) },
    'lead.updated': { version: 1, data: updated },
    'lead.deleted': { version: 1, data: deleted },
    /** The converted lead as it now is, and what the conversion made or attached it to. */
    /** v2: with the owner and its team (the analytics' `convertedLeads`). */
    'lead.converted': {
      version: 2,
      data: z.extend(snapshot, {
        ...ownership,
        accountId: z.string(),
        contactId: z.string(),
        opportunityId: z.optional(z.string()),
        accountCreated: z.boolean(),
        convertedAt: z.string(),
      }),
    },
    // Pipelines and opportunities (domain/sales): amounts in major units, as clients see them.
    'pipeline.created': { version: 1, data: z.extend(snapshot, { name: z.string(), isDefault: z.boolean(), stages: z.array(pipelineStage) }) },
    /** `removedStageIds`: stages the change deleted (each had no opportunity). */
    'pipeline.updated': { version: 1, data: z.extend(updated, { removedStageIds: z.array(z.string()), addedStageIds: z.array(z.string()) }) },
    'pipeline.deleted': { version: 1, data: deleted },
    'opportunity.created': { version: 1, data: z.extend(snapshot, opportunityFacts) },
    'opportunity.updated': { version: 1, data: updated },
    'opportunity.deleted': { version: 1, data: z.extend(deleted, { accountId: z.string(), status: z.enum(['open', 'won', 'lost']) }) },
    /** A move between stages (a creation is not one: see `opportunity.created`). */
    'opportunity.stageChanged': {
      version: 1,
      data: z.extend(snapshot, {
        ...opportunityFacts,
        fromPipelineId: z.string(),
        fromStageId: z.string(),
        toStageId: z.string(),
        fromStatus: z.enum(['open', 'won', 'lost']),
        toStatus: z.enum(['open', 'won', 'lost']),
        /** Seconds the opportunity spent in the stage it left. */
        secondsInStage: z.int(),
      }),
    },
    /** Entered a won stage (by a move, or created in one). */
    'opportunity.won': { version: 1, data: z.extend(snapshot, { ...opportunityFacts, closedAt: z.string() }) },
    /** Entered a lost stage (by a move, or created in one). */
    'opportunity.lost': { version: 1, data: z.extend(snapshot, { ...opportunityFacts, closedAt: z.string(), lostReason: z.string() }) },
    // Quotes, orders, payments, targets (domain/sales): amounts in major units, as clients see them.
    'quote.created': { version: 1, data: z.extend(snapshot, quoteFacts) },
    'quote.updated': { version: 1, data: updated },
    'quote.deleted': { version: 1, data: deleted },
    'quote.sent': { version: 1, data: z.extend(snapshot, quoteTransition) },
    'quote.accepted': { version: 1, data: z.extend(snapshot, quoteTransition) },
    'quote.rejected': { version: 1, data: z.extend(snapshot, quoteTransition) },
    'order.created': {
      version: 1,
      data: z.extend(snapshot, {
        accountId: z.string(),
        opportunityId: z.optional(z.string()),
        quoteId: z.optional(z.string()),
        amount: z.number(),
        currency: z.string(),
        signedAt: z.string(),
        ownerId: z.nullable(z.string()),
      }),
    },
    'order.updated': { version: 1, data: updated },
    'order.deleted': { version: 1, data: deleted },
    /**
     * A payment (回款) and the order's totals right after it. `id`/`version` are the payment's.
     * v2: `ownerId`/`ownerTeamId`, the order's owner when it was received (who it is credited to).
     */
    'payment.received': {
      version: 2,
      data: z.extend(snapshot, {
        ...ownership,
        orderId: z.string(),
        accountId: z.string(),
        amount: z.number(),
        currency: z.string(),
        receivedAt: z.string(),
        collectedAmount: z.number(),
        outstandingAmount: z.number(),
        paymentStatus: z.enum(['unpaid', 'partial', 'paid']),
        orderVersion: z.int(),
      }),
    },
    // Campaign tracking (marketing.md "Public routes"): a recipient opened a campaign's email or clicked a link in it.
    // Added by the workflows branch with the payload agreed with the campaigns branch (which emits them).
    // The campaigns branch adds the recipient and the moment (`first`: the recipient's first click; an open is emitted on the first only).
    'email.opened': { version: 1, data: z.object({ ...emailRecipient, recipientId: z.optional(z.string()), openedAt: z.optional(z.string()) }) },
    'email.clicked': {
      version: 1,
      data: z.object({ ...emailRecipient, url: z.string(), recipientId: z.optional(z.string()), clickedAt: z.optional(z.string()), first: z.optional(z.boolean()) }),
    },
    // Knowledge base (domain/service/kb.ts): the article without its body (an event stays far below
    // EventBridge's 256 KB whatever the body); the search index consumer reads the body itself.
    'kb.article.created': { version: 1, data: z.extend(snapshot, { status: z.enum(['draft', 'published']) }) },
    'kb.article.updated': { version: 1, data: updated },
    'kb.article.deleted': { version: 1, data: deleted },
    // Tickets (domain/service/): each carries the ticket as it now is (ownerId: its assignee).
    'ticket.created': { version: 1, data: ticketFacts },
    /** `before`/`after` are the ticket's facts; a merge moving the ticket to another account says so with `changed: ["accountId"]`. */
    'ticket.updated': { version: 1, data: updated },
    /** Solved; `firstSolve`: the first time (what sends the CSAT survey). */
    'ticket.solved': { version: 1, data: z.extend(ticketFacts, { solvedAt: z.string(), firstSolve: z.boolean() }) },
    /** A clock's target was missed: recorded by the sla-escalation job, or by the late response or solve itself. */
    'ticket.sla_breached': { version: 1, data: z.extend(ticketFacts, { clock: z.enum(['firstResponse', 'resolution']), dueAt: z.string() }) },
    /** The requester answered the ticket's CSAT survey (once; api/service.md "Satisfaction surveys"). */
    'ticket.csat_answered': { version: 1, data: z.extend(ticketFacts, { score: z.int(), answeredAt: z.string() }) },
    // NPS surveys (domain/service/surveys-nps.ts).
    'survey.created': { version: 1, data: z.extend(snapshot, { name: z.string(), segmentId: z.string() }) },
    /** `/send`: the next campaign-dispatch run mails the segment. */
    'survey.sent': { version: 1, data: z.extend(snapshot, { segmentId: z.string() }) },
    /** One recipient's answer (once). */
    'survey.answered': { version: 1, data: z.object({ surveyId: z.string(), recipientId: z.string(), score: z.int(), answeredAt: z.string() }) },
    'ticket.commented': {
      version: 1,
      data: z.extend(ticketFacts, { comment: z.object({ id: z.string(), public: z.boolean(), authorId: z.string(), createdAt: z.string() }) }),
    },
    /** A target set or changed; `previousAmount` is null for a new one. */
    'target.set': {
      version: 1,
      data: z.extend(snapshot, {
        period: z.string(),
        userId: z.optional(z.string()),
        teamId: z.optional(z.string()),
        amount: z.number(),
        currency: z.string(),
        previousAmount: z.nullable(z.number()),
        previousCurrency: z.nullable(z.string()),
      }),
    },
    // Campaigns (domain/marketing/): the campaign as it now is; status changes are `campaign.updated`.
    'campaign.created': { version: 1, data: z.extend(snapshot, { name: z.string(), status: z.string(), segmentId: z.string() }) },
    'campaign.updated': { version: 1, data: updated },
    'campaign.deleted': { version: 1, data: deleted },
    /** A permanent bounce or a complaint reported by the provider; the address is now suppressed. */
    'email.bounced': { version: 1, data: z.object({ ...providerEvent, bounceType: z.string() }) },
    'email.complained': { version: 1, data: z.object(providerEvent) },
    /** The person behind a campaign recipient unsubscribed (`/u/{token}`); `id` is the contact's or lead's. */
    'contact.unsubscribed': { version: 1, data: z.object({ id: z.string(), email: z.string(), campaignId: z.string(), unsubscribedAt: z.string() }) },
    'lead.unsubscribed': { version: 1, data: z.object({ id: z.string(), email: z.string(), campaignId: z.string(), unsubscribedAt: z.string() }) },
    /**
     * An inbound form's accepted submission (domain/integrations/forms.ts; a replay emits nothing):
     * the lead it created, or (`duplicate`) the existing lead or contact it was logged on; the note
     * activity holding its message, if any.
     */
    'form.submitted': {
      version: 1,
      data: z.object({
        formId: z.string(),
        webhookId: z.string(),
        source: z.string(),
        campaignId: z.nullable(z.string()),
        duplicate: z.boolean(),
        leadId: z.nullable(z.string()),
        contactId: z.nullable(z.string()),
        activityId: z.nullable(z.string()),
      }),
    },
    /** An admin made or deleted an API key (api/integrations.md): what the key is, never the key itself. */
    'apikey.created': {
      version: 1,
      data: z.extend(snapshot, { name: z.string(), role: z.string(), teamId: z.nullable(z.string()), prefix: z.string(), expiresAt: z.nullable(z.string()) }),
    },
    'apikey.deleted': { version: 1, data: deleted },
    /** A CSV import was accepted (api/integrations.md): the `imports` consumer starts its run. */
    'import.created': { version: 1, data: z.object({ id: z.string(), entity: z.enum(['accounts', 'contacts', 'leads']), total: z.int() }) },
  } as const;
}

type EventCatalog = ReturnType<typeof buildCatalog>;

/** The source name every domain event carries on the bus (here, not with the consumers: a publisher needs no consumer table). */
export const EVENT_SOURCE = 'crm';

/** Every event type's version and payload schema. */
export const eventCatalog: () => EventCatalog = builtOnFirstUse(buildCatalog);

export type EventType = keyof EventCatalog;
export type EventData<T extends EventType> = z.infer<EventCatalog[T]['data']>;

const buildEnvelope = () =>
  z.object({
    id: z.string(),
    type: z.string(),
    version: z.int(),
    tenantId: z.string(),
    occurredAt: z.string(),
    actor: z.object({ userId: z.string(), role: z.string() }),
    /** Which record the event is about, for consumers that key their effects by entity. */
    entity: z.object({ type: z.string(), id: z.string() }),
    data: z.unknown(),
  });
const eventEnvelope = builtOnFirstUse(buildEnvelope);

export type DomainEvent = z.infer<ReturnType<typeof buildEnvelope>>;

/** Validates an envelope and its payload against the catalog; throws on anything unknown. */
export function parseEvent(input: unknown): DomainEvent {
  const event = eventEnvelope().parse(input);
  const entry = eventCatalog()[event.type as EventType];
  if (!entry) throw new Error(`unknown event type ${event.type}`);
  if (entry.version !== event.version) throw new Error(`unsupported ${event.type} version ${event.version}`);
  return { ...event, data: entry.data.parse(event.data) };
}
