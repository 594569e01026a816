/**
 * SLA policy and business-hours arithmetic (api/service.md, "SLA policy and business hours";
 * docs/sla.md). Pure: no I/O, no clock, no state but a per-time-zone formatter cache.
 *
 * WHAT COUNTS. An instant is a business instant when the wall clock of `businessHours.timeZone`
 * at that instant shows a date whose ISO weekday is in `days` and that is not in `holidays`,
 * and a time t with `start` ≤ t < `end`. `businessHours: null` is 24/7: every instant counts
 * (holidays, dates of the business-hours zone, do not apply; the schema refuses them there).
 * Business time is the real time elapsed while that holds, so on a daylight-saving day it is
 * what the clock really covered: an hour the clock skips (spring forward) inside the hours
 * counts 0, an hour it repeats (fall back) counts twice.
 *
 * SUB-MINUTE RULE. Time is continuous, to the millisecond (the precision of a `Date`): nothing
 * is rounded. `businessMinutesBetween` may return a fraction (a 30-second business span is
 * 0.5), and `addBusinessMinutes` keeps the seconds of `start` (Friday 17:30:25 + 60 → Monday
 * 09:30:25 under 09:00–18:00). The amount of minutes is taken to the nearest millisecond. So
 * `businessMinutesBetween(c, s, addBusinessMinutes(c, s, m)) === m` for every whole m ≥ 0, and
 * a pause is measured and added back "to the second, not rounded to minutes" with the same two
 * functions (or with their millisecond forms).
 *
 * DUE TIME. `addBusinessMinutes(c, s, m)` is the EARLIEST instant d with m business minutes in
 * [s, d). Hence m = 0 gives s itself (even outside the hours), and an amount that runs out
 * exactly at a closing time is due at that closing time (Friday 18:00), not at the next opening.
 *
 * HOW. The offset of the zone is read from `Intl.DateTimeFormat` once per day of the span
 * walked (plus a binary search at each offset change); between two changes the local clock is
 * the instant plus a constant, so each local day's window is one interval, intersected with the
 * span arithmetically. Cost: O(days spanned + offset changes), never per minute.
 * Assumption: a zone changes its offset at most once in any 24 hours. In the tz data of Node 20
 * (2025c), from 1970 to 2045, the closest two changes of any zone are 7 days apart.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';

export const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** The length of one probe of the zone's offset (see the assumption above). */
const PROBE_MS = DAY_MS;

// ---------------------------------------------------------------------------------------
// The policy body (PUT /v1/sla/policy) and its calendar part

export const SLA_PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type SlaPriority = (typeof SLA_PRIORITIES)[number];

/** The largest target, and the largest `warnBeforeMinutes`: a year of business minutes. */
export const MAX_TARGET_MINUTES = 525_600;
/** At most this many holidays in a policy. */
export const MAX_HOLIDAYS = 1_000;

export const DEFAULT_SLA_POLICY = {
  targets: {
    urgent: { firstResponseMinutes: 60, resolutionMinutes: 240 },
    high: { firstResponseMinutes: 240, resolutionMinutes: 1440 },
    normal: { firstResponseMinutes: 480, resolutionMinutes: 2880 },
    low: { firstResponseMinutes: 1440, resolutionMinutes: 5760 },
  },
  businessHours: { timeZone: 'Asia/Shanghai', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' },
  holidays: [] as string[],
  warnBeforeMinutes: 30,
} as const;

const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
/** `end` may also be `24:00`, the end of the local day (a `start` may not). */
const HH_MM_END = /^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$/;
const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** IANA names (Area/Location, Etc/GMT+8, UTC); not offsets such as `+08:00`. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-]*(?:\/[A-Za-z0-9_+\-]+)*$/;

/** A time zone name that `Intl.DateTimeFormat` knows (case-insensitively, as Intl does). */
export function isTimeZone(tz: string): boolean {
  if (!ZONE_NAME.test(tz) || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Minutes since local midnight of `HH:MM` (24:00 → 1440). */
export const minuteOfDay = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Days since 1970-01-01 of a valid `YYYY-MM-DD`, or null. */
function dayNumber(date: string): number | null {
  const m = LOCAL_DATE.exec(date);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return Math.round(t.getTime() / DAY_MS);
}

const distinct = (xs: readonly unknown[]) => new Set(xs).size === xs.length;
const D = DEFAULT_SLA_POLICY;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/**
 * `businessHours`: ISO weekdays (1 = Monday … 7 = Sunday) and `start` ≤ t < `end` local time in
 * an IANA time zone. An omitted field takes its default (as everywhere in the PUT body).
 */
const businessHoursObject = builtOnFirstUse(() =>
  z
    .strictObject({
      timeZone: z._default(
        z.string().check(z.maxLength(f.MAX.code), z.refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)')),
        D.businessHours.timeZone,
      ),
      days: z._default(
        z.array(z.int().check(z.minimum(1, 'an ISO weekday, 1 (Monday) to 7 (Sunday)'), z.maximum(7, 'an ISO weekday, 1 (Monday) to 7 (Sunday)'))).check(
          z.minLength(1, 'at least one business day'),
          z.maxLength(7),
          z.refine(distinct, 'days must be distinct'),
        ),
        () => [...D.businessHours.days],
      ),
      start: z._default(z.string().check(z.maxLength(5), z.regex(HH_MM, 'a local time HH:MM, 00:00 to 23:59')), D.businessHours.start),
      end: z._default(z.string().check(z.maxLength(5), z.regex(HH_MM_END, 'a local time HH:MM, 00:01 to 24:00')), D.businessHours.end),
    })
    .check(
      z.refine(
        (h) => !HH_MM.test(h.start) || !HH_MM_END.test(h.end) || minuteOfDay(h.start) < minuteOfDay(h.end),
        { message: 'end must be later than start (hours within one local day; 24:00 ends at midnight)', path: ['end'] },
      ),
    ),
);
export const businessHours = z.lazy(businessHoursObject);

const holidays = builtOnFirstUse(() =>
  z.array(z.string().check(z.maxLength(10), z.refine((s: string) => dayNumber(s) !== null, 'a local date YYYY-MM-DD'))).check(
    z.maxLength(MAX_HOLIDAYS, `at most ${MAX_HOLIDAYS} holidays`),
    z.refine(distinct, 'holidays must be distinct'),
  ),
);

const calendarShape = builtOnFirstUse(() => ({
  /** `null`: 24/7. */
  businessHours: z._default(z.nullable(businessHoursObject()), () => ({ ...D.businessHours, days: [...D.businessHours.days] })),
  /** Local dates (in `businessHours.timeZone`) on which nothing counts. */
  holidays: z._default(holidays(), () => []),
}));

/** Holidays are dates of the business-hours time zone: 24/7 has none, so it takes none. */
const holidaysNeedHours = builtOnFirstUse(() =>
  z.refine<{ businessHours: unknown; holidays: string[] }>(
    (c) => c.businessHours !== null || c.holidays.length === 0,
    {
      message: 'holidays need businessHours: with businessHours null (24/7) every minute counts and there is no time zone for the dates',
      path: ['holidays'],
    },
  ),
);

/** The calendar part of the policy: what the arithmetic below reads. */
export const slaCalendar = z.lazy(() => z.strictObject(calendarShape()).check(holidaysNeedHours()));

const targetMinutes = builtOnFirstUse(() =>
  z.int().check(
    z.minimum(1, 'a target is at least 1 business minute'),
    z.maximum(MAX_TARGET_MINUTES, `a target is at most ${MAX_TARGET_MINUTES} business minutes`),
  ),
);
const priorityTargets = (p: SlaPriority) =>
  z._default(
    z.strictObject({
      firstResponseMinutes: z._default(targetMinutes(), D.targets[p].firstResponseMinutes),
      resolutionMinutes: z._default(targetMinutes(), D.targets[p].resolutionMinutes),
    }),
    () => ({ ...D.targets[p] }),
  );

/**
 * The PUT /v1/sla/policy body, and the policy in force: the whole policy, every omitted field
 * (at any depth) taking its default.
 */
export const slaPolicyBody = z.lazy(() =>
  z
    .strictObject({
      targets: z._default(
        z.strictObject({
          urgent: priorityTargets('urgent'),
          high: priorityTargets('high'),
          normal: priorityTargets('normal'),
          low: priorityTargets('low'),
        }),
        () => ({ urgent: { ...D.targets.urgent }, high: { ...D.targets.high }, normal: { ...D.targets.normal }, low: { ...D.targets.low } }),
      ),
      ...calendarShape(),
      warnBeforeMinutes: z._default(
        z.int().check(z.minimum(0, 'at least 0'), z.maximum(MAX_TARGET_MINUTES, `at most ${MAX_TARGET_MINUTES}`)),
        D.warnBeforeMinutes,
      ),
    })
    .check(holidaysNeedHours()),
);

export type BusinessHours = z.output<typeof businessHours>;
export type SlaCalendar = z.output<typeof slaCalendar>;
export type SlaPolicy = z.output<typeof slaPolicyBody>;
export type SlaTargets = SlaPolicy['targets'];

/** What the arithmetic reads: a calendar, or a whole policy. */
export interface CalendarLike {
  readonly businessHours: {
    readonly timeZone: string;
    readonly days: readonly number[];
    readonly start: string;
    readonly end: string;
  } | null;
  readonly holidays: readonly string[];
}

// ---------------------------------------------------------------------------------------
// Arithmetic

/** Business milliseconds in [from, to): 0 when to ≤ from. */
export function businessMsBetween(c: CalendarLike, from: Date, to: Date): number {
  const a = instant(from, 'from');
  const b = instant(to, 'to');
  if (b <= a) return 0;
  const cal = compile(c);
  if (!cal) return b - a;
  let total = 0;
  walk(cal, a, true, b, (s, e) => {
    if (s >= b) return false;
    total += Math.min(e, b) - s;
    return true;
  });
  return total;
}

/** Business minutes in [from, to): 0 when to ≤ from; a fraction when the span is not whole minutes. */
export function businessMinutesBetween(c: CalendarLike, from: Date, to: Date): number {
  return businessMsBetween(c, from, to) / MINUTE_MS;
}

/** The earliest instant d with `ms` business milliseconds in [start, d) (`ms` a whole number ≥ 0). */
export function addBusinessMs(c: CalendarLike, start: Date, ms: number): Date {
  const s = instant(start, 'start');
  const amount = wholeMs(ms);
  if (amount === 0) return new Date(s);
  const cal = compile(c);
  if (!cal) return dateOf(s + amount);
  let left = amount;
  let due = NaN;
  walk(cal, s, true, Infinity, (a, e) => {
    if (left <= e - a) {
      due = a + left;
      return false;
    }
    left -= e - a;
    return true;
  });
  return dateOf(due);
}

/**
 * The instant when `minutes` business minutes have elapsed after `start`: the earliest d with
 * `businessMinutesBetween(c, start, d) === minutes`. Outside the hours, counting begins at the
 * next opening; an amount that runs out at a closing time is due at that closing time.
 */
export function addBusinessMinutes(c: CalendarLike, start: Date, minutes: number): Date {
  return addBusinessMs(c, start, minutesToMs(minutes));
}

/** The earliest instant w ≤ end with at most `ms` business milliseconds in [w, end). */
export function subtractBusinessMs(c: CalendarLike, end: Date, ms: number): Date {
  const e0 = instant(end, 'end');
  const amount = wholeMs(ms);
  const cal = compile(c);
  if (!cal) return dateOf(e0 - amount);
  let left = amount;
  let at = NaN;
  walk(cal, e0, false, -Infinity, (s, e) => {
    if (left < e - s) {
      at = e - left;
      return false;
    }
    left -= e - s;
    return true;
  });
  return dateOf(at);
}

/**
 * "due − N business minutes": the earliest instant w ≤ `end` with at most `minutes` business
 * minutes in [w, end), so that for every t ≤ end, t ≥ w ⇔ businessMinutesBetween(c, t, end) ≤
 * minutes. The moment an SLA warning is due (`warnBeforeMinutes` before the due time). When the
 * amount runs out exactly at an opening, w is the previous closing (nothing counts in between).
 */
export function subtractBusinessMinutes(c: CalendarLike, end: Date, minutes: number): Date {
  return subtractBusinessMs(c, end, minutesToMs(minutes));
}

// ---------------------------------------------------------------------------------------
// Internals

interface Compiled {
  format: Intl.DateTimeFormat;
  /** Milliseconds since local midnight. */
  open: number;
  close: number;
  /** By ISO weekday 1..7. */
  weekdays: boolean[];
  /** Local dates as days since 1970-01-01. */
  holidays: Set<number>;
}

function instant(d: Date, name: string): number {
  const t = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(t)) throw new RangeError(`${name} is not a valid Date`);
  return t;
}

function wholeMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`the amount must be a whole number of milliseconds ≥ 0 (got ${ms})`);
  return ms;
}

function minutesToMs(minutes: number): number {
  if (!Number.isFinite(minutes) || minutes < 0) throw new RangeError(`the amount must be a finite number of minutes ≥ 0 (got ${minutes})`);
  return Math.round(minutes * MINUTE_MS);
}

function dateOf(t: number): Date {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new RangeError('the result is beyond the range of Date');
  return d;
}

/** null: 24/7. Throws on a calendar the schema would refuse in a way that matters here. */
function compile(c: CalendarLike): Compiled | null {
  const h = c.businessHours;
  if (h === null) return null;
  if (!HH_MM.test(h.start) || !HH_MM_END.test(h.end) || minuteOfDay(h.start) >= minuteOfDay(h.end)) {
    throw new RangeError(`business hours ${h.start}–${h.end} are not a non-empty range within a day`);
  }
  const weekdays = Array.from({ length: 8 }, (_, i) => h.days.includes(i));
  if (!weekdays.some(Boolean)) throw new RangeError('business hours without any day');
  const days = new Set<number>();
  for (const date of c.holidays) {
    const n = dayNumber(date);
    if (n === null) throw new RangeError(`holiday ${date} is not a date YYYY-MM-DD`);
    days.add(n);
  }
  return { format: formatterOf(h.timeZone), open: minuteOfDay(h.start) * MINUTE_MS, close: minuteOfDay(h.end) * MINUTE_MS, weekdays, holidays: days };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    if (!isTimeZone(timeZone)) throw new RangeError(`not an IANA time zone: ${timeZone}`);
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * local wall clock − UTC at instant t, in ms. (`format` and a parse of its six numbers: several
 * times faster than `formatToParts`.)
 */
function offsetAt(f: Intl.DateTimeFormat, t: number): number {
  const text = f.format(t);
  const n = text.match(/\d+/g);
  if (!n || n.length < 6) throw new RangeError(`unexpected local time ${text}`);
  const [mo, d, y, h, mi, s] = n.map(Number) as [number, number, number, number, number, number];
  const year = /B/.test(text) ? 1 - y : y;
  const second = Math.floor(t / 1000) * 1000;
  let local: number;
  if (year >= 100) local = Date.UTC(year, mo - 1, d, h % 24, mi, s);
  else {
    const x = new Date(0);
    x.setUTCFullYear(year, mo - 1, d);
    x.setUTCHours(h % 24, mi, s, 0);
    local = x.getTime();
  }
  return local - second;
}

/**
 * Calls `visit(s, e)` with each business interval, in order: forward from `from` (clipped to
 * [from, ∞)) until a chunk starts at or after `limit`, or backward (clipped to (−∞, from])
 * until one ends at or before `limit`; and until `visit` returns false. Intervals may touch.
 */
function walk(cal: Compiled, from: number, forward: boolean, limit: number, visit: (s: number, e: number) => boolean): void {
  let edge = from;
  let edgeOffset = offsetAt(cal.format, edge);
  for (;;) {
    if (forward ? edge >= limit : edge <= limit) return;
    const next = forward ? edge + PROBE_MS : edge - PROBE_MS;
    const nextOffset = offsetAt(cal.format, next);
    const [lo, hi, loOffset, hiOffset] = forward ? [edge, next, edgeOffset, nextOffset] : [next, edge, nextOffset, edgeOffset];
    // [lo, hi) at loOffset up to the change (if any), then at hiOffset.
    const change = loOffset === hiOffset ? hi : changeAt(cal.format, lo, hi, loOffset);
    const pieces: [number, number, number][] = [
      [lo, change, loOffset],
      [change, hi, hiOffset],
    ];
    if (!forward) pieces.reverse();
    for (const [a, b, offset] of pieces) {
      if (a < b && !visitPiece(cal, a, b, offset, forward, visit)) return;
    }
    edge = next;
    edgeOffset = nextOffset;
  }
}

/** The first instant in (lo, hi] whose offset is not `loOffset` (offsetAt(hi) differs). */
function changeAt(f: Intl.DateTimeFormat, lo: number, hi: number, loOffset: number): number {
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (offsetAt(f, mid) === loOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The business intervals within [a, b), where the local clock is the instant + `offset`. */
function visitPiece(cal: Compiled, a: number, b: number, offset: number, forward: boolean, visit: (s: number, e: number) => boolean): boolean {
  const la = a + offset;
  const lb = b + offset;
  const first = Math.floor(la / DAY_MS);
  const last = Math.floor((lb - 1) / DAY_MS);
  for (let i = 0; i <= last - first; i++) {
    const day = forward ? first + i : last - i;
    if (!cal.weekdays[isoWeekday(day)] || cal.holidays.has(day)) continue;
    const s = Math.max(day * DAY_MS + cal.open, la);
    const e = Math.min(day * DAY_MS + cal.close, lb);
    if (s < e && !visit(s - offset, e - offset)) return false;
  }
  return true;
}

/** ISO weekday of a day number (1970-01-01, day 0, was a Thursday: 4). */
const isoWeekday = (day: number) => ((((day + 3) % 7) + 7) % 7) + 1;
