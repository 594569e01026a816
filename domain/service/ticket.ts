/**
 * The ticket (工单): its shape, input rules, keys and the view clients get (api/service.md "Tickets").
 *
 * Stored beside what clients see: the SLA policy in force when it was created (`slaPolicy`:
 * targets, calendar and `warnBeforeMinutes`, so a priority change or a pause is computed with
 * that policy whatever the tenant's policy is now), the business time paused so far
 * (`slaPausedMs`), and when it was first solved (`firstSolvedAt`). None of them is in the view.
 *
 * Keys (docs/access-patterns.md "Service: tickets"):
 *   - table `T#t#TICKET#<id>` / `TICKET` (the record), its comments beside it
 *     (`TKTCOMMENT#<commentId>`) and its SLA due item (`SLA`, domain/service/sla-escalation.ts);
 *   - `byParent` the account collection, rank 5 (`5#TICKET#<id>`) while not closed, so Customer 360
 *     reads it with the rest; a closed ticket sorts past the range it reads (`8#TICKET#<id>`);
 *   - `byOwner` `T#t#TICKET#OWNER#<assigneeId>` or, unassigned, `T#t#TICKET#QUEUE` (the queue), sort key the id;
 *   - `byTeam` `T#t#TICKET#ACCOUNT#<accountId>`, sort key the id: every ticket of one account (closed too);
 *   - `byType` `T#t#TICKET`, sort key the id: the tenant's tickets. Ids are ULIDs: newest first is a backward Query.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, rank, stripKeys, t, typePartition } from '#domain/table/keys.ts';
import { SLA_PRIORITIES, type SlaPolicy, type SlaPriority } from '#domain/service/business-hours.ts';

export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const TICKET_TYPES = ['question', 'incident', 'problem', 'complaint', 'request'] as const;
export const TICKET_CHANNELS = ['email', 'phone', 'web', 'chat', 'social'] as const;
export const TICKET_STATUSES = ['new', 'open', 'pending', 'solved', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];
export type TicketPriority = SlaPriority;
export type SlaClock = 'firstResponse' | 'resolution';
export const SLA_CLOCKS: SlaClock[] = ['firstResponse', 'resolution'];

/** Who may ever touch tickets (api/service.md "Roles": marketers get 403). */
export const TICKET_ROLES = ['admin', 'support', 'manager', 'rep'] as const;
/** Who sees every ticket and changes them. */
export const AGENT_ROLES = ['admin', 'support'] as const;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const fields = builtOnFirstUse(() => ({
  subject: f.name,
  description: z.optional(f.freeText),
  accountId: z.optional(f.id),
  contactId: z.optional(f.id),
  priority: z._default(z.enum(TICKET_PRIORITIES), 'normal'),
  type: z._default(z.enum(TICKET_TYPES), 'question'),
  channel: z._default(z.enum(TICKET_CHANNELS), 'web'),
  assigneeId: z.optional(f.id),
  tags: z._default(f.tags, []),
}));

export const ticketCreate = z.lazy(() => z.strictObject(fields()));
/** PATCH: `accountId` and `contactId` are fixed once created (a merge moves the ticket); `status` moves it. */
export const ticketPatch = z.lazy(() => {
  const { accountId: _a, contactId: _c, ...patchable } = fields();
  return f.patchOf({ ...patchable, status: z.enum(TICKET_STATUSES) }, ['description', 'assigneeId']);
});
export type TicketCreate = z.infer<typeof ticketCreate>;
export type TicketPatch = z.infer<typeof ticketPatch>;

export const commentCreate = z.lazy(() => z.strictObject({ body: f.text(1, 10_000), public: z._default(z.boolean(), true) }));
export type CommentCreate = z.infer<typeof commentCreate>;

export interface TicketSla {
  policy: TicketPriority;
  firstResponseDueAt: string;
  resolutionDueAt: string;
  firstResponseBreachedAt: string | null;
  resolutionBreachedAt: string | null;
  pausedSince: string | null;
}

export interface Csat {
  score: number;
  comment?: string;
  answeredAt: string;
}

/** The stored ticket. `ownerId` is the assignee (what a workflow's `"owner"` means for a ticket). */
export interface Ticket extends StoredRecord {
  number: number;
  subject: string;
  description?: string;
  accountId: string | null;
  contactId: string | null;
  priority: TicketPriority;
  type: (typeof TICKET_TYPES)[number];
  channel: (typeof TICKET_CHANNELS)[number];
  status: TicketStatus;
  assigneeId: string | null;
  tags: string[];
  requesterEmail?: string;
  firstRespondedAt: string | null;
  solvedAt: string | null;
  closedAt: string | null;
  csat: Csat | null;
  sla: TicketSla;
  createdBy: string;
  // Internal: never in the view.
  slaPolicy: SlaPolicy;
  /** Business milliseconds the resolution clock has been stopped so far (pending, and solved before a reopen). */
  slaPausedMs: number;
  firstSolvedAt: string | null;
}

type Internal = 'slaPolicy' | 'slaPausedMs' | 'firstSolvedAt' | 'ownerId' | 'ownerTeamId';
export type TicketView = Omit<Ticket, Internal>;

export function presentTicket(ticket: Ticket): TicketView {
  const { slaPolicy: _p, slaPausedMs: _m, firstSolvedAt: _f, ownerId: _o, ownerTeamId: _t, ...view } = ticket;
  return view;
}

export const ticketOf = (item: Record<string, unknown>): Ticket => stripKeys<Ticket>(item);
export const ticketViewOfItem = (item: Record<string, unknown>): TicketView => presentTicket(ticketOf(item));

/** A ticket as clients see it (create, get, list, patch; Customer 360's `tickets`): `presentTicket`'s shape. */
export const ticketView = z.lazy(() =>
  z.object({
    id: f.out.id,
    number: z.int().check(z.describe('per tenant, 1, 2, 3… in creation order, never reused')),
    subject: f.out.subject,
    description: z.optional(f.out.text),
    accountId: z.nullable(f.out.id),
    contactId: z.nullable(f.out.id),
    priority: z.enum(TICKET_PRIORITIES),
    type: z.enum(TICKET_TYPES),
    channel: z.enum(TICKET_CHANNELS),
    status: z.enum(TICKET_STATUSES),
    assigneeId: z.nullable(f.out.id),
    tags: f.out.tags,
    requesterEmail: z.optional(f.out.email).check(z.describe("the contact's email")),
    firstRespondedAt: z.nullable(f.out.timestamp),
    solvedAt: z.nullable(f.out.timestamp),
    closedAt: z.nullable(f.out.timestamp),
    csat: z.nullable(z.object({ score: z.int(), comment: z.optional(f.out.text), answeredAt: f.out.timestamp })),
    sla: z.object({
      policy: z.enum(SLA_PRIORITIES).check(z.describe('the priority whose targets set the due times')),
      firstResponseDueAt: f.out.timestamp,
      resolutionDueAt: f.out.timestamp,
      firstResponseBreachedAt: z.nullable(f.out.timestamp),
      resolutionBreachedAt: z.nullable(f.out.timestamp),
      pausedSince: z.nullable(f.out.timestamp).check(z.describe('set while pending: the resolution clock is stopped')),
    }),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);

/** A comment of `POST` and `GET /v1/tickets/{id}/comments`. */
export const ticketCommentView = z.lazy(() =>
  z.object({
    id: f.out.id,
    ticketId: f.out.id,
    body: f.out.document,
    public: z.boolean().check(z.describe('false: internal, seen by support and admins only')),
    authorId: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);

/** What every ticket event says about the ticket (api/service.md: priority, status, account, contact, requester, assignee). */
export function ticketSnapshot(ticket: Ticket) {
  return { ...presentTicket(ticket), ownerId: ticket.assigneeId, ownerTeamId: null, requesterEmail: ticket.requesterEmail ?? null };
}

// ---------------------------------------------------------------------------------------
// Keys

export const ticketQueuePartition = (tenantId: string) => `${t(tenantId)}#TICKET#QUEUE`;
export const ticketAssigneePartition = (tenantId: string, assigneeId: string) => `${t(tenantId)}#TICKET#OWNER#${assigneeId}`;
export const ticketAccountPartition = (tenantId: string, accountId: string) => `${t(tenantId)}#TICKET#ACCOUNT#${accountId}`;
/** The per-tenant counter behind `number` (updated in the create transaction). */
export const ticketSequenceKey = (tenantId: string) => ({ PK: `${t(tenantId)}#TKTSEQ`, SK: 'TKTSEQ' });
/** A comment, beside its ticket. */
export const commentKey = (tenantId: string, ticketId: string, commentId: string) => ({ PK: `${t(tenantId)}#TICKET#${ticketId}`, SK: `TKTCOMMENT#${commentId}` });
export const COMMENT_PREFIX = 'TKTCOMMENT#';

export const ticketSpec: RecordSpec<Ticket> = {
  type: 'TICKET',
  noun: 'ticket',
  // Visibility is decided by domain/service/tickets.ts `canReadTicket` (through the account).
  readableAs: 'customer',
  events: { created: 'ticket.created', updated: 'ticket.updated', deleted: 'ticket.updated' },
  indexKeys: (tenantId, tk) => ({
    parentPk: tk.accountId ? accountCollection(tenantId, tk.accountId) : undefined,
    parentSk: tk.accountId ? `${tk.status === 'closed' ? rank.CLOSED : rank.TICKET}#TICKET#${tk.id}` : undefined,
    ownerPk: tk.assigneeId ? ticketAssigneePartition(tenantId, tk.assigneeId) : ticketQueuePartition(tenantId),
    ownerSk: tk.id,
    teamPk: tk.accountId ? ticketAccountPartition(tenantId, tk.accountId) : undefined,
    teamSk: tk.accountId ? tk.id : undefined,
    typePk: typePartition(tenantId, 'TICKET'),
    typeSk: tk.id,
  }),
};
