/**
 * Ticket use cases (api/service.md "Tickets"): create with a per-tenant `number`, read, change
 * (status machine, assignment, priority), comments, lists.
 *
 * WHO. Support and admins: every ticket. Managers and reps: the tickets of the accounts they
 * hold (owner, or the owner's team for a manager; a pool account is nobody's), read-only but for
 * comments (public ones); a ticket without an account is support's. Marketers: 403.
 *
 * CREATE is one BatchGetItem (the policy, the counter, the account, the contact, the assignee's
 * directory entry) and ONE transaction: the counter moves from the value read to the next
 * (`n = :read`), the ticket, its SLA due item, its `ticket.created` event and the assignee's
 * `ticket.assigned` notification. Two creates at the same moment read the same counter: one
 * lands, the other re-reads the counter (GetItem) and tries the next number.
 */
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, forbidden, notFound, validationFailed } from '#domain/errors.ts';
import { canSee, requireRole, type Identity } from '#domain/identity.ts';
import { checkIfMatch, fromItem, mergePatch, nextVersion, readable, retryOnVersionRace, toItem, unchanged, VersionRace } from '#domain/records.ts';
import { entityKey, stripKeys, typePartition } from '#domain/table/keys.ts';
import { getItem, getItems, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import type { Account } from '#domain/accounts/account.ts';
import { contactSpec, type Contact } from '#domain/accounts/contact.ts';
import { addNotification, derivedId } from '#domain/notifications/notifications.ts';
import { policyFromItem, policyOnly, slaPolicyKey } from '#domain/service/sla-policy.ts';
import { evolveSla, initialSla, type Breach } from '#domain/service/sla-clock.ts';
import { slaDueWrites } from '#domain/service/sla-escalation.ts';
import type { ArticleSummary } from '#domain/service/kb-article.ts';
import { suggestArticles } from '#domain/service/kb-search.ts';
import {
  AGENT_ROLES,
  COMMENT_PREFIX,
  commentKey,
  ticketAccountPartition,
  ticketAssigneePartition,
  ticketOf,
  ticketQueuePartition,
  ticketSequenceKey,
  ticketSnapshot,
  ticketSpec,
  presentTicket,
  TICKET_ROLES,
  type CommentCreate,
  type Ticket,
  type TicketCreate,
  type TicketPatch,
  type TicketPriority,
  type TicketStatus,
  type TicketView,
} from '#domain/service/ticket.ts';

type Item = Record<string, unknown>;

const isAgent = (who: Identity) => (AGENT_ROLES as readonly string[]).includes(who.role);
const accountOf = (item: Item): Account => ({ ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null });

/** May `who` open this ticket, given its account as stored (undefined: none, or gone)? */
export function canReadTicket(who: Identity, ticket: Pick<Ticket, 'accountId'>, account: Account | undefined): boolean {
  if (isAgent(who)) return true;
  if (who.role !== 'manager' && who.role !== 'rep') return false;
  return !!ticket.accountId && !!account && account.poolStatus !== 'pool' && canSee(who, account);
}

/** The ticket if the caller may open it (404 otherwise; marketers 403); `write`: 403 for a role that only reads. */
async function loadTicket(ctx: UseCaseContext, id: string, write = false): Promise<Ticket> {
  const who = ctx.identity;
  requireRole(who, ...TICKET_ROLES);
  const item = await getItem(entityKey(who.tenantId, 'TICKET', id));
  if (!item) throw notFound('ticket');
  const ticket = ticketOf(item);
  if (!isAgent(who)) {
    const accountItem = ticket.accountId ? await getItem(entityKey(who.tenantId, 'ACCOUNT', ticket.accountId)) : undefined;
    if (!canReadTicket(who, ticket, accountItem ? accountOf(accountItem) : undefined)) throw notFound('ticket');
    if (write) throw forbidden('Only support and admins change tickets; comment on it instead.');
  }
  return ticket;
}

// ---------------------------------------------------------------------------------------
// Writes shared by every use case

/**
 * The ticket's write and everything that goes with it, in one unit of work: the record (new:
 * `attribute_not_exists`; else conditioned on the version read), its events (`ticket.created` or
 * `ticket.updated`, `ticket.solved`, one `ticket.sla_breached` per breach this change recorded),
 * its SLA due item when the next instant moved, and the new assignee's `ticket.assigned`.
 */
export function ticketWrites(ctx: UseCaseContext, uow: UnitOfWork, before: Ticket | undefined, next: Ticket, breaches: Breach[]): UnitOfWork {
  const tenantId = ctx.identity.tenantId;
  const entity = { type: 'ticket', id: next.id };
  uow.put(
    toItem(ticketSpec, tenantId, next),
    before
      ? { condition: '#v = :v', names: { '#v': 'version' }, values: { ':v': before.version }, onConditionFailed: () => new VersionRace() }
      : { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on ticket ${next.id}`) },
  );
  const after = ticketSnapshot(next);
  if (!before) uow.emit('ticket.created', entity, after);
  else {
    const was = ticketSnapshot(before);
    const changed = Object.keys({ ...was, ...after }).filter(
      (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify((was as Item)[k]) !== JSON.stringify((after as Item)[k]),
    );
    uow.emit('ticket.updated', entity, { before: was, after, changed });
  }
  if (next.status === 'solved' && before?.status !== 'solved') {
    uow.emit('ticket.solved', entity, { ...after, solvedAt: next.solvedAt!, firstSolve: before?.firstSolvedAt == null });
  }
  for (const b of breaches) uow.emit('ticket.sla_breached', entity, { ...after, clock: b.clock, dueAt: b.dueAt });
  slaDueWrites(ctx, uow, before, next);
  if (next.assigneeId && next.assigneeId !== before?.assigneeId && next.assigneeId !== ctx.identity.userId) {
    addNotification(ctx, uow, {
      id: derivedId(tenantId, 'ticket.assigned', next.id, String(next.version)),
      userId: next.assigneeId,
      kind: 'ticket.assigned',
      message: `${ctx.identity.userId} assigned you ticket #${next.number} "${next.subject}".`,
      entityType: 'ticket',
      entityId: next.id,
      data: { number: next.number, priority: next.priority, assignedBy: ctx.identity.userId },
    });
  }
  return uow;
}

// ---------------------------------------------------------------------------------------
// Create

class SequenceMoved extends Error {}
const MAX_SEQUENCE_ATTEMPTS = 60;

export async function createTicket(ctx: UseCaseContext, input: TicketCreate): Promise<TicketView> {
  const who = ctx.identity;
  requireRole(who, ...TICKET_ROLES);
  const tenantId = who.tenantId;
  const keys = [slaPolicyKey(tenantId), ticketSequenceKey(tenantId)];
  if (input.accountId) keys.push(entityKey(tenantId, 'ACCOUNT', input.accountId));
  if (input.contactId) keys.push(entityKey(tenantId, 'CONTACT', input.contactId));
  if (input.assigneeId) keys.push(entityKey(tenantId, 'USER', input.assigneeId));
  const read = await getItems(keys);
  const [policyItem, sequenceItem] = read;
  let i = 2;
  let accountItem = input.accountId ? read[i++] : undefined;
  const contactItem = input.contactId ? read[i++] : undefined;
  const assigneeItem = input.assigneeId ? read[i++] : undefined;

  // The contact: one the caller may read; its account is the ticket's unless one is given.
  let contact: Contact | undefined;
  if (input.contactId) {
    contact = contactItem ? { ...fromItem<Contact>(contactItem), ownerTeamId: (contactItem.ownerTeamId as string | null | undefined) ?? null } : undefined;
    if (!contact || !readable(contactSpec, who, contact)) throw validationFailed([{ path: 'body.contactId', message: 'no such contact' }]);
    if (input.accountId && contact.accountId && contact.accountId !== input.accountId) {
      throw validationFailed([{ path: 'body.contactId', message: 'the contact is on another account' }]);
    }
    if (!input.accountId && contact.accountId) accountItem = await getItem(entityKey(tenantId, 'ACCOUNT', contact.accountId));
  }
  const accountId = input.accountId ?? contact?.accountId ?? null;
  const account = accountItem ? accountOf(accountItem) : undefined;
  const accountPath = input.accountId ? 'body.accountId' : 'body.contactId';
  if (accountId && (!account || !(isAgent(who) || canReadTicket(who, { accountId }, account)))) {
    throw validationFailed([{ path: accountPath, message: 'no such account' }]);
  }
  if (!accountId && !isAgent(who)) {
    throw validationFailed([{ path: 'body.accountId', message: 'your role creates tickets for an account it holds: give accountId (or a contactId on one)' }]);
  }
  if (input.assigneeId && !assigneeItem) {
    throw validationFailed([{ path: 'body.assigneeId', message: `no user ${input.assigneeId} in this tenant's directory` }]);
  }

  const policy = policyOnly(policyFromItem(policyItem));
  const at = ctx.now.toISOString();
  const priority = input.priority as TicketPriority;
  const base: Omit<Ticket, 'number'> = {
    id: ulid(ctx.now.getTime()),
    createdAt: at,
    updatedAt: at,
    version: 1,
    ownerId: input.assigneeId ?? null,
    ownerTeamId: null,
    subject: input.subject,
    ...(input.description !== undefined ? { description: input.description } : {}),
    accountId,
    contactId: input.contactId ?? null,
    priority,
    type: input.type,
    channel: input.channel,
    status: input.assigneeId ? 'open' : 'new',
    assigneeId: input.assigneeId ?? null,
    tags: input.tags,
    ...(contact?.email ? { requesterEmail: contact.email } : {}),
    firstRespondedAt: null,
    solvedAt: null,
    closedAt: null,
    csat: null,
    sla: initialSla(policy, at, priority),
    createdBy: who.userId,
    slaPolicy: policy,
    slaPausedMs: 0,
    firstSolvedAt: null,
  };

  let current = typeof sequenceItem?.n === 'number' ? sequenceItem.n : 0;
  for (let attempt = 0; ; attempt++) {
    const ticket: Ticket = { ...base, number: current + 1 };
    const uow = new UnitOfWork(ctx).update(
      ticketSequenceKey(tenantId),
      { expression: 'SET n = :next, tenantId = :tenant, entityType = :type', values: { ':next': ticket.number, ':tenant': tenantId, ':type': 'TKTSEQ' } },
      {
        condition: current === 0 ? 'attribute_not_exists(n)' : 'n = :read',
        ...(current === 0 ? {} : { values: { ':read': current } }),
        onConditionFailed: (now) => Object.assign(new SequenceMoved(), { now: typeof now?.n === 'number' ? now.n : undefined }),
      },
    );
    ticketWrites(ctx, uow, undefined, ticket, []);
    try {
      return await uow.commit(presentTicket(ticket));
    } catch (err) {
      if (!(err instanceof SequenceMoved) || attempt >= MAX_SEQUENCE_ATTEMPTS) {
        if (err instanceof SequenceMoved) throw conflict('concurrent_update', 'Too many tickets are being created at this moment; retry.');
        throw err;
      }
      // The failed condition hands back the counter as it is now: no extra read.
      const seen = (err as SequenceMoved & { now?: number }).now;
      current = seen ?? (((await getItem(ticketSequenceKey(tenantId)))?.n as number | undefined) ?? 0);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** Math.min(attempt, 5))));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Read and change

export async function getTicket(ctx: UseCaseContext, id: string): Promise<TicketView> {
  return presentTicket(await loadTicket(ctx, id));
}

/** Allowed moves of the status machine (api/service.md "Status"). */
const TRANSITIONS: Record<TicketStatus, TicketStatus[]> = {
  new: ['open', 'solved'],
  open: ['pending', 'solved'],
  pending: ['open', 'solved'],
  solved: ['open', 'closed'],
  closed: [],
};

const invalidTransition = (from: TicketStatus, to: TicketStatus | 'changed') =>
  conflict('invalid_transition', to === 'changed' ? 'A closed ticket is final: it no longer changes.' : `A ${from} ticket cannot become ${to}.`, {
    ticketStatus: from,
  });

export async function updateTicket(ctx: UseCaseContext, id: string, patch: TicketPatch, ifMatch: number | undefined): Promise<TicketView> {
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadTicket(ctx, id, true);
    checkIfMatch(before, ifMatch);
    const { status, assigneeId, ...fields } = patch;
    let after: Ticket = mergePatch(before, fields);
    if (assigneeId !== undefined && assigneeId !== before.assigneeId) {
      if (assigneeId !== null && !(await getItem(entityKey(ctx.identity.tenantId, 'USER', assigneeId)))) {
        throw validationFailed([{ path: 'body.assigneeId', message: `no user ${assigneeId} in this tenant's directory` }]);
      }
      after = { ...after, assigneeId, ownerId: assigneeId };
    }
    if (status !== undefined && status !== before.status) {
      if (!TRANSITIONS[before.status].includes(status)) throw invalidTransition(before.status, status);
      after = { ...after, status };
    } else if (before.status === 'new' && before.assigneeId === null && after.assigneeId !== null) {
      after = { ...after, status: 'open' }; // the first assignment opens a new ticket
    }
    if (unchanged(before, after)) return presentTicket(before);
    if (before.status === 'closed') throw invalidTransition('closed', 'changed');
    const { ticket, breaches } = evolveSla(before, after, ctx.now);
    const next = nextVersion(ctx, before, ticket);
    return ticketWrites(ctx, new UnitOfWork(ctx), before, next, breaches).commit(presentTicket(next));
  });
}

/**
 * `GET /v1/tickets/{id}/suggestions`: published articles sharing terms with the ticket's subject,
 * most shared first, at most 5 (the knowledge base's `suggestArticles`), for whoever may read the ticket.
 */
export async function ticketSuggestions(ctx: UseCaseContext, id: string): Promise<Page<ArticleSummary>> {
  const ticket = await loadTicket(ctx, id);
  return { items: await suggestArticles(ctx.identity.tenantId, ticket.subject, 5), nextCursor: null };
}

// ---------------------------------------------------------------------------------------
// Comments

export interface TicketComment {
  id: string;
  ticketId: string;
  body: string;
  public: boolean;
  authorId: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/**
 * A comment (api/service.md "Comments"). Reps and managers comment publicly on the tickets they
 * may read. The first public comment sets `firstRespondedAt` (judged against its due time) and
 * opens a `new` ticket: then the ticket changes in the same transaction (version + 1).
 */
export async function addComment(ctx: UseCaseContext, ticketId: string, input: CommentCreate): Promise<TicketComment> {
  const who = ctx.identity;
  return retryOnVersionRace(undefined, async () => {
    const before = await loadTicket(ctx, ticketId);
    if (!input.public && !isAgent(who)) throw forbidden('Internal comments are for support and admins.');
    if (before.status === 'closed') throw invalidTransition('closed', 'changed');
    const at = ctx.now.toISOString();
    const comment: TicketComment = { id: ulid(ctx.now.getTime()), ticketId, body: input.body, public: input.public, authorId: who.userId, createdAt: at, updatedAt: at, version: 1 };
    const uow = new UnitOfWork(ctx).put(
      { ...commentKey(who.tenantId, ticketId, comment.id), tenantId: who.tenantId, entityType: 'TKTCOMMENT', ...comment },
      { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on comment ${comment.id}`) },
    );
    let after = before;
    if (input.public && before.firstRespondedAt === null) after = { ...after, firstRespondedAt: at };
    if (input.public && before.status === 'new') after = { ...after, status: 'open' };
    let current = before;
    if (after !== before) {
      const { ticket, breaches } = evolveSla(before, after, ctx.now);
      current = nextVersion(ctx, before, ticket);
      ticketWrites(ctx, uow, before, current, breaches);
    } else {
      uow.check(entityKey(who.tenantId, 'TICKET', ticketId), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': before.version },
        onConditionFailed: () => new VersionRace(),
      });
    }
    uow.emit('ticket.commented', { type: 'ticket', id: ticketId }, {
      ...ticketSnapshot(current),
      comment: { id: comment.id, public: comment.public, authorId: comment.authorId, createdAt: comment.createdAt },
    });
    return uow.commit(comment);
  });
}

export async function listComments(ctx: UseCaseContext, ticketId: string, page: PageRequest): Promise<Page<TicketComment>> {
  const who = ctx.identity;
  await loadTicket(ctx, ticketId);
  const spec: QuerySpec = { pk: commentKey(who.tenantId, ticketId, '').PK, sk: { beginsWith: COMMENT_PREFIX }, consistent: true };
  return queryPage(spec, page, (item) => {
    const comment = stripKeys<TicketComment>(item);
    return comment.public || isAgent(who) ? comment : undefined;
  });
}

// ---------------------------------------------------------------------------------------
// Lists

export interface TicketFilters {
  status?: TicketStatus | undefined;
  priority?: TicketPriority | undefined;
  /** A user id, `me`, or `none` (the unassigned queue). */
  assigneeId?: string | undefined;
  accountId?: string | undefined;
  breached?: boolean | undefined;
  tag?: string | undefined;
}

/**
 * Newest first. The partition: one account's tickets (`accountId`), an assignee's or the queue
 * (`assigneeId`), else the tenant's; the other filters apply within it. Reps and managers see the
 * tickets of the accounts they hold. `accountId` is one check of the account (one the caller may not
 * open: 400, as for every id); without it,
 * each page's accounts are read (one BatchGetItem) and the page keeps the visible tickets.
 */
export async function listTickets(ctx: UseCaseContext, filters: TicketFilters, page: PageRequest): Promise<Page<TicketView>> {
  const who = ctx.identity;
  requireRole(who, ...TICKET_ROLES);
  const tenant = who.tenantId;
  const assignee = filters.assigneeId === 'me' ? who.userId : filters.assigneeId;
  let spec: QuerySpec;
  if (filters.accountId) {
    // An account the caller may not open is a 400 on the filter, as for every id it names (docs/api-decisions.md).
    const item = await getItem(entityKey(tenant, 'ACCOUNT', filters.accountId));
    if (!item || !canReadTicket(who, { accountId: filters.accountId }, accountOf(item))) {
      throw validationFailed([{ path: 'query.accountId', message: 'no such account' }], 'The query is not valid.');
    }
    spec = { index: 'byTeam', pk: ticketAccountPartition(tenant, filters.accountId), newestFirst: true };
  } else if (assignee !== undefined) {
    spec = { index: 'byOwner', pk: assignee === 'none' ? ticketQueuePartition(tenant) : ticketAssigneePartition(tenant, assignee), newestFirst: true };
  } else {
    spec = { index: 'byType', pk: typePartition(tenant, 'TICKET'), newestFirst: true };
  }
  // The assignee is a filter only when the account chose the partition.
  const filter = ticketFilter({ ...filters, assigneeId: filters.accountId ? assignee : undefined });
  if (filter) spec.filter = filter;
  const raw = await queryPage(spec, page, (item) => ticketOf(item));
  if (isAgent(who) || filters.accountId) return { items: raw.items.map(presentTicket), nextCursor: raw.nextCursor };
  const accountIds = [...new Set(raw.items.map((t) => t.accountId).filter((a): a is string => !!a))];
  const accounts = new Map<string, Account>();
  for (let i = 0; i < accountIds.length; i += 100) {
    const chunk = accountIds.slice(i, i + 100);
    const items = await getItems(chunk.map((id) => entityKey(tenant, 'ACCOUNT', id)), false);
    items.forEach((item, j) => item && accounts.set(chunk[j]!, accountOf(item)));
  }
  return {
    items: raw.items.filter((t) => canReadTicket(who, t, t.accountId ? accounts.get(t.accountId) : undefined)).map(presentTicket),
    nextCursor: raw.nextCursor,
  };
}

function ticketFilter(f: TicketFilters & { assigneeId?: string | undefined }): QuerySpec['filter'] {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const eq = (attr: string, value: unknown) => {
    if (value === undefined) return;
    const n = `#f${parts.length}`;
    names[n] = attr;
    values[`:f${parts.length}`] = value;
    parts.push(`${n} = :f${parts.length}`);
  };
  eq('status', f.status);
  eq('priority', f.priority);
  if (f.assigneeId !== undefined) {
    if (f.assigneeId === 'none') {
      names['#assignee'] = 'assigneeId';
      values[':null'] = 'NULL';
      parts.push('attribute_type(#assignee, :null)');
    } else eq('assigneeId', f.assigneeId);
  }
  if (f.tag !== undefined) {
    names['#tags'] = 'tags';
    values[':tag'] = f.tag;
    parts.push('contains(#tags, :tag)');
  }
  if (f.breached) {
    names['#sla'] = 'sla';
    names['#frb'] = 'firstResponseBreachedAt';
    names['#rb'] = 'resolutionBreachedAt';
    values[':str'] = 'S';
    parts.push('(attribute_type(#sla.#frb, :str) OR attribute_type(#sla.#rb, :str))');
  }
  return parts.length ? { expression: parts.join(' AND '), names, values } : undefined;
}
