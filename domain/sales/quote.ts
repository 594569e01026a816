/**
 * The quote (报价单): line items for an opportunity, with totals the server computes.
 * A client never sends a total: `subtotal`, `discount`, `total` (of the quote and of
 * each line) are server-owned, and a body carrying one is a 400 (strict schemas).
 *
 * Stored in integer minor units (`*Minor`), quantities in thousandths and discounts in
 * basis points; clients see major-unit numbers through `presentQuote`. The rounding rule
 * is in domain/sales/money.ts (half up, per line).
 *
 * Status: draft → sent → accepted | rejected, by the action routes only; every status
 * change is appended to `history` with who, when and an optional note.
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';
import { validationFailed } from '#domain/errors.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, rank, stripKeys } from '#domain/table/keys.ts';
import * as money from '#domain/sales/money.ts';
import type { Minor } from '#domain/sales/money.ts';

export const QUOTE_STATUSES = ['draft', 'sent', 'accepted', 'rejected'] as const;
export type QuoteStatus = (typeof QUOTE_STATUSES)[number];
export const MAX_LINES = 200;

const line = z.lazy(() =>
  z.strictObject({
    product: f.name,
    description: z.optional(f.text(1, 2000)),
    quantity: money.quantity,
    unitPrice: money.amount(0),
    discountPct: z.optional(money.discountPct),
  }),
);
const lines = z.lazy(() => z.array(line).check(z.minLength(1), z.maxLength(MAX_LINES)));
export type LineInput = z.infer<typeof line>;

const fields = builtOnFirstUse(() => ({
  /** Defaults to the opportunity's name. */
  name: z.optional(f.name),
  lines,
  /** Defaults to the opportunity's currency, else the tenant's (CNY). */
  currency: z.optional(money.currency),
  validUntil: z.optional(f.date),
  notes: z.optional(f.freeText),
}));
export const quoteCreate = z.lazy(() => z.strictObject(fields()));
export const quotePatch = z.lazy(() =>
  z.strictObject({
    name: z.optional(f.name),
    lines: z.optional(lines),
    currency: z.optional(money.currency),
    validUntil: z.optional(z.nullable(f.date)),
    notes: z.optional(z.nullable(f.freeText)),
  }),
);
export type QuoteCreate = z.infer<typeof quoteCreate>;
export type QuotePatch = z.infer<typeof quotePatch>;

/** Bodies of the status actions: an optional note for the history (and a validity on sending). */
export const quoteSend = z.lazy(() => z.strictObject({ validUntil: z.optional(f.date), note: z.optional(f.text(1, 2000)) }));
export const quoteAccept = z.lazy(() => z.strictObject({ note: z.optional(f.text(1, 2000)) }));
export const quoteReject = z.lazy(() => z.strictObject({ reason: z.optional(f.text(1, 2000)), note: z.optional(f.text(1, 2000)) }));
export type QuoteSend = z.infer<typeof quoteSend>;
export type QuoteAccept = z.infer<typeof quoteAccept>;
export type QuoteReject = z.infer<typeof quoteReject>;

export interface StoredLine {
  product: string;
  description?: string;
  quantityMilli: number;
  unitPriceMinor: Minor;
  discountBp?: number;
  subtotalMinor: Minor;
  discountMinor: Minor;
  totalMinor: Minor;
}

export interface HistoryEntry {
  status: QuoteStatus;
  at: string;
  byUserId: string;
  note?: string;
}

export interface Quote extends StoredRecord {
  opportunityId: string;
  accountId: string;
  name: string;
  status: QuoteStatus;
  currency: string;
  lines: StoredLine[];
  subtotalMinor: Minor;
  discountMinor: Minor;
  totalMinor: Minor;
  validUntil?: string;
  notes?: string;
  rejectionReason?: string;
  /** Set once, when the accepted quote becomes an order. */
  orderId?: string;
  history: HistoryEntry[];
  createdBy: string;
}

/** The quote as every route answers it (`presentQuote` renders it): money in major units. */
export const quoteView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      opportunityId: f.out.id,
      accountId: f.out.id,
      name: f.out.name,
      status: z.enum(QUOTE_STATUSES),
      currency: f.out.code,
      lines: z.array(
        z.object({
          product: f.out.name,
          description: z.optional(f.out.text),
          quantity: z.number(),
          unitPrice: z.number(),
          discountPct: z.optional(z.number()),
          subtotal: z.number(),
          discount: z.number(),
          total: z.number(),
        }),
      ).check(z.maxLength(MAX_LINES)),
      subtotal: z.number(),
      discount: z.number(),
      total: z.number(),
      validUntil: z.optional(f.out.timestamp.check(z.describe('YYYY-MM-DD'))),
      notes: z.optional(f.out.text),
      rejectionReason: z.optional(f.out.text),
      orderId: z.optional(f.out.id.check(z.describe('the order it became'))),
      history: z
        .array(z.object({ status: z.enum(QUOTE_STATUSES), at: f.out.timestamp, byUserId: f.out.id, note: z.optional(f.out.text) }))
        .check(z.maxLength(QUOTE_STATUSES.length), z.describe('one entry per status it reached (draft, sent, then accepted or rejected)')),
      ownerId: z.nullable(f.out.id.check(z.describe("the opportunity's owner when it was made"))),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Quote', description: 'Line items for an opportunity (报价单), with totals the server computes.' })),
);
export type QuoteView = z.infer<typeof quoteView>;
export type LineView = QuoteView['lines'][number];

/** Prices the lines: each rounded on its own (half up), the totals their exact sums. 400 when the total is out of range. */
export function priceLines(input: readonly LineInput[]): { lines: StoredLine[]; subtotal: Minor; discount: Minor; total: Minor } {
  const priced = input.map((l) => {
    const discountBp = l.discountPct ?? 0n;
    const totals = money.lineTotals({ quantityMilli: l.quantity, unitPrice: l.unitPrice, discountBp });
    return { l, discountBp, totals };
  });
  const sums = money.documentTotals(priced.map((p) => p.totals));
  if (!money.fits(sums.subtotal)) {
    throw validationFailed([{ path: 'body.lines', message: `the quote's subtotal is over ${money.MAX_MAJOR}` }]);
  }
  return {
    lines: priced.map(({ l, discountBp, totals }) => ({
      product: l.product,
      ...(l.description !== undefined ? { description: l.description } : {}),
      quantityMilli: Number(l.quantity),
      unitPriceMinor: l.unitPrice,
      ...(l.discountPct !== undefined ? { discountBp: Number(discountBp) } : {}),
      subtotalMinor: Number(totals.subtotal) as Minor,
      discountMinor: Number(totals.discount) as Minor,
      totalMinor: Number(totals.total) as Minor,
    })),
    subtotal: Number(sums.subtotal) as Minor,
    discount: Number(sums.discount) as Minor,
    total: Number(sums.total) as Minor,
  };
}

function lineView(l: StoredLine): LineView {
  return {
    product: l.product,
    ...(l.description !== undefined ? { description: l.description } : {}),
    quantity: money.fromScaled(BigInt(l.quantityMilli), money.QUANTITY_DECIMALS),
    unitPrice: money.fromMinor(l.unitPriceMinor),
    ...(l.discountBp !== undefined ? { discountPct: money.fromScaled(BigInt(l.discountBp), money.PCT_DECIMALS) } : {}),
    subtotal: money.fromMinor(l.subtotalMinor),
    discount: money.fromMinor(l.discountMinor),
    total: money.fromMinor(l.totalMinor),
  };
}

export function presentQuote(q: Quote): QuoteView {
  const { lines: stored, subtotalMinor, discountMinor, totalMinor, ownerTeamId: _team, ...rest } = q;
  return {
    ...rest,
    lines: stored.map(lineView),
    subtotal: money.fromMinor(subtotalMinor),
    discount: money.fromMinor(discountMinor),
    total: money.fromMinor(totalMinor),
  };
}

/** The stored quote with its internal team field (stripKeys drops it). */
export function quoteOf(item: Record<string, unknown>): Quote {
  return { ...stripKeys<Quote>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/** A quote item of the table (Customer 360 reads them from the account's collection) as clients see it. */
export const quoteViewOfItem = (item: Record<string, unknown>): QuoteView => presentQuote(quoteOf(item));

/** An opportunity's quotes, oldest first, are one key range of its account's collection. */
export const quotesOfOpportunity = (opportunityId: string) => `${rank.QUOTE}#QUOTE#${opportunityId}#`;

export const quoteSpec: RecordSpec<Quote> = {
  type: 'QUOTE',
  noun: 'quote',
  readableAs: 'personal',
  events: { created: 'quote.created', updated: 'quote.updated', deleted: 'quote.deleted' },
  indexKeys: (tenantId, q) => ({
    parentPk: accountCollection(tenantId, q.accountId),
    parentSk: `${quotesOfOpportunity(q.opportunityId)}${q.id}`,
  }),
};
