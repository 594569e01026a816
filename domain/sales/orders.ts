/**
 * Order (订单/合同) and payment (回款) use cases.
 *
 * Who sees an order: its owner (the seller it is credited to), the owner's manager,
 * admins, and whoever may currently hold its account (owner, the owner's manager), so a
 * reassigned account brings its contracts along. Support and marketers: 403.
 *
 * Payments: the payment item and the order's totals change in ONE transaction whose
 * condition on the order is `outstandingMinor >= :amount` (that is `collected + amount
 * <= amount`, in integer minor units) and the version read. An overpayment is
 * `409 overpayment` whoever wins a race; a payment that only lost a race to another
 * payment that still leaves room is re-read and re-applied, so the totals stay exact.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, DomainError, notFound, validationFailed } from '#domain/errors.ts';
import { canSee, requireRole, type Identity } from '#domain/identity.ts';
import { attributeFilter, ownedListQuery } from '#domain/listing.ts';
import { resolveOwner, type Owner } from '#domain/ownership.ts';
import { checkIfMatch, newId, retryOnVersionRace, toItem, VersionRace } from '#domain/records.ts';
import { accountCollection, entityKey, stripKeys } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { decodeCursor } from '#domain/table/cursor.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import type { Account } from '#domain/accounts/account.ts';
import { readableAccount } from '#domain/accounts/links.ts';
import * as money from '#domain/sales/money.ts';
import type { Minor } from '#domain/sales/money.ts';
import {
  ORDER_IN_ACCOUNT,
  PAYMENT_PREFIX,
  orderSpec,
  presentOrder,
  paymentKey,
  paymentStatusOf,
  presentPayment,
  type Order,
  type OrderCreate,
  type OrderPatch,
  type OrderView,
  type Payment,
  type PaymentCreate,
  type PaymentStatus,
  type PaymentView,
  type OrderFromQuote,
} from '#domain/sales/order.ts';
import { quoteOf, presentQuote, type Quote } from '#domain/sales/quote.ts';
import { invalidTransition, loadQuote, readableOpportunity, type OpportunityRef } from '#domain/sales/quotes.ts';

export const SALES_ROLES = ['admin', 'manager', 'rep'] as const;

type Item = Record<string, unknown>;

/** The stored order with its internal team field (stripKeys drops it). */
export function orderOf(item: Item): Order {
  return { ...stripKeys<Order>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

function accountOf(item: Item): Account {
  return { ...stripKeys<Account>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/** Owner, the owner's manager, admin: the rule of API.md §4 on the account itself (not the pool's read access). */
function holdsAccount(who: Identity, account: Account): boolean {
  return canSee(who, account);
}

/** An order the caller may open (and, being of a sales role, change), or 404. */
export async function loadOrder(ctx: UseCaseContext, id: string): Promise<Order> {
  requireRole(ctx.identity, ...SALES_ROLES);
  const item = await getItem(entityKey(ctx.identity.tenantId, 'ORDER', id));
  if (!item) throw notFound('order');
  const order = orderOf(item);
  if (canSee(ctx.identity, order)) return order;
  const account = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', order.accountId));
  if (account && holdsAccount(ctx.identity, accountOf(account))) return order;
  throw notFound('order');
}

/** The account an order is placed on: one the caller holds; anything else is a 400 on `path`. */
export async function orderAccount(ctx: UseCaseContext, accountId: string, path = 'body.accountId'): Promise<Account> {
  const account = await readableAccount(ctx, accountId, path);
  if (!holdsAccount(ctx.identity, account)) throw validationFailed([{ path, message: 'no such account' }]);
  return account;
}

/** Who the order is credited to: the one named (assignment rules of accounts), else the given default, else the caller. */
export async function orderOwner(ctx: UseCaseContext, requested: string | undefined, fallback: Owner | undefined): Promise<Owner> {
  if (requested !== undefined) return resolveOwner(ctx, requested);
  return fallback ?? { ownerId: ctx.identity.userId, ownerTeamId: ctx.identity.teamId ?? null };
}

const ownerOfRecord = (r: { ownerId: string | null; ownerTeamId?: string | null }): Owner | undefined =>
  r.ownerId ? { ownerId: r.ownerId, ownerTeamId: r.ownerTeamId ?? null } : undefined;

export interface NewOrder {
  account: Pick<Account, 'id'>;
  /** Where a vanished account is reported (`body.accountId`, or the quote that named it). */
  accountPath?: string;
  opportunityId?: string;
  quoteId?: string;
  name: string;
  amount: Minor;
  currency: string;
  signedAt: string;
  notes?: string;
  owner: Owner;
}

/**
 * The order and its `order.created` event, added to `uow`; with a condition that the
 * account still exists, so an order never lands on a deleted account.
 */
export function addOrder(ctx: UseCaseContext, uow: UnitOfWork, input: NewOrder): Order {
  const at = ctx.now.toISOString();
  const order: Order = {
    id: newId(ctx),
    createdAt: at,
    updatedAt: at,
    version: 1,
    ownerId: input.owner.ownerId,
    ownerTeamId: input.owner.ownerTeamId,
    accountId: input.account.id,
    ...(input.opportunityId !== undefined ? { opportunityId: input.opportunityId } : {}),
    ...(input.quoteId !== undefined ? { quoteId: input.quoteId } : {}),
    name: input.name,
    currency: input.currency,
    amountMinor: input.amount,
    collectedMinor: money.ZERO,
    outstandingMinor: input.amount,
    paymentStatus: 'unpaid',
    paymentCount: 0,
    signedAt: input.signedAt,
    ...(input.notes !== undefined ? { notes: input.notes } : {}),
    createdBy: ctx.identity.userId,
    signedOwnerId: input.owner.ownerId,
    signedTeamId: input.owner.ownerTeamId,
  };
  const tenant = ctx.identity.tenantId;
  uow
    .put(toItem(orderSpec, tenant, order), {
      condition: 'attribute_not_exists(PK)',
      onConditionFailed: () => new Error(`id collision on order ${order.id}`),
    })
    .check(entityKey(tenant, 'ACCOUNT', input.account.id), {
      condition: 'attribute_exists(PK)',
      onConditionFailed: () => validationFailed([{ path: input.accountPath ?? 'body.accountId', message: 'no such account' }]),
    })
    .emit('order.created', { type: 'order', id: order.id }, presentOrder(order));
  return order;
}

export async function createOrder(ctx: UseCaseContext, input: OrderCreate): Promise<OrderView> {
  // 1. Sales roles only; an order from a quote takes everything from the quote.
  requireRole(ctx.identity, ...SALES_ROLES);
  if (input.quoteId !== undefined) return orderFromQuote(ctx, input.quoteId, input, 'body');
  const missing = (['accountId', 'amount'] as const).filter((k) => input[k] === undefined);
  if (missing.length) throw validationFailed(missing.map((k) => ({ path: `body.${k}`, message: 'required (unless quoteId is given)' })));
  // 2. The account the caller holds, and the opportunity on it if one is named.
  const account = await orderAccount(ctx, input.accountId!);
  const opportunity = input.opportunityId !== undefined ? await orderOpportunity(ctx, input.opportunityId, account.id) : undefined;
  // 3. Credited to the one named, else the opportunity's or the account's owner, else the caller.
  const owner = await orderOwner(ctx, input.ownerId, (opportunity && ownerOfRecord(opportunity)) ?? ownerOfRecord(account));
  // 4. The order and its event land together.
  const uow = new UnitOfWork(ctx);
  const order = addOrder(ctx, uow, {
    account,
    ...(opportunity ? { opportunityId: opportunity.id } : {}),
    name: input.name ?? opportunity?.name ?? account.name,
    amount: input.amount!,
    currency: input.currency ?? opportunity?.currency ?? money.DEFAULT_CURRENCY,
    signedAt: input.signedAt,
    ...(input.notes !== undefined ? { notes: input.notes } : {}),
    owner,
  });
  return uow.commit(presentOrder(order));
}

/** The opportunity an order is for: one the caller may open, on the order's account; else 400. */
async function orderOpportunity(ctx: UseCaseContext, id: string, accountId: string): Promise<OpportunityRef> {
  const opportunity = await readableOpportunity(ctx, id, 'body.opportunityId');
  if (opportunity.accountId !== accountId) {
    throw validationFailed([{ path: 'body.opportunityId', message: 'the opportunity is on another account' }]);
  }
  return opportunity;
}

export async function getOrder(ctx: UseCaseContext, id: string): Promise<OrderView> {
  return presentOrder(await loadOrder(ctx, id));
}

export async function updateOrder(ctx: UseCaseContext, id: string, patch: OrderPatch, ifMatch: number | undefined): Promise<OrderView> {
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadOrder(ctx, id);
    checkIfMatch(before, ifMatch);
    let after: Order = { ...before };
    if (patch.name !== undefined) after.name = patch.name;
    if (patch.signedAt !== undefined) after.signedAt = patch.signedAt;
    if (patch.notes === null) delete after.notes;
    else if (patch.notes !== undefined) after.notes = patch.notes;
    if (patch.amount !== undefined && patch.amount !== before.amountMinor) {
      // The amount may not fall below what has been collected.
      if (patch.amount < before.collectedMinor) throw overpayment(before, 'The order amount may not be less than the amount already collected.');
      after = {
        ...after,
        amountMinor: patch.amount,
        outstandingMinor: money.subtract(patch.amount, before.collectedMinor),
        paymentStatus: paymentStatusOf(patch.amount, before.collectedMinor),
      };
    }
    if (patch.ownerId !== undefined && patch.ownerId !== before.ownerId) {
      // Reassigning the credit: managers within their team, admins anywhere.
      requireRole(ctx.identity, 'admin', 'manager');
      after = { ...after, ...(await resolveOwner(ctx, patch.ownerId)) };
    }
    const changed = changedFields(presentOrder(before), presentOrder(after));
    if (changed.length === 0 && after.ownerTeamId === before.ownerTeamId) return presentOrder(before);
    const next: Order = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    const uow = new UnitOfWork(ctx)
      .put(toItem(orderSpec, ctx.identity.tenantId, next), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': before.version },
        onConditionFailed: () => new VersionRace(),
      })
      .emit('order.updated', { type: 'order', id }, { before: presentOrder(before), after: presentOrder(next), changed });
    return uow.commit(presentOrder(next));
  });
}

function changedFields(before: object, after: object): string[] {
  const b = before as Item;
  const a = after as Item;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify(b[k]) !== JSON.stringify(a[k]),
  );
}

function overpayment(order: Pick<Order, 'outstandingMinor' | 'collectedMinor' | 'amountMinor' | 'currency'>, detail: string) {
  return conflict('overpayment', detail, {
    amount: money.fromMinor(order.amountMinor),
    collectedAmount: money.fromMinor(order.collectedMinor),
    outstandingAmount: money.fromMinor(order.outstandingMinor),
    currency: order.currency,
  });
}

export async function recordPayment(ctx: UseCaseContext, orderId: string, input: PaymentCreate): Promise<OrderView> {
  return retryOnVersionRace(undefined, async () => {
    // 1. The order as it is; the payment is in its currency and fits what is outstanding.
    const order = await loadOrder(ctx, orderId);
    if (input.currency !== undefined && input.currency !== order.currency) {
      throw validationFailed([{ path: 'body.currency', message: `the order is in ${order.currency}` }]);
    }
    if (input.amount > order.outstandingMinor) {
      throw overpayment(order, `The payment is more than the ${money.formatMinor(order.outstandingMinor)} ${order.currency} outstanding.`);
    }
    // 2. The payment, and the order's totals after it.
    const at = ctx.now.toISOString();
    const payment: Payment = {
      id: newId(ctx),
      orderId,
      amountMinor: input.amount,
      currency: order.currency,
      receivedAt: input.receivedAt ?? at,
      ...(input.method !== undefined ? { method: input.method } : {}),
      ...(input.reference !== undefined ? { reference: input.reference } : {}),
      ...(input.notes !== undefined ? { notes: input.notes } : {}),
      createdBy: ctx.identity.userId,
      createdAt: at,
      updatedAt: at,
      version: 1,
      ownerId: order.ownerId,
      ownerTeamId: order.ownerTeamId ?? null,
    };
    const collected = money.add(order.collectedMinor, input.amount);
    const next: Order = {
      ...order,
      collectedMinor: collected,
      outstandingMinor: money.subtract(order.outstandingMinor, input.amount),
      paymentStatus: paymentStatusOf(order.amountMinor, collected),
      paymentCount: order.paymentCount + 1,
      lastPaymentAt: order.lastPaymentAt && order.lastPaymentAt > payment.receivedAt ? order.lastPaymentAt : payment.receivedAt,
      version: order.version + 1,
      updatedAt: at,
    };
    // 3. One transaction: the order's totals (guarded), the payment item, the event.
    const tenant = ctx.identity.tenantId;
    const uow = new UnitOfWork(ctx)
      .put(toItem(orderSpec, tenant, next), {
        condition: 'outstandingMinor >= :amount AND #v = :v',
        names: { '#v': 'version' },
        values: { ':amount': input.amount, ':v': order.version },
        onConditionFailed: (current) => {
          if (!current) return notFound('order');
          const now = orderOf(current);
          if (now.outstandingMinor < input.amount) {
            return overpayment(now, `The payment is more than the ${money.formatMinor(now.outstandingMinor)} ${now.currency} outstanding.`);
          }
          return new VersionRace();
        },
      })
      .put(
        { ...paymentKey(tenant, orderId, payment.receivedAt, payment.id), ...payment, tenantId: tenant, entityType: 'PAYMENT' },
        { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on payment ${payment.id}`) },
      )
      .emit('payment.received', { type: 'order', id: orderId }, {
        ...presentPayment(payment),
        ownerId: payment.ownerId ?? null,
        ownerTeamId: payment.ownerTeamId ?? null,
        accountId: order.accountId,
        collectedAmount: money.fromMinor(next.collectedMinor),
        outstandingAmount: money.fromMinor(next.outstandingMinor),
        paymentStatus: next.paymentStatus,
        orderVersion: next.version,
      });
    return uow.commit(presentOrder(next));
  });
}

export async function listPayments(ctx: UseCaseContext, orderId: string, page: PageRequest): Promise<Page<PaymentView>> {
  const order = await loadOrder(ctx, orderId);
  const { PK } = entityKey(ctx.identity.tenantId, 'ORDER', order.id);
  return queryPage({ pk: PK, sk: { beginsWith: PAYMENT_PREFIX } }, page, (item) => presentPayment(stripKeys<Payment>(item)));
}

export interface OrderFilters {
  accountId?: string | undefined;
  opportunityId?: string | undefined;
  ownerId?: string | undefined;
  paymentStatus?: PaymentStatus | undefined;
  signedFrom?: string | undefined;
  signedTo?: string | undefined;
}

/** `signedFrom ≤ signedAt < signedTo` as a range of `<prefix><signedAt>#<id>` sort keys. */
function signedRange(prefix: string, from: string | undefined, to: string | undefined): QuerySpec['sk'] {
  if (from === undefined && to === undefined) return prefix ? { beginsWith: prefix } : undefined;
  // `<to>` sorts before every `<to>#<id>`, so an order signed exactly at `signedTo` is outside.
  // (A key condition value may not be empty: an open lower end without a prefix is `<`.)
  if (from === undefined && !prefix) return { lessThan: to! };
  return { between: [`${prefix}${from ?? ''}`, `${prefix}${to ?? '~'}`] };
}

/**
 * Newest signed first. `accountId` reads the account's collection (every order of an
 * account the caller holds); `opportunityId` the same collection filtered to the
 * opportunity; otherwise the owner / team / tenant partition by role, as for accounts.
 */
export async function listOrders(ctx: UseCaseContext, filters: OrderFilters, page: PageRequest): Promise<Page<OrderView>> {
  const who = ctx.identity;
  requireRole(who, ...SALES_ROLES);
  if (filters.signedFrom !== undefined && filters.signedTo !== undefined && filters.signedFrom > filters.signedTo) {
    throw validationFailed([{ path: 'query.signedTo', message: 'must not be before signedFrom' }]);
  }
  const ownerId = filters.ownerId === 'me' ? who.userId : filters.ownerId;
  let accountId = filters.accountId;
  let opportunityId: string | undefined;
  if (filters.opportunityId !== undefined) {
    // An opportunity's orders are in its account's collection.
    const opportunity = await readableOpportunity(ctx, filters.opportunityId, 'query.opportunityId');
    if (accountId !== undefined && accountId !== opportunity.accountId) {
      if (page.cursor) decodeCursor(page.scope, page.cursor);
      return { items: [], nextCursor: null };
    }
    accountId = opportunity.accountId;
    opportunityId = opportunity.id;
  } else if (accountId !== undefined) {
    await orderAccount(ctx, accountId, 'query.accountId');
  }
  if (accountId !== undefined) {
    // Every order of an account the caller holds (or of an opportunity it may open) is visible.
    const filter = attributeFilter({ paymentStatus: filters.paymentStatus, opportunityId, ownerId });
    const sk = signedRange(ORDER_IN_ACCOUNT, filters.signedFrom, filters.signedTo);
    const spec: QuerySpec = { index: 'byParent', pk: accountCollection(who.tenantId, accountId), newestFirst: true, ...(sk ? { sk } : {}), ...(filter ? { filter } : {}) };
    return queryPage(spec, page, (item) => presentOrder(orderOf(item)));
  }
  const base = ownedListQuery(ctx, 'ORDER', { ownerId }, false);
  const sk = signedRange('', filters.signedFrom, filters.signedTo);
  const status = attributeFilter({ paymentStatus: filters.paymentStatus });
  const spec: QuerySpec = { ...base, newestFirst: true, ...(sk ? { sk } : {}), ...(status ? { filter: status } : {}) };
  return queryPage(spec, page, (item) => {
    const order = orderOf(item);
    return canSee(who, order) ? presentOrder(order) : undefined;
  });
}

// ---------------------------------------------------------------------------------------
// An accepted quote becomes an order, at most once

/**
 * `POST /v1/quotes/{id}/order` (`where: 'path'`) or `POST /v1/orders {quoteId}` (`'body'`):
 * the order takes the quote's account, opportunity, currency, name and total (the amount
 * may be given: what was finally signed). The quote records the order's id in the same
 * transaction, conditioned on being accepted and on having none yet, so two requests
 * racing for one quote make one order and one `409 invalid_transition`.
 */
export async function orderFromQuote(
  ctx: UseCaseContext,
  quoteId: string,
  input: OrderFromQuote & { accountId?: string | undefined; opportunityId?: string | undefined; currency?: string | undefined },
  where: 'path' | 'body',
): Promise<OrderView> {
  requireRole(ctx.identity, ...SALES_ROLES);
  // 1. The quote the caller may open: a 404 in a path, a 400 on `quoteId` in a body.
  let quote: Quote;
  try {
    quote = await loadQuote(ctx, quoteId);
  } catch (err) {
    if (where === 'body' && err instanceof DomainError && err.status === 404) throw validationFailed([{ path: 'body.quoteId', message: 'no such quote' }]);
    throw err;
  }
  if (quote.orderId !== undefined) {
    throw invalidTransition(quote.status, 'ordered', `This quote already became order ${quote.orderId}.`, { orderId: quote.orderId });
  }
  if (quote.status !== 'accepted') throw invalidTransition(quote.status, 'ordered', `Only an accepted quote can become an order; this one is ${quote.status}.`);
  // 2. What the body says must agree with the quote.
  const mismatch = (['accountId', 'opportunityId', 'currency'] as const).filter((k) => input[k] !== undefined && input[k] !== quote[k]);
  if (mismatch.length) throw validationFailed(mismatch.map((k) => ({ path: `body.${k}`, message: `must be the quote's ${k} (${quote[k]}) or left out` })));
  // 3. Credited to the one named, else the opportunity's current owner (when the caller may still open
  //    the opportunity; it may see the quote as its seller only), else the quote's seller.
  const tenant = ctx.identity.tenantId;
  let fallback = ownerOfRecord(quote);
  if (input.ownerId === undefined) {
    try {
      fallback = ownerOfRecord(await readableOpportunity(ctx, quote.opportunityId, `${where}.quoteId`)) ?? fallback;
    } catch (err) {
      if (!(err instanceof DomainError && err.status === 400)) throw err;
    }
  }
  const owner = await orderOwner(ctx, input.ownerId, fallback);
  // 4. One transaction: the order, the quote's link to it (guarded), both events.
  const uow = new UnitOfWork(ctx);
  const order = addOrder(ctx, uow, {
    // The transaction checks the account still exists (else a 400 on the quote).
    account: { id: quote.accountId },
    accountPath: `${where}.quoteId`,
    opportunityId: quote.opportunityId,
    quoteId: quote.id,
    name: input.name ?? quote.name,
    amount: input.amount ?? quote.totalMinor,
    currency: quote.currency,
    signedAt: input.signedAt,
    ...(input.notes !== undefined ? { notes: input.notes } : {}),
    owner,
  });
  const after: Quote = { ...quote, orderId: order.id, version: quote.version + 1, updatedAt: order.createdAt };
  uow
    .update(
      entityKey(tenant, 'QUOTE', quote.id),
      { expression: 'SET orderId = :order, version = version + :one, updatedAt = :now', values: { ':order': order.id, ':one': 1, ':now': order.createdAt } },
      {
        condition: '#s = :accepted AND attribute_not_exists(orderId)',
        names: { '#s': 'status' },
        values: { ':accepted': 'accepted' },
        onConditionFailed: (current) => {
          if (!current) return notFound('quote');
          const now = quoteOf(current);
          return now.orderId !== undefined
            ? invalidTransition(now.status, 'ordered', `This quote already became order ${now.orderId}.`, { orderId: now.orderId })
            : invalidTransition(now.status, 'ordered');
        },
      },
    )
    .emit('quote.updated', { type: 'quote', id: quote.id }, { before: presentQuote(quote), after: presentQuote(after), changed: ['orderId'] });
  return uow.commit(presentOrder(order));
}
