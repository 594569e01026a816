/**
 * `GET /v1/reports/funnel` (api/analytics.md "Funnel"). The cohort's figures are kept per
 * creation month as counts by (status, set of open stages visited); "reached" is decided here
 * against the pipeline's CURRENT stage order, so reordering or removing a stage is reflected
 * without rewriting anything. Reads: the default pointer (when no pipeline is named), the
 * pipeline, and one BatchGetItem of the scope's row of each month.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { validationFailed } from '#domain/errors.ts';
import { cachedRules } from '#domain/pool/rules.ts';
import { defaultPipelinePointer, loadPipeline } from '#domain/sales/pipelines.ts';
import { MAX_STAGES } from '#domain/sales/pipeline.ts';
import { rowsByKey, scopeSk, sumRows } from '#domain/analytics/aggregates.ts';
import { countAmountView, major, ratio, ratioView } from '#domain/analytics/figures.ts';
import { monthOf, monthsBetween } from '#domain/analytics/periods.ts';
import { resolveScope, type ScopeQuery } from '#domain/analytics/scope.ts';

export const MAX_FUNNEL_MONTHS = 24;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** `GET /v1/reports/funnel`: the cohort created in `from`..`to`, stage by open stage. */
export const funnelView = z.lazy(() =>
  z
    .object({
      pipelineId: f.out.id,
      from: f.out.code,
      to: f.out.code,
      total: z.int(),
      stages: z.array(
        z.object({
          stageId: f.out.id,
          name: f.out.name,
          reached: z.int(),
          reachedAmount: z.number(),
          lostHere: z.int(),
          conversionToNext: ratioView,
        }),
      ).check(z.maxLength(MAX_STAGES)),
      won: countAmountView,
      lost: countAmountView,
      open: countAmountView,
      winRate: ratioView,
      avgDaysToClose: z.nullable(z.number()),
    })
    .check(z.meta({ id: 'Funnel', description: 'The sales funnel (销售漏斗) of a cohort of opportunities.' })),
);

export async function funnel(ctx: UseCaseContext, q: ScopeQuery & { pipelineId?: string | undefined; from?: string | undefined; to?: string | undefined }) {
  const scope = await resolveScope(ctx, q);
  const tenant = ctx.identity.tenantId;
  const { timeZone } = await cachedRules(tenant);
  const current = monthOf(ctx.now, timeZone);
  const from = q.from ?? (q.to !== undefined && q.to < current ? q.to : current);
  const to = q.to ?? (from > current ? from : current);
  if (from > to) throw validationFailed([{ path: 'query.from', message: 'from must not be after to' }]);
  const months = monthsBetween(from, to);
  if (months.length > MAX_FUNNEL_MONTHS) throw validationFailed([{ path: 'query.to', message: `at most ${MAX_FUNNEL_MONTHS} months` }]);

  const pipelineId = q.pipelineId ?? (await defaultPipelinePointer(ctx)).pipelineId;
  const [pipeline, rows] = await Promise.all([loadPipeline(ctx, pipelineId), rowsByKey(tenant, months.map((m) => scopeSk(m, scope, 'FU')))]);
  const row = sumRows(rows);

  const open = pipeline.stages.filter((s) => s.kind === 'open');
  const position = new Map(open.map((s, i) => [s.id, i]));
  const reached = open.map(() => ({ n: 0, a: 0 }));
  const lostHere = open.map(() => 0);
  const totals = { w: { n: 0, a: 0 }, l: { n: 0, a: 0 }, o: { n: 0, a: 0 } };
  const prefix = `fu|${pipeline.id}|`;
  for (const [attr, n] of Object.entries(row)) {
    // `fu|<pipeline>|<o|w|l>|<visited stages>|n`, and its amount under `…|a`.
    if (!attr.startsWith(prefix) || !attr.endsWith('|n') || n === 0) continue;
    const [code, visited] = attr.slice(prefix.length, -2).split('|') as ['o' | 'w' | 'l', string];
    const amount = row[`${attr.slice(0, -2)}|a`] ?? 0;
    totals[code].n += n;
    totals[code].a += amount;
    const furthest = Math.max(-1, ...visited.split(',').map((id) => position.get(id) ?? -1));
    open.forEach((_, i) => {
      if (code === 'w' || i <= furthest) {
        reached[i]!.n += n;
        reached[i]!.a += amount;
      }
    });
    if (code === 'l' && furthest >= 0) lostHere[furthest]! += n;
  }

  const won = totals.w.n;
  return {
    pipelineId: pipeline.id,
    from,
    to,
    total: totals.w.n + totals.l.n + totals.o.n,
    stages: open.map((s, i) => ({
      stageId: s.id,
      name: s.name,
      reached: reached[i]!.n,
      reachedAmount: major(reached[i]!.a),
      lostHere: lostHere[i]!,
      conversionToNext: ratio(i + 1 < open.length ? reached[i + 1]!.n : won, reached[i]!.n),
    })),
    won: { count: won, amount: major(totals.w.a) },
    lost: { count: totals.l.n, amount: major(totals.l.a) },
    open: { count: totals.o.n, amount: major(totals.o.a) },
    winRate: ratio(won, won + totals.l.n),
    avgDaysToClose: won === 0 ? null : Math.round(((row[`${prefix}ws`] ?? 0) / won / 86_400) * 10) / 10,
  };
}
