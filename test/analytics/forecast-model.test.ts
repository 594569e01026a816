/** The forecast model (docs/forecast.md): pure properties, and the worked example of the doc. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AGE_BUCKETS,
  PRIOR_STRENGTH,
  ageBucket,
  predict,
  weightedPipeline,
  winProbability,
  type AgeBucket,
  type History,
  type OpenGroup,
} from '#domain/analytics/forecast-model.ts';

const k = PRIOR_STRENGTH;
const cents = (major: number) => Math.round(major * 100);
const STAGES = ['s1', 's2', 's3'] as const;

/** Open opportunities (amount in cents, probability 0..100), aggregated the way the caller does. */
const opportunity = fc.record({
  stageId: fc.constantFrom(...STAGES),
  bucket: fc.constantFrom(...AGE_BUCKETS),
  cents: fc.integer({ min: 0, max: 100_000_000_000 }),
  probability: fc.integer({ min: 0, max: 100 }),
});

function groupsOf(opps: readonly { stageId: string; bucket: AgeBucket; cents: number; probability: number }[]): OpenGroup[] {
  const out = new Map<string, OpenGroup>();
  for (const o of opps) {
    const key = `${o.stageId}/${o.bucket}`;
    const g = out.get(key) ?? { stageId: o.stageId, bucket: o.bucket, count: 0, amount: 0, weighted: 0, sumSquares: 0 };
    const amount = o.cents / 100;
    g.count += 1;
    g.amount += amount;
    g.weighted += (amount * o.probability) / 100;
    g.sumSquares += amount * amount;
    out.set(key, g);
  }
  return [...out.values()];
}

const groups = fc.array(opportunity, { maxLength: 40 }).map(groupsOf);
const closedWon = fc.integer({ min: 0, max: 1_000_000_000_000 }).map((c) => c / 100);

const outcomes = (maxN: number) => fc.integer({ min: 0, max: maxN }).chain((n) => fc.integer({ min: 0, max: n }).map((w) => ({ n, w })));
const history = (maxN = 1000): fc.Arbitrary<History> =>
  fc.dictionary(fc.constantFrom(...STAGES, 'other'), fc.dictionary(fc.constantFrom(...AGE_BUCKETS), outcomes(maxN)) as fc.Arbitrary<History[string]>);

/** One group, the way winProbability sees it. */
const single = fc.record({
  stageId: fc.constant('X'),
  bucket: fc.constantFrom(...AGE_BUCKETS),
  count: fc.integer({ min: 1, max: 50 }),
  amount: fc.integer({ min: 1, max: 1_000_000_000 }).map((c) => c / 100),
  probability: fc.integer({ min: 0, max: 100 }),
}).map(({ probability, ...g }) => {
  const weighted = (g.amount * probability) / 100;
  return { ...g, weighted, prior: weighted / g.amount };
});

function ordered(p: { amount: number; low: number; high: number }, won: number, ceiling: number) {
  expect(Number.isFinite(p.low) && Number.isFinite(p.amount) && Number.isFinite(p.high)).toBe(true);
  for (const v of [p.low, p.amount, p.high]) expect(cents(v) / 100).toBe(v); // whole cents
  expect(cents(p.low)).toBeGreaterThanOrEqual(cents(won));
  expect(p.amount).toBeGreaterThanOrEqual(p.low);
  expect(p.high).toBeGreaterThanOrEqual(p.amount);
  expect(cents(p.high)).toBeLessThanOrEqual(cents(won) + ceiling);
}

describe('ageBucket', () => {
  it.each([
    [0, 'a0'],
    [29.9, 'a0'],
    [30, 'a1'],
    [89, 'a1'],
    [90, 'a2'],
    [179.99, 'a2'],
    [180, 'a3'],
    [10000, 'a3'],
    [-1, 'a0'],
    [Number.NaN, 'a0'],
  ] as const)('%s days → %s', (days, bucket) => {
    expect(ageBucket(days)).toBe(bucket);
  });
});

describe('weightedPipeline', () => {
  it('is Σ weighted rounded half up to the cent', () => {
    expect(weightedPipeline([])).toBe(0);
    expect(weightedPipeline([{ weighted: 0.005 }])).toBe(0.01);
    expect(weightedPipeline([{ weighted: 1.005 }])).toBe(1.01);
    expect(weightedPipeline([{ weighted: 0.1 }, { weighted: 0.2 }])).toBe(0.3);
    expect(weightedPipeline([{ weighted: 1234.5649 }])).toBe(1234.56);
  });
});

describe('predict', () => {
  it('closedWon ≤ low ≤ amount ≤ high ≤ closedWon + Σ amount, in whole cents, for any inputs', () => {
    fc.assert(
      fc.property(closedWon, groups, history(), (won, gs, h) => {
        const p = predict(won, gs, h);
        expect(p.method).toBe('bayes');
        ordered(p, won, gs.reduce((s, g) => s + cents(g.amount), 0));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps that order on garbage too (negative, NaN, infinite, inconsistent figures)', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity, 0);
    const wild = fc.oneof(fc.double({ min: -1e15, max: 1e15 }), special);
    // Amounts in whole cents (what money is), of either sign; everything else any double.
    const money = fc.oneof(fc.integer({ min: -1e15, max: 1e15 }).map((c) => c / 100), special);
    const group = fc.record({ stageId: fc.constantFrom(...STAGES), bucket: fc.constantFrom(...AGE_BUCKETS), count: wild, amount: money, weighted: wild, sumSquares: wild });
    const cellRec = fc.record({ n: wild, w: wild });
    const wildHistory = fc.dictionary(fc.constantFrom(...STAGES), fc.dictionary(fc.constantFrom(...AGE_BUCKETS), cellRec)) as fc.Arbitrary<History>;
    fc.assert(
      fc.property(money, fc.array(group, { maxLength: 10 }), wildHistory, (won, gs, h) => {
        const p = predict(won, gs, h);
        const usable = (x: number) => (Number.isFinite(x) && x > 0 ? x : 0);
        ordered(p, usable(won), gs.reduce((s, g) => s + cents(usable(g.amount)), 0));
      }),
      { numRuns: 500 },
    );
  });

  it('with no history for its stages, amount is closedWon + the weighted pipeline, to the cent', () => {
    const unrelated = history().map((h) => ({ other: h.other ?? {}, s1: { a0: { n: 0, w: 0 } } }));
    fc.assert(
      fc.property(closedWon, groups, fc.option(unrelated, { nil: {} }), (won, gs, h) => {
        expect(cents(predict(won, gs, h).amount)).toBe(cents(won) + cents(weightedPipeline(gs)));
      }),
      { numRuns: 500 },
    );
  });

  it('groups of the same stage and bucket count as one', () => {
    fc.assert(
      fc.property(closedWon, fc.array(opportunity, { minLength: 1, maxLength: 20 }), history(), (won, opps, h) => {
        const apart = opps.flatMap((o) => groupsOf([o]));
        const together = groupsOf(opps);
        const a = predict(won, apart, h);
        const b = predict(won, together, h);
        // The same figures up to the order of float sums: at most a cent apart.
        for (const key of ['amount', 'low', 'high'] as const) expect(Math.abs(cents(a[key]) - cents(b[key]))).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('is never below closedWon and never above closedWon + Σ amount, and with nothing open is closedWon', () => {
    expect(predict(1234.56, [], {})).toEqual({ amount: 1234.56, low: 1234.56, high: 1234.56, method: 'bayes' });
  });
});

describe('winProbability', () => {
  it('with a huge history where the stage wins 20 %, approaches 0.2 whatever the nominal probability', () => {
    const huge = fc.integer({ min: 100_000, max: 10_000_000 }).map((n) => ({ n, w: Math.round(n * 0.2) }));
    fc.assert(
      fc.property(single, huge, huge, huge, huge, (g, c0, c1, c2, c3) => {
        const h: History = { X: { a0: c0, a1: c1, a2: c2, a3: c3 } };
        expect(Math.abs(winProbability(h, g) - 0.2)).toBeLessThan(0.001);
        // And through the stage alone, when the group's own bucket has no history.
        const { [g.bucket]: _, ...others } = h.X!;
        expect(Math.abs(winProbability({ X: others }, g) - 0.2)).toBeLessThan(0.001);
      }),
    );
  });

  it('thin history stays near the prior: |p − π| ≤ 1 − k²/((n_b + k)(n_other + k))', () => {
    fc.assert(
      fc.property(single, fc.dictionary(fc.constantFrom(...AGE_BUCKETS), outcomes(3)), (g, stage) => {
        const h: History = { X: stage };
        const nOwn = stage[g.bucket]?.n ?? 0;
        const nAll = Object.values(stage).reduce((s, c) => s + c.n, 0);
        const bound = 1 - (k * k) / ((nOwn + k) * (nAll - nOwn + k));
        const p = winProbability(h, g);
        expect(Math.abs(p - g.prior)).toBeLessThanOrEqual(bound + 1e-12);
        if (nAll <= 2) expect(Math.abs(p - g.prior)).toBeLessThan(0.2);
        if (nAll === 0) expect(p).toBe(g.prior);
      }),
    );
  });

  it('is monotonic in w: one more win in any bucket of the stage never lowers p, nor the forecast', () => {
    fc.assert(
      fc.property(single, fc.dictionary(fc.constantFrom(...AGE_BUCKETS), outcomes(200)), fc.constantFrom(...AGE_BUCKETS), closedWon, (g, stage, b, won) => {
        const c = stage[b] ?? { n: 0, w: 0 };
        fc.pre(c.w < c.n);
        const more: History = { X: { ...stage, [b]: { n: c.n, w: c.w + 1 } } };
        const before = winProbability({ X: stage }, g);
        const after = winProbability(more, g);
        expect(after).toBeGreaterThanOrEqual(before);
        if (b === g.bucket) expect(after).toBeGreaterThan(before);
        const group = { ...g, sumSquares: (g.amount * g.amount) / g.count };
        expect(predict(won, [group], more).amount).toBeGreaterThanOrEqual(predict(won, [group], { X: stage }).amount);
      }),
    );
  });

  it('a group with no amount leans on a prior of 0', () => {
    expect(winProbability({}, { stageId: 'X', bucket: 'a0', count: 3, amount: 0, weighted: 0 })).toBe(0);
    expect(winProbability({ X: { a0: { n: 10, w: 10 } } }, { stageId: 'X', bucket: 'a0', count: 3, amount: 0, weighted: 0 })).toBe(0.5);
  });
});

describe('the worked example of docs/forecast.md', () => {
  const history: History = {
    proposal: { a0: { n: 40, w: 10 }, a1: { n: 10, w: 1 } }, // 方案报价: 11 of 50 won, nominal 50 %
  };
  const groups: OpenGroup[] = [
    { stageId: 'proposal', bucket: 'a0', count: 2, amount: 100_000, weighted: 50_000, sumSquares: 60_000 ** 2 + 40_000 ** 2 },
    { stageId: 'proposal', bucket: 'a1', count: 1, amount: 50_000, weighted: 25_000, sumSquares: 50_000 ** 2 },
    { stageId: 'negotiation', bucket: 'a0', count: 1, amount: 20_000, weighted: 16_000, sumSquares: 20_000 ** 2 },
  ];

  it('win probabilities 0.26, 0.2, 0.8', () => {
    expect(winProbability(history, groups[0]!)).toBeCloseTo(0.26, 12);
    expect(winProbability(history, groups[1]!)).toBeCloseTo(0.2, 12);
    expect(winProbability(history, groups[2]!)).toBe(0.8);
  });

  it('predicts 82,000.00 in [32,652.77, 131,347.23] against a weighted pipeline of 91,000.00', () => {
    expect(weightedPipeline(groups)).toBe(91_000);
    expect(predict(30_000, groups, history)).toEqual({ amount: 82_000, low: 32_652.77, high: 131_347.23, method: 'bayes' });
  });
});
