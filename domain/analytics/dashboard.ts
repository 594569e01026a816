/**
 * `GET /v1/dashboard` (api/analytics.md "Dashboard"). Two reads whatever the tenant holds:
 * one Query for the rows of the period and the month before (every scope and member row),
 * one BatchGetItem for the scope's row a year before and its outstanding row; the tenant's
 * time zone comes from the rules the container caches.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { cachedRules } from '#domain/pool/rules.ts';
import { monthRows, rowsByKey, scopeSk, type Row, type Scope } from '#domain/analytics/aggregates.ts';
import {
  amountView,
  count,
  countAmount,
  countAmountView,
  hasFigures,
  major,
  memberRows,
  memberTarget,
  ratio,
  ratioView,
  scopeView,
  targetOf,
  weightedMajor,
  MAX_MEMBERS,
} from '#domain/analytics/figures.ts';
import { addMonths, monthOf } from '#domain/analytics/periods.ts';
import { resolveScope, type ScopeQuery } from '#domain/analytics/scope.ts';
import { ACTIVITY_TYPES } from '#domain/accounts/activity.ts';

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const comparisonView = builtOnFirstUse(() => z.object({ won: countAmountView, collected: amountView }));

/** `GET /v1/dashboard`: every key is present; a figure with nothing behind it is 0 (or null where said). */
export const dashboardView = z.lazy(() =>
  z
    .object({
      period: f.out.code,
      scope: scopeView,
      won: countAmountView,
      lost: countAmountView,
      created: countAmountView,
      pipeline: z.object({ count: z.int(), amount: z.number(), weightedAmount: z.number() }),
      orders: countAmountView,
      collected: countAmountView,
      outstanding: amountView,
      target: z.nullable(z.number()),
      attainment: ratioView,
      previous: comparisonView(),
      yearAgo: comparisonView(),
      newAccounts: z.int(),
      newLeads: z.int(),
      convertedLeads: z.int(),
      activities: z.object({
        total: z.int(),
        byType: z.object(Object.fromEntries(ACTIVITY_TYPES.map((type) => [type, z.int()])) as Record<(typeof ACTIVITY_TYPES)[number], ReturnType<typeof z.int>>),
      }),
      pool: z.object({ released: z.int(), claimed: z.int() }),
      members: z
        .array(z.object({ userId: f.out.id, won: countAmountView, collected: amountView, target: z.nullable(z.number()), attainment: ratioView }))
        .check(z.maxLength(MAX_MEMBERS), z.describe(`the first ${MAX_MEMBERS} by amount won`)),
    })
    .check(z.meta({ id: 'Dashboard', description: 'The sales dashboard (仪表盘) of a period and scope.' })),
);

export async function dashboard(ctx: UseCaseContext, q: ScopeQuery & { period?: string | undefined }) {
  const scope = await resolveScope(ctx, q);
  const tenant = ctx.identity.tenantId;
  const { timeZone } = await cachedRules(tenant);
  const period = q.period ?? monthOf(ctx.now, timeZone);
  const previous = addMonths(period, -1);
  const yearAgo = addMonths(period, -12);
  const [rows, [yearAgoRow, nowRow]] = await Promise.all([
    monthRows(tenant, previous, period),
    rowsByKey(tenant, [scopeSk(yearAgo, scope), scopeSk('NOW', scope)]),
  ]);
  const row = rows.get(scopeSk(period, scope)) ?? {};
  const target = targetOf(rows, period, scope);
  const won = countAmount(row, 'won');
  return {
    period,
    scope: { kind: scope.kind, id: scope.id },
    won,
    lost: countAmount(row, 'lost'),
    created: countAmount(row, 'cr'),
    pipeline: { ...countAmount(row, 'pl'), weightedAmount: weightedMajor(row.pl_w) },
    orders: countAmount(row, 'ord'),
    collected: countAmount(row, 'col'),
    outstanding: { amount: major(nowRow!.out_a) },
    target: target === null ? null : major(target),
    attainment: target === null ? null : ratio(won.amount, major(target)),
    previous: comparison(rows.get(scopeSk(previous, scope)) ?? {}),
    yearAgo: comparison(yearAgoRow!),
    newAccounts: count(row, 'acc_n'),
    newLeads: count(row, 'lead_n'),
    convertedLeads: count(row, 'lconv_n'),
    activities: {
      total: ACTIVITY_TYPES.reduce((sum, type) => sum + count(row, `act_${type}`), 0),
      byType: Object.fromEntries(ACTIVITY_TYPES.map((type) => [type, count(row, `act_${type}`)])),
    },
    pool: { released: count(row, 'pool_rel'), claimed: count(row, 'pool_clm') },
    members: members(rows, period, scope),
  };
}

const comparison = (row: Row) => ({ won: countAmount(row, 'won'), collected: { amount: major(row.col_a) } });

function members(rows: Map<string, Row>, period: string, scope: Scope) {
  return [...memberRows(rows, [period], scope)]
    .filter(([, row]) => hasFigures(row))
    .map(([userId, row]) => {
      const target = memberTarget(row);
      const won = countAmount(row, 'won');
      return {
        userId,
        won,
        collected: { amount: major(row.col_a) },
        target: target === null ? null : major(target),
        attainment: target === null ? null : ratio(won.amount, major(target)),
      };
    })
    .sort((a, b) => b.won.amount - a.won.amount || a.userId.localeCompare(b.userId))
    .slice(0, MAX_MEMBERS);
}
