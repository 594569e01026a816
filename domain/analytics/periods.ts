/**
 * Periods of the analytics pages (api/analytics.md "Time and scope"): calendar months
 * `YYYY-MM` and quarters `YYYY-Qn`, in the tenant's time zone. A fact belongs to the month
 * in which its moment falls in that zone; a date (`expectedCloseDate`) is already local.
 */
import * as z from 'zod/mini';
import { localDate } from '#domain/pool/rules.ts';

export const monthPattern = /^\d{4}-(0[1-9]|1[0-2])$/;
export const quarterPattern = /^\d{4}-Q[1-4]$/;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const month = z.lazy(() => z.string().check(z.maxLength(7), z.regex(monthPattern, 'a month as YYYY-MM')));
export const monthOrQuarter = z.lazy(() => z.string().check(z.maxLength(7), z.regex(/^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$/, 'a month as YYYY-MM or a quarter as YYYY-Q1..YYYY-Q4')));

/** The month of an instant in a time zone. */
export const monthOf = (at: string | Date, timeZone: string): string => localDate(typeof at === 'string' ? new Date(at) : at, timeZone).slice(0, 7);

/** The month of a local date `YYYY-MM-DD`. */
export const monthOfDate = (date: string): string => date.slice(0, 7);

/** `YYYY-MM` plus `n` months (n may be negative). */
export function addMonths(m: string, n: number): string {
  const index = Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1 + n;
  const year = Math.floor(index / 12);
  return `${String(year).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/** Months from `from` to `to` inclusive, in order. */
export function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let m = from; m <= to; m = addMonths(m, 1)) out.push(m);
  return out;
}

export const quarterOf = (m: string): string => `${m.slice(0, 4)}-Q${Math.floor((Number(m.slice(5, 7)) - 1) / 3) + 1}`;

/** The months of a period: itself for a month, three for a quarter. */
export function monthsOf(period: string): string[] {
  if (monthPattern.test(period)) return [period];
  const first = `${period.slice(0, 4)}-${String((Number(period.slice(6)) - 1) * 3 + 1).padStart(2, '0')}`;
  return [first, addMonths(first, 1), addMonths(first, 2)];
}
