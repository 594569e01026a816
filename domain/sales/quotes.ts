/**
 * Quote (报价单) use cases: create on an opportunity, list an opportunity's quotes,
 * read, change while draft, and the status actions draft → sent → accepted | rejected.
 *
 * Who sees a quote: whoever may currently open its opportunity (owner, the owner's
 * manager, admins), and the seller it was made for (the opportunity's owner when it was
 * made) with that seller's manager. Support and marketers: 403 on every quote route.
 *
 * Status changes are single-winner: the write is conditioned on the status (and
 * version) read, so of two concurrent accepts exactly one lands and the other is
 * `409 invalid_transition`; anything but draft → sent → accepted | rejected is
 * `409 invalid_transition` too. A quote is also refused for sending or accepting once
 * its `validUntil` day (in the tenant's time zone) is over.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, DomainError, notFound, validationFailed } from '#domain/errors.ts';
import { canSee, requireRole, type Identity } from '#domain/identity.ts';
import { checkIfMatch, newId, retryOnVersionRace, toItem, VersionRace } from '#domain/records.ts';
import { accountCollection, entityKey } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { canReadOpportunity, opportunityOf, type Opportunity } from '#domain/sales/opportunity.ts';
import {
  priceLines,
  quoteOf,
  quotesOfOpportunity,
  quoteSpec,
  presentQuote,
  type HistoryEntry,
  type Quote,
  type QuoteAccept,
  type QuoteCreate,
  type QuotePatch,
  type QuoteReject,
  type QuoteSend,
  type QuoteStatus,
  type QuoteView,
} from '#domain/sales/quote.ts';

export const SALES_ROLES = ['admin', 'manager', 'rep'] as const;

/** The tenant's time zone, for "is this quote still valid today" (API.md §6: default Asia/Shanghai). */
export const TENANT_TIME_ZONE = 'Asia/Shanghai';

type Item = Record<string, unknown>;

// ---------------------------------------------------------------------------------------
// The opportunity a quote or an order hangs off

/** What quotes and orders need of an opportunity. */
export type OpportunityRef = Pick<Opportunity, 'id' | 'accountId' | 'name' | 'currency' | 'ownerId' | 'ownerTeamId'>;

async function findOpportunity(ctx: UseCaseContext, id: string): Promise<OpportunityRef | undefined> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'OPPORTUNITY', id));
  return item ? opportunityOf(item) : undefined;
}

/** Owner, the owner's manager, admins (API.md §4), as for the opportunity itself. */
const holdsOpportunity = (who: Identity, o: OpportunityRef) => canReadOpportunity(who, o);

/** The opportunity in a path (`/v1/opportunities/{id}/quotes`): one the caller may open, or 404. */
export async function pathOpportunity(ctx: UseCaseContext, id: string): Promise<OpportunityRef> {
  requireRole(ctx.identity, ...SALES_ROLES);
  const opportunity = await findOpportunity(ctx, id);
  if (!opportunity || !holdsOpportunity(ctx.identity, opportunity)) throw notFound('opportunity');
  return opportunity;
}

/** An opportunity named in a body or query: one the caller may open, else 400 on `path` (never a hint it exists). */
export async function readableOpportunity(ctx: UseCaseContext, id: string, path: string): Promise<OpportunityRef> {
  const opportunity = await findOpportunity(ctx, id);
  if (!opportunity || !holdsOpportunity(ctx.identity, opportunity)) throw validationFailed([{ path, message: 'no such opportunity' }]);
  return opportunity;
}

// ---------------------------------------------------------------------------------------
// Loading

/** A quote the caller may open (and, being of a sales role, act on), or 404. */
export async function loadQuote(ctx: UseCaseContext, id: string): Promise<Quote> {
  requireRole(ctx.identity, ...SALES_ROLES);
  const item = await getItem(entityKey(ctx.identity.tenantId, 'QUOTE', id));
  if (!item) throw notFound('quote');
  const quote = quoteOf(item);
  if (canSee(ctx.identity, quote)) return quote;
  const opportunity = await findOpportunity(ctx, quote.opportunityId);
  if (opportunity && holdsOpportunity(ctx.identity, opportunity)) return quote;
  throw notFound('quote');
}

export async function getQuote(ctx: UseCaseContext, id: string): Promise<QuoteView> {
  return presentQuote(await loadQuote(ctx, id));
}

// ---------------------------------------------------------------------------------------
// Create, list, change

export async function createQuote(ctx: UseCaseContext, opportunityId: string, input: QuoteCreate): Promise<QuoteView> {
  // 1. The lines are priced first: a body that cannot be priced is a 400 whatever else holds.
  const priced = priceLines(input.lines);
  return retryOnVersionRace(undefined, async () => {
    // 2. The opportunity the caller may open; the quote joins its account's collection.
    const opportunity = await pathOpportunity(ctx, opportunityId);
    const at = ctx.now.toISOString();
    const quote: Quote = {
      id: newId(ctx),
      createdAt: at,
      updatedAt: at,
      version: 1,
      ownerId: opportunity.ownerId ?? ctx.identity.userId,
      ownerTeamId: opportunity.ownerId ? (opportunity.ownerTeamId ?? null) : (ctx.identity.teamId ?? null),
      opportunityId: opportunity.id,
      accountId: opportunity.accountId,
      name: input.name ?? opportunity.name,
      status: 'draft',
      currency: input.currency ?? opportunity.currency,
      lines: priced.lines,
      subtotalMinor: priced.subtotal,
      discountMinor: priced.discount,
      totalMinor: priced.total,
      ...(input.validUntil !== undefined ? { validUntil: input.validUntil } : {}),
      ...(input.notes !== undefined ? { notes: input.notes } : {}),
      history: [{ status: 'draft', at, byUserId: ctx.identity.userId }],
      createdBy: ctx.identity.userId,
    };
    // 3. The quote and its event, provided the opportunity is still there on the same account.
    const tenant = ctx.identity.tenantId;
    const view = presentQuote(quote);
    return new UnitOfWork(ctx)
      .put(toItem(quoteSpec, tenant, quote), {
        condition: 'attribute_not_exists(PK)',
        onConditionFailed: () => new Error(`id collision on quote ${quote.id}`),
      })
      .check(entityKey(tenant, 'OPPORTUNITY', opportunity.id), {
        condition: 'attribute_exists(PK) AND accountId = :account',
        values: { ':account': opportunity.accountId },
        // Gone: the next attempt answers 404; moved to another account (a merge): it re-reads.
        onConditionFailed: () => new VersionRace(),
      })
      .emit('quote.created', { type: 'quote', id: quote.id }, view)
      .commit(view);
  });
}

/** An opportunity's quotes, oldest first: one key range of its account's collection. */
export async function listQuotes(ctx: UseCaseContext, opportunityId: string, page: PageRequest): Promise<Page<QuoteView>> {
  const opportunity = await pathOpportunity(ctx, opportunityId);
  return queryPage(
    {
      index: 'byParent',
      pk: accountCollection(ctx.identity.tenantId, opportunity.accountId),
      sk: { beginsWith: quotesOfOpportunity(opportunity.id) },
    },
    page,
    (item) => presentQuote(quoteOf(item)),
  );
}

/** `409 invalid_transition`, naming the quote's current status (`quoteStatus`: `status` is the problem's HTTP status). */
export function invalidTransition(from: QuoteStatus, action: string, detail?: string, extra: Record<string, unknown> = {}): DomainError {
  return conflict('invalid_transition', detail ?? `This quote is ${from}; it cannot be ${action}.`, { quoteStatus: from, ...extra });
}

/** The write of a changed quote, conditioned on the version and the status read. */
function writeQuote(ctx: UseCaseContext, uow: UnitOfWork, before: Quote, next: Quote, action: string): UnitOfWork {
  return uow.put(toItem(quoteSpec, ctx.identity.tenantId, next), {
    condition: '#v = :v AND #s = :s',
    names: { '#v': 'version', '#s': 'status' },
    values: { ':v': before.version, ':s': before.status },
    onConditionFailed: (current) => {
      if (!current) return notFound('quote');
      const now = quoteOf(current);
      return now.status !== before.status ? invalidTransition(now.status, action) : new VersionRace();
    },
  });
}

function changedFields(before: object, after: object): string[] {
  const b = before as Item;
  const a = after as Item;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify(b[k]) !== JSON.stringify(a[k]),
  );
}

/** Only a draft changes; lines are re-priced. */
export async function updateQuote(ctx: UseCaseContext, id: string, patch: QuotePatch, ifMatch: number | undefined): Promise<QuoteView> {
  const priced = patch.lines !== undefined ? priceLines(patch.lines) : undefined;
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadQuote(ctx, id);
    checkIfMatch(before, ifMatch);
    if (before.status !== 'draft') throw invalidTransition(before.status, 'changed', `Only a draft quote can be changed; this one is ${before.status}.`);
    const after: Quote = { ...before };
    if (patch.name !== undefined) after.name = patch.name;
    if (patch.currency !== undefined) after.currency = patch.currency;
    if (patch.validUntil === null) delete after.validUntil;
    else if (patch.validUntil !== undefined) after.validUntil = patch.validUntil;
    if (patch.notes === null) delete after.notes;
    else if (patch.notes !== undefined) after.notes = patch.notes;
    if (priced) Object.assign(after, { lines: priced.lines, subtotalMinor: priced.subtotal, discountMinor: priced.discount, totalMinor: priced.total });
    const changed = changedFields(presentQuote(before), presentQuote(after));
    if (changed.length === 0) return presentQuote(before);
    const next: Quote = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    const uow = writeQuote(ctx, new UnitOfWork(ctx), before, next, 'changed').emit('quote.updated', { type: 'quote', id }, {
      before: presentQuote(before),
      after: presentQuote(next),
      changed,
    });
    return uow.commit(presentQuote(next));
  });
}

// ---------------------------------------------------------------------------------------
// Status actions

/** Today's date (YYYY-MM-DD) in the tenant's time zone. */
export function tenantToday(now: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TENANT_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

const TRANSITIONS = {
  sent: { from: 'draft', verb: 'sent', event: 'quote.sent' },
  accepted: { from: 'sent', verb: 'accepted', event: 'quote.accepted' },
  rejected: { from: 'sent', verb: 'rejected', event: 'quote.rejected' },
} as const;

async function transition(
  ctx: UseCaseContext,
  id: string,
  to: keyof typeof TRANSITIONS,
  input: { note?: string | undefined; reason?: string | undefined; validUntil?: string | undefined },
): Promise<QuoteView> {
  const rule = TRANSITIONS[to];
  return retryOnVersionRace(undefined, async () => {
    // 1. The quote as it is: only the one status this action leaves from.
    const before = await loadQuote(ctx, id);
    if (before.status !== rule.from) throw invalidTransition(before.status, rule.verb);
    // 2. A quote past its validity can be neither sent nor accepted (rejecting it is fine).
    const validUntil = input.validUntil ?? before.validUntil;
    if (to !== 'rejected' && validUntil !== undefined && validUntil < tenantToday(ctx.now)) {
      throw invalidTransition(before.status, rule.verb, `The quote was valid until ${validUntil}; change validUntil to ${to === 'sent' ? 'send' : 'accept'} it.`, {
        validUntil,
      });
    }
    // 3. The new status, its history entry and its event, conditioned on the status read.
    const at = ctx.now.toISOString();
    const entry: HistoryEntry = { status: to, at, byUserId: ctx.identity.userId, ...(input.note !== undefined ? { note: input.note } : {}) };
    const next: Quote = {
      ...before,
      status: to,
      ...(validUntil !== undefined ? { validUntil } : {}),
      ...(input.reason !== undefined ? { rejectionReason: input.reason } : {}),
      history: [...before.history, entry],
      version: before.version + 1,
      updatedAt: at,
    };
    const view = presentQuote(next);
    const uow = writeQuote(ctx, new UnitOfWork(ctx), before, next, rule.verb).emit(rule.event, { type: 'quote', id }, {
      ...view,
      from: rule.from,
      ...(input.note !== undefined ? { note: input.note } : {}),
    });
    return uow.commit(view);
  });
}

export const sendQuote = (ctx: UseCaseContext, id: string, input: QuoteSend) => transition(ctx, id, 'sent', input);
export const acceptQuote = (ctx: UseCaseContext, id: string, input: QuoteAccept) => transition(ctx, id, 'accepted', input);
export const rejectQuote = (ctx: UseCaseContext, id: string, input: QuoteReject) => transition(ctx, id, 'rejected', input);
