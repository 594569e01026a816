/**
 * Money (API.md §3): at the edge an amount is a JSON number in major units with at most
 * 2 decimals; inside it is an integer count of minor units (cents, fen), stored and
 * computed as integers. There is no floating-point arithmetic on money anywhere: the
 * decimal text of the number is parsed into an integer, sums and products are BigInt,
 * and the way back is decimal text again.
 *
 * Rounding (quotes): every line is rounded on its own, half up (to the nearer cent, a
 * half cent up), first its subtotal `quantity × unitPrice`, then its discount
 * `subtotal × discountPct / 100`. The quote's `subtotal`, `discount` and `total` are the
 * exact sums of the rounded lines, so `total = subtotal − discount` and every total
 * equals the sum of its lines to the cent.
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';

/** An integer number of minor units (1/100 of the currency's major unit). */
export type Minor = number & { readonly __minor: unique symbol };

/** The tenant default when a body names no currency (API.md §3). */
export const DEFAULT_CURRENCY = 'CNY';

/**
 * The largest amount: 9,999,999,999,999.99 (15 significant digits). Every integer of
 * minor units up to it is exact in a double, and its decimal text survives the trip
 * through a JSON number unchanged, so parse and format are exact inverses.
 */
export const MAX_MINOR = 999_999_999_999_999 as Minor;
export const MAX_MAJOR = 9_999_999_999_999.99;

export const ZERO = 0 as Minor;

/**
 * A non-negative number with at most `decimals` decimals as an integer of 10^-decimals
 * units, or undefined. Reads the number's shortest round-trip decimal text (what
 * `JSON.stringify` writes): `1.1` is "1.1", `0.1 + 0.2` is "0.30000000000000004" (too
 * many decimals), `1e-7` and `1e+21` have exponents (refused).
 */
export function toScaled(value: number, decimals: number): bigint | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(value));
  if (!m) return undefined;
  const fraction = m[2] ?? '';
  if (fraction.length > decimals) return undefined;
  return BigInt(m[1]!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
}

/** Major units (at most 2 decimals, 0..MAX_MAJOR) → minor units; undefined when not a valid amount. */
export function toMinor(major: number): Minor | undefined {
  const scaled = toScaled(major, 2);
  if (scaled === undefined || scaled > BigInt(MAX_MINOR)) return undefined;
  return Number(scaled) as Minor;
}

/** Minor units → the decimal text of the amount in major units, always with 2 decimals: 123450 → "1234.50". */
export function formatMinor(minor: Minor | bigint): string {
  const n = BigInt(minor);
  const sign = n < 0n ? '-' : '';
  const digits = (n < 0n ? -n : n).toString().padStart(3, '0');
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** Decimal text ("1234.5", "1234.50", "7") → minor units; undefined when not a valid amount. */
export function parseMinor(text: string): Minor | undefined {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  const n = BigInt(m[1]!) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'));
  return n > BigInt(MAX_MINOR) ? undefined : (Number(n) as Minor);
}

/** Minor units → the JSON number clients get, in major units: 123450 → 1234.5. Exact (see MAX_MINOR). */
export function fromMinor(minor: Minor): number {
  return Number(formatMinor(minor));
}

/** Sum of minor amounts, exact; throws when the sum leaves the range (callers check `fits` first). */
export function sum(amounts: readonly Minor[]): Minor {
  return toMinorChecked(amounts.reduce((acc, a) => acc + BigInt(a), 0n));
}

export const add = (a: Minor, b: Minor): Minor => toMinorChecked(BigInt(a) + BigInt(b));
export const subtract = (a: Minor, b: Minor): Minor => toMinorChecked(BigInt(a) - BigInt(b));

/** True when a BigInt amount of minor units is a valid stored amount. */
export const fits = (n: bigint): boolean => n >= 0n && n <= BigInt(MAX_MINOR);

function toMinorChecked(n: bigint): Minor {
  if (!fits(n)) throw new RangeError(`amount out of range: ${n} minor units`);
  return Number(n) as Minor;
}

/** `a × b / d`, rounded half up; all non-negative integers. */
export function mulDivHalfUp(a: bigint, b: bigint, d: bigint): bigint {
  if (a < 0n || b < 0n || d <= 0n) throw new RangeError('mulDivHalfUp takes non-negative operands and a positive divisor');
  return (2n * a * b + d) / (2n * d);
}

// ---------------------------------------------------------------------------------------
// Quote lines

/** Quantity: more than 0, at most 3 decimals (2.5 days of consulting), stored in thousandths. */
export const QUANTITY_DECIMALS = 3;
export const MAX_QUANTITY = 1_000_000_000;
/** Discount percentage: 0..100 with at most 2 decimals, stored in basis points (1/100 of a percent). */
export const PCT_DECIMALS = 2;

export interface LineInput {
  /** Thousandths of a unit. */
  quantityMilli: bigint;
  unitPrice: Minor;
  /** Basis points: 12.5 % is 1250. */
  discountBp: bigint;
}

export interface LineTotals {
  subtotal: bigint;
  discount: bigint;
  total: bigint;
}

/** One line: subtotal = qty × price rounded half up to the cent; discount = subtotal × pct rounded half up. */
export function lineTotals(line: LineInput): LineTotals {
  const subtotal = mulDivHalfUp(BigInt(line.unitPrice), line.quantityMilli, 10n ** BigInt(QUANTITY_DECIMALS));
  const discount = mulDivHalfUp(subtotal, line.discountBp, 10_000n);
  return { subtotal, discount, total: subtotal - discount };
}

/** A document's totals: the exact sums of its rounded lines. */
export function documentTotals(lines: readonly LineTotals[]): LineTotals {
  const out = { subtotal: 0n, discount: 0n, total: 0n };
  for (const l of lines) {
    out.subtotal += l.subtotal;
    out.discount += l.discount;
    out.total += l.total;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Schemas for the edge

const decimalsMessage = (d: number) => `at most ${d} decimal${d === 1 ? '' : 's'}`;

/**
 * An amount in major units → Minor. `min` is in minor units: 0 allows zero (a free line),
 * 1 requires at least 0.01 (an order, a payment).
 */
export const amount = (min: 0 | 1 = 0) =>
  z.pipe(
    z.number().check(
      z.refine((v) => toScaled(v, 2) !== undefined || v < 0, { message: decimalsMessage(2) }),
      z.minimum(min / 100),
      z.maximum(MAX_MAJOR),
    ),
    z.transform((v: number) => toMinor(v)!),
  );

/** A quantity (> 0, at most 3 decimals) → thousandths of a unit. */
export const quantity = z.lazy(() =>
  z.pipe(
    z.number().check(
      z.refine((v) => toScaled(v, QUANTITY_DECIMALS) !== undefined || v <= 0, { message: decimalsMessage(QUANTITY_DECIMALS) }),
      z.gt(0),
      z.maximum(MAX_QUANTITY),
    ),
    z.transform((v: number) => toScaled(v, QUANTITY_DECIMALS)!),
  ),
);

/** A discount percentage (0..100, at most 2 decimals) → basis points. */
export const discountPct = z.lazy(() =>
  z.pipe(
    z.number().check(
      z.refine((v) => toScaled(v, PCT_DECIMALS) !== undefined || v < 0, { message: decimalsMessage(PCT_DECIMALS) }),
      z.minimum(0),
      z.maximum(100),
    ),
    z.transform((v: number) => toScaled(v, PCT_DECIMALS)!),
  ),
);

const isoCurrencies = builtOnFirstUse(() => new Set(Intl.supportedValuesOf('currency')));

/** A 3-letter ISO 4217 code, any case in, upper case out. */
export const currency = z.lazy(() =>
  z.pipe(
    z.string().check(
      z.maxLength(f.MAX.code),
      z.trim(),
      z.regex(/^[A-Za-z]{3}$/, 'a 3-letter ISO 4217 currency code'),
      z.refine((c) => isoCurrencies().has(c.toUpperCase()), { message: 'not an ISO 4217 currency code' }),
    ),
    z.transform((c: string) => c.toUpperCase()),
  ),
);

/** Back to the edge: a scaled bigint (thousandths, basis points) as the JSON number it came from. */
export function fromScaled(n: bigint, decimals: number): number {
  if (decimals === 0) return Number(n);
  const digits = n.toString().padStart(decimals + 1, '0');
  return Number(`${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`);
}
