/**
 * The order (订单/合同): a signed contract with an account, and its payments (回款).
 * Amounts are stored as integer minor units (`amountMinor`, `collectedMinor`,
 * `outstandingMinor`); clients see major-unit numbers (`amount`, `collectedAmount`,
 * `outstandingAmount`) through `presentOrder`. `outstandingMinor` is kept beside
 * `collectedMinor` so the overpayment guard is a plain condition in the payment's
 * transaction: `outstandingMinor >= :amount` is `collected + amount <= amount`.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, ownerPartition, rank, stripKeys, t, teamPartition, typePartition } from '#domain/table/keys.ts';
import * as money from '#domain/sales/money.ts';
import type { Minor } from '#domain/sales/money.ts';

export const PAYMENT_STATUSES = ['unpaid', 'partial', 'paid'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];
export const PAYMENT_METHODS = ['bank_transfer', 'cash', 'check', 'card', 'online', 'other'] as const;

export const orderCreate = z.lazy(() =>
  z.strictObject({
    /** Required unless `quoteId` names an accepted quote (then it is the quote's account). */
    accountId: z.optional(f.id),
    opportunityId: z.optional(f.id),
    quoteId: z.optional(f.id),
    name: z.optional(f.name),
    /** Required unless `quoteId` is given (then it defaults to the quote's total). */
    amount: z.optional(money.amount(1)),
    currency: z.optional(money.currency),
    signedAt: f.timestamp,
    notes: z.optional(f.freeText),
    ownerId: z.optional(f.id),
  }),
);
export type OrderCreate = z.infer<typeof orderCreate>;

/** `POST /v1/quotes/{id}/order`: the quote gives account, opportunity, currency and (by default) the amount. */
export const orderFromQuote = z.lazy(() =>
  z.strictObject({
    name: z.optional(f.name),
    amount: z.optional(money.amount(1)),
    signedAt: f.timestamp,
    notes: z.optional(f.freeText),
    ownerId: z.optional(f.id),
  }),
);
export type OrderFromQuote = z.infer<typeof orderFromQuote>;

export const orderPatch = z.lazy(() =>
  z.strictObject({
    name: z.optional(f.name),
    amount: z.optional(money.amount(1)),
    signedAt: z.optional(f.timestamp),
    notes: z.optional(z.nullable(f.freeText)),
    ownerId: z.optional(f.id),
  }),
);
export type OrderPatch = z.infer<typeof orderPatch>;

export const paymentCreate = z.lazy(() =>
  z.strictObject({
    amount: money.amount(1),
    /** Defaults to now. */
    receivedAt: z.optional(f.timestamp),
    /** The order's currency; another one is a 400 (no conversion). */
    currency: z.optional(money.currency),
    method: z.optional(z.enum(PAYMENT_METHODS)),
    reference: z.optional(f.text(1, 200)),
    notes: z.optional(f.freeText),
  }),
);
export type PaymentCreate = z.infer<typeof paymentCreate>;

/** The stored order. */
export interface Order extends StoredRecord {
  accountId: string;
  opportunityId?: string;
  quoteId?: string;
  name: string;
  currency: string;
  amountMinor: Minor;
  collectedMinor: Minor;
  outstandingMinor: Minor;
  paymentStatus: PaymentStatus;
  paymentCount: number;
  lastPaymentAt?: string;
  signedAt: string;
  notes?: string;
  createdBy: string;
  /** The owner and team when it was signed: who the analytics credit the order to (internal). */
  signedOwnerId?: string | null;
  signedTeamId?: string | null;
}

/** The order as every route answers it (`presentOrder` renders it); a payment answers it too. */
export const orderView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      accountId: f.out.id,
      opportunityId: z.optional(f.out.id),
      quoteId: z.optional(f.out.id),
      name: f.out.name,
      amount: z.number(),
      currency: f.out.code,
      collectedAmount: z.number(),
      outstandingAmount: z.number(),
      paymentStatus: z.enum(PAYMENT_STATUSES),
      paymentCount: z.int(),
      lastPaymentAt: z.optional(f.out.timestamp),
      signedAt: f.out.timestamp,
      notes: z.optional(f.out.text),
      ownerId: z.nullable(f.out.id),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Order', description: 'A signed contract (订单/合同) and what has been collected on it.' })),
);
export type OrderView = z.infer<typeof orderView>;

export function paymentStatusOf(amount: Minor, collected: Minor): PaymentStatus {
  if (collected === 0) return 'unpaid';
  return collected >= amount ? 'paid' : 'partial';
}

export function presentOrder(o: Order): OrderView {
  return {
    id: o.id,
    accountId: o.accountId,
    ...(o.opportunityId !== undefined ? { opportunityId: o.opportunityId } : {}),
    ...(o.quoteId !== undefined ? { quoteId: o.quoteId } : {}),
    name: o.name,
    amount: money.fromMinor(o.amountMinor),
    currency: o.currency,
    collectedAmount: money.fromMinor(o.collectedMinor),
    outstandingAmount: money.fromMinor(o.outstandingMinor),
    paymentStatus: o.paymentStatus,
    paymentCount: o.paymentCount,
    ...(o.lastPaymentAt !== undefined ? { lastPaymentAt: o.lastPaymentAt } : {}),
    signedAt: o.signedAt,
    ...(o.notes !== undefined ? { notes: o.notes } : {}),
    ownerId: o.ownerId,
    createdBy: o.createdBy,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    version: o.version,
  };
}

/** An order item of the table (Customer 360 reads them from the account's collection) as clients see it. */
export const orderViewOfItem = (item: Record<string, unknown>): OrderView => presentOrder(stripKeys<Order>(item));

/** Newest signed first in every list; `signedFrom`/`signedTo` are key ranges. */
const orderSort = (o: Pick<Order, 'signedAt' | 'id'>) => `${o.signedAt}#${o.id}`;
export const ORDER_IN_ACCOUNT = `${rank.ORDER}#ORDER#`;

export const orderSpec: RecordSpec<Order> = {
  type: 'ORDER',
  noun: 'order',
  readableAs: 'personal',
  events: { created: 'order.created', updated: 'order.updated', deleted: 'order.deleted' },
  indexKeys: (tenantId, o) => ({
    parentPk: accountCollection(tenantId, o.accountId),
    parentSk: `${ORDER_IN_ACCOUNT}${orderSort(o)}`,
    ownerPk: o.ownerId ? ownerPartition(tenantId, 'ORDER', o.ownerId) : undefined,
    ownerSk: o.ownerId ? orderSort(o) : undefined,
    teamPk: o.ownerTeamId ? teamPartition(tenantId, 'ORDER', o.ownerTeamId) : undefined,
    teamSk: o.ownerTeamId ? orderSort(o) : undefined,
    typePk: typePartition(tenantId, 'ORDER'),
    typeSk: orderSort(o),
  }),
};

// ---------------------------------------------------------------------------------------
// Payments: items in the order's own partition, oldest received first.

export interface Payment {
  id: string;
  orderId: string;
  amountMinor: Minor;
  currency: string;
  receivedAt: string;
  method?: (typeof PAYMENT_METHODS)[number];
  reference?: string;
  notes?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** The order's owner and team when it was received: who the analytics credit it to (internal). */
  ownerId?: string | null;
  ownerTeamId?: string | null;
}

/** A payment (回款) as `GET /v1/orders/{id}/payments` lists it. */
export const paymentView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      orderId: f.out.id,
      amount: z.number(),
      currency: f.out.code,
      receivedAt: f.out.timestamp,
      method: z.optional(z.enum(PAYMENT_METHODS)),
      reference: z.optional(f.out.text),
      notes: z.optional(f.out.text),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Payment' })),
);
export type PaymentView = z.infer<typeof paymentView>;

export const PAYMENT_PREFIX = 'PAYMENT#';
export const paymentKey = (tenantId: string, orderId: string, receivedAt: string, paymentId: string) => ({
  PK: `${t(tenantId)}#ORDER#${orderId}`,
  SK: `${PAYMENT_PREFIX}${receivedAt}#${paymentId}`,
});

export function presentPayment(p: Payment): PaymentView {
  const { amountMinor, ownerId: _o, ownerTeamId: _t, ...rest } = p;
  return { ...rest, amount: money.fromMinor(amountMinor) };
}
