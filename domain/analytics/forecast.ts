/**
 * `GET /v1/forecast` (api/analytics.md "Forecast"): categories, the weighted pipeline and the
 * prediction learnt from the tenant's history (domain/analytics/forecast-model.ts). Three reads:
 * the period's months' dashboard rows (closed-won, targets) and forecast rows (categories, open
 * groups), one Query each, and the tenant's MODEL row.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { cachedRules } from '#domain/pool/rules.ts';
import { aggPartition, MODEL_SK, monthRows, rowOf, scopeSk, sumRows, type Row, type Scope } from '#domain/analytics/aggregates.ts';
import { countAmount, countAmountView, hasFigures, MAX_MEMBERS, major, memberRows, scopeView, targetOver, weightedMajor } from '#domain/analytics/figures.ts';
import { AGE_BUCKETS, predict, type AgeBucket, type History, type OpenGroup } from '#domain/analytics/forecast-model.ts';
import { monthOf, monthsOf } from '#domain/analytics/periods.ts';
import { resolveScope, type ScopeQuery } from '#domain/analytics/scope.ts';
import { getItem } from '#domain/table/query.ts';

export const FORECAST_CATEGORIES = ['commit', 'bestCase', 'pipeline', 'omitted'] as const;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const predictedView = builtOnFirstUse(() =>
  z.object({
    amount: z.number().check(z.describe('the expected closed-won amount at the end of the period')),
    low: z.number(),
    high: z.number().check(z.describe('low..high: an 80 % interval')),
    method: f.out.code,
  }),
);
const memberFigures = builtOnFirstUse(() => ({
  closedWon: countAmountView,
  commit: countAmountView,
  bestCase: countAmountView,
  pipeline: countAmountView,
  weighted: z.number(),
  predicted: predictedView(),
}));

/** `GET /v1/forecast`: the scope's figures over the period, and its members'. */
export const forecastView = z.lazy(() =>
  z
    .object({
      period: f.out.code,
      scope: scopeView,
      ...memberFigures(),
      omitted: countAmountView,
      target: z.nullable(z.number()),
      members: z.array(z.object({ userId: f.out.id, ...memberFigures() })).check(z.maxLength(MAX_MEMBERS), z.describe(`the first ${MAX_MEMBERS} by predicted amount`)),
    })
    .check(z.meta({ id: 'Forecast', description: 'The sales forecast (销售预测) of a period and scope.' })),
);

/** The tenant's win history: `m|<stage>|<bucket>|n` / `|w` of its MODEL row. */
export function historyOf(model: Row): History {
  const history: History = {};
  for (const [attr, value] of Object.entries(model)) {
    const m = /^m\|(.+)\|(a\d)\|([nw])$/.exec(attr);
    if (!m || !(AGE_BUCKETS as readonly string[]).includes(m[2]!)) continue;
    const cell = ((history[m[1]!] ??= {})[m[2] as AgeBucket] ??= { n: 0, w: 0 });
    cell[m[3] as 'n' | 'w'] += value;
  }
  return history;
}

/** A row's open groups: `og|<stage>|<bucket>|n a w q` (amounts in minor units; q in tens²). */
function groupsOf(row: Row): OpenGroup[] {
  const groups: OpenGroup[] = [];
  for (const [attr, n] of Object.entries(row)) {
    const m = /^og\|(.+)\|(a\d)\|n$/.exec(attr);
    if (!m || n === 0) continue;
    const key = attr.slice(0, -2);
    groups.push({
      stageId: m[1]!,
      bucket: m[2] as AgeBucket,
      count: n,
      amount: major(row[`${key}|a`]),
      weighted: (row[`${key}|w`] ?? 0) / 10_000,
      sumSquares: (row[`${key}|q`] ?? 0) * 100,
    });
  }
  return groups;
}

/** The forecast figures of one row (a scope or a member, summed over the period's months). */
export function forecastFigures(row: Row, history: History) {
  const closedWon = countAmount(row, 'won');
  return {
    closedWon,
    commit: countAmount(row, 'fc_commit'),
    bestCase: countAmount(row, 'fc_bestCase'),
    pipeline: countAmount(row, 'fc_pipeline'),
    omitted: countAmount(row, 'fc_omitted'),
    weighted: weightedMajor(row.fw),
    predicted: predict(closedWon.amount, groupsOf(row), history),
  };
}

/** Everything a forecast of any period within the months `from`..`to` needs, for any scope: the rows and the history. */
export async function forecastInputs(tenantId: string, from: string, to: string) {
  const [figures, groups, model] = await Promise.all([
    monthRows(tenantId, from, to, 'D'),
    monthRows(tenantId, from, to, 'F'),
    getItem({ PK: aggPartition(tenantId), SK: MODEL_SK }),
  ]);
  return { rows: new Map([...figures, ...groups]), history: historyOf(rowOf(model)) };
}

export type ForecastInputs = Awaited<ReturnType<typeof forecastInputs>>;

/** A scope's figures over a period's months (what a snapshot keeps). */
export function scopeForecast(inputs: ForecastInputs, period: string, scope: Scope) {
  const rows = monthsOf(period).flatMap((m) => [inputs.rows.get(scopeSk(m, scope, 'D')) ?? {}, inputs.rows.get(scopeSk(m, scope, 'F')) ?? {}]);
  return forecastFigures(sumRows(rows), inputs.history);
}

export function forecastOf(inputs: ForecastInputs, period: string, scope: Scope) {
  const { rows, history } = inputs;
  const months = monthsOf(period);
  const target = targetOver(rows, months, scope);
  const members = [...memberRows(rows, months, scope)]
    .filter(([, r]) => hasFigures(r))
    .map(([userId, r]) => {
      const { omitted: _omitted, ...figures } = forecastFigures(r, history);
      return { userId, ...figures };
    })
    .sort((a, b) => b.predicted.amount - a.predicted.amount || a.userId.localeCompare(b.userId))
    .slice(0, MAX_MEMBERS);
  return {
    period,
    scope: { kind: scope.kind, id: scope.id },
    ...scopeForecast(inputs, period, scope),
    target: target === null ? null : major(target),
    members,
  };
}

export async function forecast(ctx: UseCaseContext, q: ScopeQuery & { period?: string | undefined }) {
  const scope = await resolveScope(ctx, q);
  const tenant = ctx.identity.tenantId;
  const period = q.period ?? monthOf(ctx.now, (await cachedRules(tenant)).timeZone);
  const months = monthsOf(period);
  return forecastOf(await forecastInputs(tenant, months[0]!, months.at(-1)!), period, scope);
}
