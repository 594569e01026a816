/**
 * The forecast model (api/analytics.md "Forecast", explained in docs/forecast.md): the
 * expected closed-won amount at the end of a period and an 80 % interval around it. Pure:
 * the caller aggregates the tenant's history and the open opportunities; nothing here
 * reads or writes.
 *
 * Each open opportunity is won with a probability learnt from the tenant's closed
 * opportunities that stood where it stands (its stage, and how old it was when it entered
 * that stage). The opportunity's own probability (the stage's nominal one unless a rep set
 * another) is the prior, worth PRIOR_STRENGTH past outcomes: with no history the forecast is
 * the classic weighted pipeline, and with plenty it is what the history says.
 */

/** Age of an opportunity when it ENTERED a stage (days since its creation) → a bucket. */
export const AGE_BUCKETS = ['a0', 'a1', 'a2', 'a3'] as const; // [0,30), [30,90), [90,180), [180,∞) days
export type AgeBucket = (typeof AGE_BUCKETS)[number];

/** Bucket lower bounds in days, in AGE_BUCKETS order. */
const BUCKET_STARTS = [0, 30, 90, 180] as const;

/** Negative or unreadable ages (clock skew, a bad date) count as new: 'a0'. */
export function ageBucket(ageDays: number): AgeBucket {
  for (let i = AGE_BUCKETS.length - 1; i > 0; i--) if (ageDays >= BUCKET_STARTS[i]!) return AGE_BUCKETS[i]!;
  return 'a0';
}

/** History: for each open stage and age bucket, how many CLOSED opportunities passed through it (n) and how many of those were won (w). An opportunity that visited 3 open stages counts once in each. */
export type History = Record<string /*stageId*/, Partial<Record<AgeBucket, { n: number; w: number }>>>;

/** Open (not omitted) opportunities of a scope and period, grouped by the stage they are in and the age bucket at which they entered it. */
export interface OpenGroup {
  stageId: string;
  bucket: AgeBucket;
  count: number;
  amount: number; // Σ amount, major units
  weighted: number; // Σ amount × probability / 100 (their own probability, which defaults to the stage's)
  sumSquares: number; // Σ amount²
}

export interface Prediction {
  amount: number;
  low: number;
  high: number;
  method: string;
}

/** How many past outcomes the prior is worth, at each of the two levels (stage, bucket). */
export const PRIOR_STRENGTH = 10;
/** The standard normal quantile of 0.9: ±Z_80·σ holds 80 %. */
export const Z_80 = 1.2816;
export const METHOD = 'bayes';

/** A finite number ≥ 0, else 0: the caller's sums are never negative, and a bad one must not poison the rest. */
const nonNegative = (x: number): number => (Number.isFinite(x) && x > 0 ? x : 0);

/**
 * Integer cents of a major amount, half up. Below 10^15 cents toPrecision(15) first drops
 * the binary noise (1.005 × 100 = 100.49999…); above, a double has no fraction of a cent left.
 */
function toCents(major: number): number {
  const c = major * 100;
  return Math.round(Math.abs(c) < 1e15 ? Number(c.toPrecision(15)) : c);
}

/** One cell's outcomes, cleaned: n ≥ 0 and 0 ≤ w ≤ n. */
function cell(history: History, stageId: string, bucket: AgeBucket): { n: number; w: number } {
  const c = Object.hasOwn(history, stageId) ? history[stageId]?.[bucket] : undefined;
  const n = nonNegative(c?.n ?? 0);
  return { n, w: Math.min(nonNegative(c?.w ?? 0), n) };
}

/** The prior: the group's own probability, weighted / amount (0 when there is no amount: nothing at stake, nothing to lean on). */
function prior(group: Pick<OpenGroup, 'amount' | 'weighted'>): number {
  const amount = nonNegative(group.amount);
  return amount === 0 ? 0 : Math.min(nonNegative(group.weighted), amount) / amount;
}

/**
 * `mean` shrunk by `k` pseudo-observations: (w + k·mean) / (n + k), written as mean plus a
 * correction so that no data (n = w = 0) gives back `mean` bit for bit — the weighted
 * pipeline to the cent.
 */
const shrink = (w: number, n: number, mean: number): number => mean + (w - n * mean) / (n + PRIOR_STRENGTH);

/**
 * p and the posterior's strength m = n_b + k. Two levels, each outcome counted once: the
 * stage's OTHER buckets are shrunk toward π, and the group's bucket toward that.
 */
function posterior(history: History, group: Pick<OpenGroup, 'stageId' | 'bucket' | 'amount' | 'weighted'>): { p: number; m: number } {
  const own = cell(history, group.stageId, group.bucket);
  let nOther = 0;
  let wOther = 0;
  for (const b of AGE_BUCKETS) {
    if (b === group.bucket) continue;
    const c = cell(history, group.stageId, b);
    nOther += c.n;
    wOther += c.w;
  }
  const stage = shrink(wOther, nOther, prior(group));
  const p = Math.min(1, Math.max(0, shrink(own.w, own.n, stage)));
  return { p, m: own.n + PRIOR_STRENGTH };
}

/** Win probability of a group: empirical rate of (stage, bucket), shrunk toward the stage's empirical rate (its other buckets), itself shrunk toward the group's own probability (weighted / amount). Unrounded; show it with 4 decimals. */
export function winProbability(history: History, group: Pick<OpenGroup, 'stageId' | 'bucket' | 'amount' | 'weighted' | 'count'>): number {
  return posterior(history, group).p;
}

/** The classic stage-probability forecast: Σ weighted, rounded half up to cents. */
export function weightedPipeline(groups: readonly Pick<OpenGroup, 'weighted'>[]): number {
  return toCents(groups.reduce((s, g) => s + nonNegative(g.weighted), 0)) / 100;
}

/** Groups of the same (stage, bucket) share one p and one posterior: add them up first. */
function merged(groups: readonly OpenGroup[]): OpenGroup[] {
  const byCell = new Map<string, OpenGroup>();
  for (const g of groups) {
    const key = `${g.stageId}\u0000${g.bucket}`;
    const amount = nonNegative(g.amount);
    const add = { count: nonNegative(g.count), amount, weighted: Math.min(nonNegative(g.weighted), amount), sumSquares: nonNegative(g.sumSquares) };
    const seen = byCell.get(key);
    if (!seen) byCell.set(key, { stageId: g.stageId, bucket: g.bucket, ...add });
    else {
      seen.count += add.count;
      seen.amount += add.amount;
      seen.weighted += add.weighted;
      seen.sumSquares += add.sumSquares;
    }
  }
  return [...byCell.values()];
}

/**
 * Expected closed-won amount and its 80 % interval. Each opportunity is an independent
 * Bernoulli(p) draw given p; p itself is uncertain (Beta posterior, mean p, strength m),
 * shared by the group's opportunities. So for a group of amount A and Σ amount² = Q:
 *   Var = p(1−p) · (Q·m + A²) / (m + 1)
 * (law of total variance: E[p(1−p)]·Q + Var(p)·A²). Groups are taken as independent.
 */
export function predict(closedWon: number, groups: readonly OpenGroup[], history: History): Prediction {
  const won = toCents(nonNegative(closedWon));
  let expected = 0; // Σ amount·p, major units
  let variance = 0;
  let ceiling = 0; // cents: everything open won
  for (const g of merged(groups)) {
    if (g.amount === 0) continue;
    const { p, m } = posterior(history, g);
    // weighted + amount·(p − π) is amount·p, and exactly `weighted` when the history says nothing.
    expected += g.weighted + g.amount * (p - g.weighted / g.amount);
    // Σ amount² lies in [A²/count, A²] (equal amounts … one opportunity); a wrong figure is brought back into it.
    const a2 = g.amount * g.amount;
    const q = Math.min(a2, Math.max(a2 / Math.max(1, g.count), g.sumSquares));
    variance += (p * (1 - p) * (q * m + a2)) / (m + 1);
    ceiling += toCents(g.amount);
  }
  const top = won + ceiling;
  const clamp = (c: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, c));
  // Round once, in cents, then order: closedWon ≤ low ≤ amount ≤ high ≤ closedWon + Σ amount.
  const amount = clamp(won + toCents(expected), won, top);
  // A variance that overflowed (absurd amounts) means "anything possible": the full range.
  const spread = Number.isNaN(variance) ? Infinity : Z_80 * Math.sqrt(variance);
  const low = clamp(won + toCents(expected - spread), won, amount);
  const high = clamp(won + toCents(expected + spread), amount, top);
  return { amount: amount / 100, low: low / 100, high: high / 100, method: METHOD };
}
