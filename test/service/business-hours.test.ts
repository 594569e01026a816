/**
 * SLA business-hours arithmetic (domain/service/business-hours.ts, docs/sla.md): the policy
 * schema, hand-checked due times (the contract's example, weekends, holidays, DST, midnight,
 * month and year ends, 24/7), and properties against a minute-by-minute reference.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_SLA_POLICY,
  addBusinessMinutes,
  addBusinessMs,
  businessMinutesBetween,
  businessMsBetween,
  slaCalendar,
  slaPolicyBody,
  subtractBusinessMinutes,
  subtractBusinessMs,
  type SlaCalendar,
} from '#domain/service/business-hours.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const at = (iso: string) => new Date(iso);
const iso = (d: Date) => d.toISOString();

const cal = (timeZone: string, days: number[], start: string, end: string, holidays: string[] = []): SlaCalendar => ({
  businessHours: { timeZone, days, start, end },
  holidays,
});
const SHANGHAI = slaCalendar.parse({}); // the default: Asia/Shanghai, Mon–Fri 09:00–18:00
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];

// ---------------------------------------------------------------------------------------
// The reference: walk each UTC minute and ask the wall clock whether it is a business minute.
// (Every zone below has whole-minute offsets changing on whole minutes from 2000 on, so each
// UTC minute is wholly in or out.)

const labelFormats = new Map<string, Intl.DateTimeFormat>();
/** `YYYY-MM-DD HH:MM`, the local wall clock at instant t (sv-SE writes ISO-like dates). */
function wallClock(timeZone: string, t: number): string {
  let f = labelFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    labelFormats.set(timeZone, f);
  }
  return f.format(t);
}

function isBusinessMinute(c: SlaCalendar, minute: number): boolean {
  const h = c.businessHours;
  if (h === null) return true;
  const label = wallClock(h.timeZone, minute * MIN);
  const date = label.slice(0, 10);
  const time = label.slice(11, 16);
  const isoWeekday = new Date(`${date}T00:00:00Z`).getUTCDay() || 7;
  return h.days.includes(isoWeekday) && !c.holidays.includes(date) && h.start <= time && time < h.end;
}

/** Business ms in [from, to), minute by minute. */
function refBetweenMs(c: SlaCalendar, from: number, to: number): number {
  let total = 0;
  for (let k = Math.floor(from / MIN); k * MIN < to; k++) {
    const overlap = Math.min(to, (k + 1) * MIN) - Math.max(from, k * MIN);
    if (overlap > 0 && isBusinessMinute(c, k)) total += overlap;
  }
  return total;
}

/** The earliest d with `ms` business ms in [start, d), walking minutes; null when beyond start + capMs. */
function refAddMs(c: SlaCalendar, start: number, ms: number, capMs: number): number | null {
  if (ms === 0) return start;
  let left = ms;
  for (let k = Math.floor(start / MIN); k * MIN < start + capMs; k++) {
    if (!isBusinessMinute(c, k)) continue;
    const from = Math.max(start, k * MIN);
    const avail = (k + 1) * MIN - from;
    if (left <= avail) return from + left;
    left -= avail;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Random calendars and instants

/** Zones, each with the instants (UTC) at which its offset changes near the years tested. */
const ZONE_CHANGES: Record<string, string[]> = {
  'Asia/Shanghai': [],
  'America/New_York': ['2026-03-08T07:00:00Z', '2026-11-01T06:00:00Z'],
  'Europe/Berlin': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z'],
  'Europe/London': ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z'],
  'Australia/Sydney': ['2026-04-04T16:00:00Z', '2026-10-03T16:00:00Z'],
  'Australia/Lord_Howe': ['2026-04-04T15:00:00Z', '2026-10-03T15:30:00Z'], // 30-minute DST
  'America/Sao_Paulo': ['2018-11-04T03:00:00Z', '2019-02-17T02:00:00Z'], // at local midnight
  'America/Havana': ['2026-03-08T05:00:00Z', '2026-11-01T05:00:00Z'], // at local midnight
  'Asia/Tehran': ['2021-03-21T20:30:00Z', '2021-09-21T19:30:00Z'], // at local midnight
  'America/St_Johns': ['2026-03-08T05:30:00Z', '2026-11-01T04:30:00Z'], // −03:30
  'Asia/Kathmandu': [], // +05:45
  'Pacific/Chatham': ['2026-04-04T14:00:00Z', '2026-09-26T14:00:00Z'], // +13:45 / +12:45
  'Pacific/Apia': ['2011-09-24T14:00:00Z', '2011-12-30T10:00:00Z'], // then skipped 2011-12-30
  'Africa/Casablanca': ['2026-02-15T02:00:00Z', '2026-03-22T02:00:00Z'], // Ramadan
  UTC: [],
};
const ZONES = Object.keys(ZONE_CHANGES);

/** Instants every zone is tried near: midnights of a year end and a leap day (UTC). */
const COMMON_ANCHORS = ['2026-12-31T16:00:00Z', '2026-12-31T23:00:00Z', '2028-02-29T12:00:00Z'];

const minuteOfDay = fc.oneof(fc.integer({ min: 0, max: 1440 }), fc.constantFrom(0, 60, 90, 120, 150, 180, 1380, 1439, 1440));
const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

const hoursIn = (zones: readonly string[]) =>
  fc
    .record({
      timeZone: fc.constantFrom(...zones),
      days: fc.subarray(EVERY_DAY, { minLength: 1 }),
      a: minuteOfDay,
      b: minuteOfDay,
    })
    .map(({ timeZone, days, a, b }) => {
      let [lo, hi] = a < b ? [a, b] : [b, a];
      if (lo === hi) hi < 1440 ? (hi += 1) : (lo -= 1);
      return { timeZone, days, start: hhmm(lo), end: hhmm(hi) };
    });

/** Instants near the zone's offset changes (mostly a little before), year and month ends, or anywhere. */
const instantArb = (timeZone: string) => {
  const anchors = [...ZONE_CHANGES[timeZone]!, ...ZONE_CHANGES[timeZone]!, ...COMMON_ANCHORS].map(Date.parse);
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...anchors), fc.integer({ min: -2 * DAY, max: DAY / 2 })).map(([a, d]) => a + d) },
    // whole minutes too, where the boundaries fall exactly
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...anchors), fc.integer({ min: -2 * 1440, max: 720 })).map(([a, m]) => a + m * MIN) },
    { weight: 1, arbitrary: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }) },
  );
};

/** A calendar (or 24/7) in one of `zones`, with holidays around `instant` (8 days before to 12 after). */
const calendarAround = (zones: readonly string[], instant: (timeZone: string) => fc.Arbitrary<number>) =>
  fc
    .record({
      hours: hoursIn(zones),
      always: fc.integer({ min: 0, max: 7 }).map((n) => n === 0), // 24/7 one time in eight
      holidayOffsets: fc.uniqueArray(fc.integer({ min: -8, max: 12 }), { maxLength: 4 }),
    })
    .chain(({ hours, always, holidayOffsets }) =>
      instant(hours.timeZone).map((at) => {
        const holidays = always ? [] : holidayOffsets.map((k) => new Date(at + k * DAY).toISOString().slice(0, 10));
        const calendar = slaCalendar.parse({ businessHours: always ? null : hours, holidays }); // every scenario is a valid policy
        return { calendar, instant: at };
      }),
    );

const scenarioArb = calendarAround(ZONES, instantArb);

/** Spans in ms: mostly up to 3 days, some up to 10 (the reference walks them minute by minute). */
const spanArb = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 * DAY }) },
  { weight: 2, arbitrary: fc.integer({ min: DAY, max: 3 * DAY }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 10 * DAY }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3 * 1440 }).map((m) => m * MIN) },
);

/** A span [instant, instant + span) that contains one of the zone's offset changes. */
const ZONES_THAT_CHANGE = ZONES.filter((z) => ZONE_CHANGES[z]!.length > 0);
const crossingArb = fc
  .tuple(fc.integer({ min: 0, max: 2 * DAY }), fc.integer({ min: 1, max: 2 * DAY }), fc.boolean())
  .chain(([before, after, wholeMinutes]) => {
    const [b, a] = wholeMinutes ? [before - (before % MIN), after - (after % MIN) + MIN] : [before, after];
    return calendarAround(ZONES_THAT_CHANGE, (tz) => fc.constantFrom(...ZONE_CHANGES[tz]!.map(Date.parse)).map((change) => change - b)).map((c) => ({
      ...c,
      span: b + a,
    }));
  });

/** A calendar, an instant and a span: half of them across an offset change. */
const caseArb = fc.oneof(
  fc.tuple(scenarioArb, spanArb).map(([c, span]) => ({ ...c, span })),
  crossingArb,
);

const SEED = 20_260_904;

/** Business minutes in a week of the calendar, roughly (DST and holidays aside). */
function perWeek(c: SlaCalendar): number {
  const h = c.businessHours;
  return h === null ? 7 * 1440 : h.days.length * (toMinutes(h.end) - toMinutes(h.start));
}
const share = fc.double({ min: 0, max: 1, noNaN: true });

// ---------------------------------------------------------------------------------------

describe('the policy schema', () => {
  const issues = (body: unknown) => {
    const r = slaPolicyBody.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };

  it('an empty body is the contract\'s default policy; omitted fields at any depth take their defaults', () => {
    expect(slaPolicyBody.parse({})).toEqual(DEFAULT_SLA_POLICY);
    const p = slaPolicyBody.parse({ targets: { urgent: { firstResponseMinutes: 30 } }, businessHours: { timeZone: 'Europe/Berlin' } });
    expect(p.targets.urgent).toEqual({ firstResponseMinutes: 30, resolutionMinutes: 240 });
    expect(p.targets.low).toEqual(DEFAULT_SLA_POLICY.targets.low);
    expect(p.businessHours).toEqual({ timeZone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' });
    // The defaults are fresh copies: mutating one parse does not leak into the next.
    slaPolicyBody.parse({}).businessHours!.days.push(6);
    expect(slaPolicyBody.parse({}).businessHours!.days).toEqual([1, 2, 3, 4, 5]);
  });

  it('accepts 24/7 (businessHours null), an end of 24:00, holidays as local dates', () => {
    expect(slaPolicyBody.parse({ businessHours: null }).businessHours).toBeNull();
    expect(issues({ businessHours: { start: '00:00', end: '24:00', days: [6, 7] } })).toEqual([]);
    expect(issues({ holidays: ['2026-10-01', '2028-02-29'] })).toEqual([]);
    expect(issues({ businessHours: { timeZone: 'America/New_York' }, warnBeforeMinutes: 0 })).toEqual([]);
  });

  it('start ≥ end is refused at businessHours.end', () => {
    expect(issues({ businessHours: { start: '18:00', end: '09:00' } })).toEqual([{ path: 'businessHours.end', message: expect.stringMatching(/later than start/) }]);
    expect(issues({ businessHours: { start: '09:00', end: '09:00' } }).map((i) => i.path)).toEqual(['businessHours.end']);
    expect(issues({ businessHours: { start: '24:00', end: '24:00' } }).map((i) => i.path)).toEqual(['businessHours.start']);
    expect(issues({ businessHours: { start: '9:00' } }).map((i) => i.path)).toEqual(['businessHours.start']);
    expect(issues({ businessHours: { end: '18:60' } }).map((i) => i.path)).toEqual(['businessHours.end']);
  });

  it('days: non-empty, distinct ISO weekdays 1..7', () => {
    expect(issues({ businessHours: { days: [] } })).toEqual([{ path: 'businessHours.days', message: 'at least one business day' }]);
    expect(issues({ businessHours: { days: [1, 1] } }).map((i) => i.path)).toEqual(['businessHours.days']);
    expect(issues({ businessHours: { days: [0, 8] } }).map((i) => i.path)).toEqual(['businessHours.days.0', 'businessHours.days.1']);
    expect(issues({ businessHours: { days: [1.5] } }).map((i) => i.path)).toEqual(['businessHours.days.0']);
  });

  it('timeZone: an IANA name Intl knows, not an offset', () => {
    for (const timeZone of ['Mars/Olympus_Mons', '+08:00', 'GMT+8:00', '', 'Asia/Shanghai '])
      expect(issues({ businessHours: { timeZone } }).map((i) => i.path), timeZone).toEqual(['businessHours.timeZone']);
    for (const timeZone of ['UTC', 'Etc/GMT-8', 'America/Argentina/Buenos_Aires']) expect(issues({ businessHours: { timeZone } }), timeZone).toEqual([]);
  });

  it('targets: whole business minutes ≥ 1', () => {
    expect(issues({ targets: { urgent: { firstResponseMinutes: 0 } } })).toEqual([{ path: 'targets.urgent.firstResponseMinutes', message: 'a target is at least 1 business minute' }]);
    expect(issues({ targets: { low: { resolutionMinutes: -5 } } }).map((i) => i.path)).toEqual(['targets.low.resolutionMinutes']);
    expect(issues({ targets: { high: { resolutionMinutes: 1.5 } } }).map((i) => i.path)).toEqual(['targets.high.resolutionMinutes']);
    expect(issues({ warnBeforeMinutes: -1 }).map((i) => i.path)).toEqual(['warnBeforeMinutes']);
  });

  it('holidays: real dates, distinct, and none under 24/7 (no time zone to place them in)', () => {
    expect(issues({ holidays: ['2026-02-30'] })).toEqual([{ path: 'holidays.0', message: 'a local date YYYY-MM-DD' }]);
    expect(issues({ holidays: ['2026-10-01', '2026-1-2'] }).map((i) => i.path)).toEqual(['holidays.1']);
    expect(issues({ holidays: ['2026-10-01', '2026-10-01'] }).map((i) => i.path)).toEqual(['holidays']);
    expect(issues({ businessHours: null, holidays: ['2026-10-01'] }).map((i) => i.path)).toEqual(['holidays']);
  });

  it('is strict: unknown fields are refused', () => {
    expect(slaPolicyBody.safeParse({ timeZone: 'Asia/Shanghai' }).success).toBe(false);
    expect(slaPolicyBody.safeParse({ businessHours: { timeZone: 'Asia/Shanghai', weekdays: [1] } }).success).toBe(false);
    expect(slaPolicyBody.safeParse({ targets: { critical: { firstResponseMinutes: 5 } } }).success).toBe(false);
    expect(slaCalendar.safeParse({ targets: {} }).success).toBe(false);
  });
});

describe('due times, checked by hand', () => {
  it('the contract\'s example: normal (480 min) created Friday 2026-12-04 17:00 Shanghai → Monday 16:00', () => {
    const policy = slaPolicyBody.parse({});
    const created = at('2026-12-04T09:00:00Z'); // Friday 17:00 +08:00
    expect(iso(addBusinessMinutes(policy, created, policy.targets.normal.firstResponseMinutes))).toBe('2026-12-07T08:00:00.000Z');
    expect(businessMinutesBetween(policy, created, at('2026-12-04T10:00:00Z'))).toBe(60); // "60 business minutes left that Friday"
  });

  it('docs/sla.md, the worked example: due times, warnings, a pause, a priority change', () => {
    const policy = slaPolicyBody.parse({});
    const created = at('2026-12-04T09:00:00Z');
    const firstResponseDueAt = addBusinessMinutes(policy, created, policy.targets.normal.firstResponseMinutes);
    const resolutionDueAt = addBusinessMinutes(policy, created, policy.targets.normal.resolutionMinutes);
    expect(iso(resolutionDueAt)).toBe('2026-12-14T03:00:00.000Z');
    expect(iso(subtractBusinessMinutes(policy, firstResponseDueAt, policy.warnBeforeMinutes))).toBe('2026-12-07T07:30:00.000Z');
    expect(iso(addBusinessMinutes({ ...policy, holidays: ['2026-12-07'] }, created, 480))).toBe('2026-12-08T08:00:00.000Z');
    expect(iso(addBusinessMinutes(policy, at('2026-12-04T09:30:25Z'), 480))).toBe('2026-12-07T08:30:25.000Z');
    const paused = businessMsBetween(policy, at('2026-12-07T09:50:00Z'), at('2026-12-08T01:10:30Z'));
    expect(paused).toBe(20.5 * MIN);
    expect(iso(addBusinessMs(policy, resolutionDueAt, paused))).toBe('2026-12-14T03:20:30.000Z');
    expect(iso(addBusinessMs(policy, created, policy.targets.high.resolutionMinutes * MIN + paused))).toBe('2026-12-09T06:20:30.000Z');
  });

  it('Friday 17:30 Shanghai + 60 → Monday 09:30; a Monday holiday → Tuesday 09:30', () => {
    const friday1730 = at('2026-12-04T09:30:00Z');
    expect(iso(addBusinessMinutes(SHANGHAI, friday1730, 60))).toBe('2026-12-07T01:30:00.000Z');
    const withHoliday = { ...SHANGHAI, holidays: ['2026-12-07'] };
    expect(iso(addBusinessMinutes(withHoliday, friday1730, 60))).toBe('2026-12-08T01:30:00.000Z');
    expect(businessMinutesBetween(withHoliday, friday1730, at('2026-12-08T01:30:00Z'))).toBe(60);
  });

  it('sub-minute: the seconds of the start are kept; fractions of a minute are counted exactly', () => {
    expect(iso(addBusinessMinutes(SHANGHAI, at('2026-12-04T09:30:25.500Z'), 60))).toBe('2026-12-07T01:30:25.500Z');
    expect(businessMinutesBetween(SHANGHAI, at('2026-12-04T09:59:30Z'), at('2026-12-07T01:00:15Z'))).toBe(0.75); // 30 s + 15 s
    expect(iso(addBusinessMinutes(SHANGHAI, at('2026-12-04T09:59:30Z'), 0.75))).toBe('2026-12-07T01:00:15.000Z');
    expect(businessMsBetween(SHANGHAI, at('2026-12-04T09:59:59.999Z'), at('2026-12-07T01:00:00.001Z'))).toBe(2);
  });

  it('0 minutes is due at once; an amount that runs out at closing time is due at closing, not at the next opening', () => {
    const saturday = at('2026-12-05T03:00:00Z');
    expect(iso(addBusinessMinutes(SHANGHAI, saturday, 0))).toBe(iso(saturday));
    expect(iso(addBusinessMinutes(SHANGHAI, at('2026-12-04T09:00:00Z'), 60))).toBe('2026-12-04T10:00:00.000Z'); // Friday 18:00
    expect(iso(addBusinessMinutes(SHANGHAI, saturday, 1))).toBe('2026-12-07T01:01:00.000Z'); // counting starts Monday 09:00
  });

  it('New York, spring forward (2026-03-08): the offset of Monday is used, not Friday\'s', () => {
    const ny = cal('America/New_York', [1, 2, 3, 4, 5], '09:00', '17:00');
    // Friday 16:00 EST (−05:00) + 120 → 60 on Friday, 60 on Monday → Monday 10:00 EDT (−04:00).
    expect(iso(addBusinessMinutes(ny, at('2026-03-06T21:00:00Z'), 120))).toBe('2026-03-09T14:00:00.000Z');
    // Hours 00:00–06:00 every day: that Sunday the clock skips 02:00–03:00, so 5 real hours count.
    const nights = cal('America/New_York', EVERY_DAY, '00:00', '06:00');
    expect(businessMinutesBetween(nights, at('2026-03-08T05:00:00Z'), at('2026-03-09T04:00:00Z'))).toBe(300);
    expect(iso(addBusinessMinutes(nights, at('2026-03-08T05:00:00Z'), 180))).toBe('2026-03-08T08:00:00.000Z'); // 04:00 EDT
    // Hours entirely inside the skipped hour: nothing counts that day.
    const skipped = cal('America/New_York', EVERY_DAY, '02:00', '03:00');
    expect(businessMinutesBetween(skipped, at('2026-03-08T05:00:00Z'), at('2026-03-09T04:00:00Z'))).toBe(0);
    expect(iso(addBusinessMinutes(skipped, at('2026-03-08T05:00:00Z'), 30))).toBe('2026-03-09T06:30:00.000Z'); // Monday 02:30 EDT
  });

  it('New York, fall back (2026-11-01): the repeated hour counts twice', () => {
    const nights = cal('America/New_York', EVERY_DAY, '00:00', '06:00');
    expect(businessMinutesBetween(nights, at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'))).toBe(420);
    // 01:30–02:00 local: 01:30 EDT–02:00 EDT (= 01:00 EST) and again 01:30 EST–02:00 EST.
    const half = cal('America/New_York', EVERY_DAY, '01:30', '02:00');
    expect(businessMinutesBetween(half, at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'))).toBe(60);
    expect(iso(addBusinessMinutes(half, at('2026-11-01T04:00:00Z'), 45))).toBe('2026-11-01T06:45:00.000Z'); // 01:45 EST
  });

  it('Europe/Berlin over both changes of 2026', () => {
    const berlin = cal('Europe/Berlin', [1, 2, 3, 4, 5], '09:00', '17:00');
    // Friday 2026-03-27 16:30 CET + 60 → Monday 09:30 CEST.
    expect(iso(addBusinessMinutes(berlin, at('2026-03-27T15:30:00Z'), 60))).toBe('2026-03-30T07:30:00.000Z');
    // Friday 2026-10-23 16:30 CEST + 60 → Monday 09:30 CET.
    expect(iso(addBusinessMinutes(berlin, at('2026-10-23T14:30:00Z'), 60))).toBe('2026-10-26T08:30:00.000Z');
    const always = cal('Europe/Berlin', EVERY_DAY, '00:00', '24:00');
    expect(businessMinutesBetween(always, at('2026-03-28T23:00:00Z'), at('2026-03-29T22:00:00Z'))).toBe(23 * 60);
    expect(businessMinutesBetween(always, at('2026-10-24T22:00:00Z'), at('2026-10-25T23:00:00Z'))).toBe(25 * 60);
  });

  it('across midnight, a month end and a year end', () => {
    const lateShift = cal('Asia/Shanghai', EVERY_DAY, '22:00', '24:00');
    expect(iso(addBusinessMinutes(lateShift, at('2026-12-31T15:30:00Z'), 60))).toBe('2027-01-01T14:30:00.000Z'); // 23:30 → next day 22:30
    // Thursday 2026-12-31 17:00 + 120, New Year's Day a holiday → Monday 2027-01-04 10:00.
    const withNewYear = { ...SHANGHAI, holidays: ['2027-01-01'] };
    expect(iso(addBusinessMinutes(withNewYear, at('2026-12-31T09:00:00Z'), 120))).toBe('2027-01-04T02:00:00.000Z');
    // Monday 2028-02-28 17:30 + 60 → Tuesday 2028-02-29 09:30 (leap day).
    expect(iso(addBusinessMinutes(SHANGHAI, at('2028-02-28T09:30:00Z'), 60))).toBe('2028-02-29T01:30:00.000Z');
  });

  it('Pacific/Apia skipped 2011-12-30: it has no business minutes', () => {
    const apia = cal('Pacific/Apia', EVERY_DAY, '09:00', '18:00');
    // Thursday 2011-12-29 09:00 (−10:00) to Saturday 2011-12-31 18:00 (+14:00).
    expect(businessMinutesBetween(apia, at('2011-12-29T19:00:00Z'), at('2011-12-31T04:00:00Z'))).toBe(1080);
    expect(iso(addBusinessMinutes(apia, at('2011-12-29T19:00:00Z'), 600))).toBe('2011-12-30T20:00:00.000Z'); // Saturday 10:00
  });

  it('24/7: business minutes are plain minutes, DST or not', () => {
    const always = slaCalendar.parse({ businessHours: null });
    expect(iso(addBusinessMinutes(always, at('2026-03-07T12:00:00Z'), 1440))).toBe('2026-03-08T12:00:00.000Z');
    expect(businessMinutesBetween(always, at('2026-03-07T12:00:00Z'), at('2026-03-08T12:00:30Z'))).toBe(1440.5);
    expect(businessMinutesBetween(always, at('2026-03-08T12:00:00Z'), at('2026-03-07T12:00:00Z'))).toBe(0);
    expect(iso(subtractBusinessMinutes(always, at('2026-03-08T12:00:00Z'), 30))).toBe('2026-03-08T11:30:00.000Z');
  });

  it('due − warnBeforeMinutes: the moment at most that many business minutes remain', () => {
    // Due Monday 09:30: 30 business minutes remain from Friday 18:00 on.
    expect(iso(subtractBusinessMinutes(SHANGHAI, at('2026-12-07T01:30:00Z'), 30))).toBe('2026-12-04T10:00:00.000Z');
    // Due Monday 09:20: 20 on Monday, 10 on Friday → Friday 17:50.
    expect(iso(subtractBusinessMinutes(SHANGHAI, at('2026-12-07T01:20:00Z'), 30))).toBe('2026-12-04T09:50:00.000Z');
    expect(iso(subtractBusinessMinutes(SHANGHAI, at('2026-12-07T01:20:00Z'), 0))).toBe('2026-12-07T01:20:00.000Z');
  });

  it('a pause is measured and added back to the millisecond', () => {
    const due = at('2026-12-07T08:00:00Z');
    const paused = businessMsBetween(SHANGHAI, at('2026-12-04T09:59:50Z'), at('2026-12-07T01:00:12.345Z')); // 10 s Friday + 12.345 s Monday
    expect(paused).toBe(22_345);
    expect(iso(addBusinessMs(SHANGHAI, due, paused))).toBe('2026-12-07T08:00:22.345Z');
    expect(iso(addBusinessMinutes(SHANGHAI, due, paused / MIN))).toBe('2026-12-07T08:00:22.345Z');
  });

  it('refuses invalid input', () => {
    expect(() => addBusinessMinutes(SHANGHAI, new Date(NaN), 1)).toThrow(RangeError);
    expect(() => addBusinessMinutes(SHANGHAI, at('2026-12-04T09:00:00Z'), -1)).toThrow(RangeError);
    expect(() => addBusinessMinutes(SHANGHAI, at('2026-12-04T09:00:00Z'), Infinity)).toThrow(RangeError);
    expect(() => addBusinessMs(SHANGHAI, at('2026-12-04T09:00:00Z'), 0.5)).toThrow(RangeError);
    expect(() => businessMinutesBetween(cal('Asia/Shanghai', [], '09:00', '18:00'), at('2026-12-04T09:00:00Z'), at('2026-12-05T09:00:00Z'))).toThrow(RangeError);
  });
});

describe('efficiency', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('asks the time zone about once per day spanned, never per minute', () => {
    const format = vi.spyOn(Intl.DateTimeFormat.prototype as { format: unknown }, 'format', 'get'); // each call reads the bound `format`
    const ny = cal('America/New_York', [1, 2, 3, 4, 5], '09:00', '17:00', ['2026-07-03', '2026-11-26', '2026-12-25']);
    const start = at('2026-01-05T14:00:00Z');
    const due = addBusinessMinutes(ny, start, 90 * 24 * 60); // a 90-day target: 270 business days
    const daysSpanned = (due.getTime() - start.getTime()) / DAY;
    expect(daysSpanned).toBeGreaterThan(365);
    expect(format.mock.calls.length).toBeLessThan(daysSpanned + 200); // + binary searches at the offset changes
    format.mockClear();
    expect(businessMinutesBetween(ny, start, due)).toBe(90 * 24 * 60);
    expect(format.mock.calls.length).toBeLessThan(daysSpanned + 200);
  });

  it('a year of a DST zone takes milliseconds', () => {
    const berlin = cal('Europe/Berlin', [1, 2, 3, 4, 5], '09:00', '17:00');
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) addBusinessMinutes(berlin, at('2026-01-01T00:00:00Z'), 250 * 8 * 60);
    expect(performance.now() - t0).toBeLessThan(2_000); // ~ 5 ms each unloaded; generous for a busy machine
  });
});

describe('properties (fast-check, fixed seed)', () => {
  it('the test data: each listed change is a change of the zone\'s offset in this runtime', () => {
    const local = (tz: string, t: number) => Date.parse(`${wallClock(tz, t).replace(' ', 'T')}:00Z`);
    for (const [tz, changes] of Object.entries(ZONE_CHANGES)) {
      for (const change of changes) {
        const t = Date.parse(change);
        expect(local(tz, t) - local(tz, t - MIN), `${tz} ${change}`).not.toBe(MIN);
      }
    }
  });

  it('businessMsBetween equals the minute-by-minute reference', () => {
    fc.assert(
      fc.property(caseArb, ({ calendar, instant, span }) => {
        expect(businessMsBetween(calendar, new Date(instant), new Date(instant + span))).toBe(refBetweenMs(calendar, instant, instant + span));
        expect(businessMsBetween(calendar, new Date(instant + span), new Date(instant))).toBe(0);
      }),
      { seed: SEED, numRuns: 120 },
    );
  });

  it('addBusinessMinutes / addBusinessMs equal the reference', () => {
    // The amount is a share of the business time of a random span (by the reference), so the
    // reference walks no further than that span however sparse the calendar.
    fc.assert(
      fc.property(caseArb, share, fc.boolean(), ({ calendar, instant, span }, f, wholeMinutes) => {
        const available = refBetweenMs(calendar, instant, instant + span);
        const ms = wholeMinutes ? Math.floor((available * f) / MIN) * MIN : Math.floor(available * f);
        const got = (wholeMinutes ? addBusinessMinutes(calendar, new Date(instant), ms / MIN) : addBusinessMs(calendar, new Date(instant), ms)).getTime();
        expect(got).toBe(refAddMs(calendar, instant, ms, span + MIN));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('a due time beyond the reach of a short walk is beyond it for both', () => {
    const CAP = DAY;
    fc.assert(
      fc.property(scenarioArb, share, ({ calendar, instant }, f) => {
        const minutes = Math.floor(f * Math.min(3000, 30 * perWeek(calendar)));
        const got = addBusinessMinutes(calendar, new Date(instant), minutes).getTime();
        const expected = refAddMs(calendar, instant, minutes * MIN, CAP);
        if (expected === null) expect(got).toBeGreaterThan(instant + CAP);
        else expect(got).toBe(expected);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('subtractBusinessMs is the earliest instant with at most that much business time left (reference)', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), ({ calendar, instant, span }, wholeMinutes) => {
        const end = instant + span;
        const exact = refBetweenMs(calendar, end - span, end);
        const ms = wholeMinutes ? Math.floor(exact / MIN) * MIN : exact;
        const w = subtractBusinessMs(calendar, new Date(end), ms).getTime();
        expect(w).toBeLessThanOrEqual(end);
        const left = refBetweenMs(calendar, w, end);
        expect(left).toBeLessThanOrEqual(ms);
        // one millisecond earlier is one too many: the instant w − 1 is business time
        const before = isBusinessMinute(calendar, Math.floor((w - 1) / MIN)) ? 1 : 0;
        expect(left + before).toBeGreaterThan(ms);
      }),
      { seed: SEED, numRuns: 80 },
    );
  });

  it('round trip: between(s, add(s, m)) === m; add is monotone in m, earliest, and composes', () => {
    // Up to ~30 weeks of the calendar's business time (a 1-minute-a-week calendar stays fast).
    fc.assert(
      fc.property(scenarioArb, share, share, ({ calendar, instant }, f1, f2) => {
        const most = Math.min(200_000, 30 * perWeek(calendar));
        const [lo, hi] = [Math.floor(most * Math.min(f1, f2)), Math.floor(most * Math.max(f1, f2))];
        const s = new Date(instant);
        const dLo = addBusinessMinutes(calendar, s, lo);
        const dHi = addBusinessMinutes(calendar, s, hi);
        expect(businessMinutesBetween(calendar, s, dLo)).toBe(lo);
        expect(businessMinutesBetween(calendar, s, dHi)).toBe(hi);
        expect(dLo.getTime()).toBeLessThanOrEqual(dHi.getTime());
        // the earliest such instant: the millisecond before it is business time
        if (hi > 0) expect(businessMsBetween(calendar, s, new Date(dHi.getTime() - 1))).toBe(hi * MIN - 1);
        // adding in two steps (a pause added to a due time) is adding at once
        expect(addBusinessMinutes(calendar, dLo, hi - lo).getTime()).toBe(dHi.getTime());
        expect(businessMsBetween(calendar, s, dLo) + businessMsBetween(calendar, dLo, dHi)).toBe(hi * MIN);
        // and subtracting from the due time lands where at most that much is left
        expect(businessMsBetween(calendar, subtractBusinessMinutes(calendar, dHi, hi - lo), dHi)).toBe((hi - lo) * MIN);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('round trip to the millisecond', () => {
    fc.assert(
      fc.property(scenarioArb, share, ({ calendar, instant }, f) => {
        const ms = Math.floor(f * Math.min(5 * DAY, 30 * perWeek(calendar) * MIN));
        const d = addBusinessMs(calendar, new Date(instant), ms);
        expect(businessMsBetween(calendar, new Date(instant), d)).toBe(ms);
        expect(businessMinutesBetween(calendar, new Date(instant), d)).toBe(ms / MIN);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
