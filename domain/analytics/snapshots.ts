/**
 * Nightly forecast snapshots and the published backtest (api/analytics.md "Nightly snapshots",
 * "Accuracy").
 *
 * The `forecast-nightly` job: for every tenant whose local day at `now` has no snapshot yet,
 * one snapshot of that day for the tenant, each team and each user, for the current month,
 * the next one and the current quarter. Each snapshot item is written with
 * `attribute_not_exists`, and the tenant's DAY marker last: a run killed halfway is simply run
 * again (what it wrote stays, the rest is written), and a run after the marker does nothing.
 * Its reads are per tenant a handful of Queries whose size grows with users and months, never
 * with the records stored: the figures come from the aggregate rows.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { db, tableName } from '#domain/table/client.ts';
import { t, typePartition } from '#domain/table/keys.ts';
import { getItem, queryAll, queryInput, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { pageOf } from '#domain/fields.ts';
import { POOL_TENANT_PARTITION } from '#domain/pool/keys.ts';
import { cachedRules, localDate, rulesFromItem } from '#domain/pool/rules.ts';
import { memberOfSk, rowsByKey, scopeSk, type Scope } from '#domain/analytics/aggregates.ts';
import { major, ratio, ratioView } from '#domain/analytics/figures.ts';
import { forecastInputs, scopeForecast, type ForecastInputs } from '#domain/analytics/forecast.ts';
import { addMonths, monthOf, monthsOf, quarterOf } from '#domain/analytics/periods.ts';
import { resolveScope, type ScopeQuery } from '#domain/analytics/scope.ts';

type Item = Record<string, unknown>;

const scopeKey = (scope: Scope) => (scope.kind === 'tenant' ? 'S' : scope.kind === 'team' ? `ST#${scope.id}` : `SU#${scope.id}`);
export const snapshotPartition = (tenantId: string, period: string, scope: Scope) => `${t(tenantId)}#FSNAP#${period}#${scopeKey(scope)}`;
export const snapshotDayKey = (tenantId: string, date: string) => ({ PK: `${t(tenantId)}#FSNAP`, SK: `DAY#${date}` });

export class InjectedFailure extends Error {}

export interface ForecastNightlyOptions {
  now?: Date;
  /** Milliseconds left in this invocation; none: run to completion. */
  timeLeftMs?: () => number;
  /** Fault injection for tests: throw once this many snapshots have been written. */
  failAfter?: number;
}

/** Stop this long before the invocation's time runs out; the next run takes the tenants left. */
const SAFETY_MS = 30_000;
const WRITE_CONCURRENCY = 8;

export async function runForecastNightly(opts: ForecastNightlyOptions = {}) {
  const now = opts.now ?? new Date();
  const report = { job: 'forecast-nightly' as const, now: now.toISOString(), processed: 0, tenants: 0, snapshots: 0, complete: true };
  const registry = await queryAll({ index: 'byDue', pk: POOL_TENANT_PARTITION }, () => false);
  for (const entry of registry) {
    if (opts.timeLeftMs && opts.timeLeftMs() < SAFETY_MS) {
      report.complete = false;
      break;
    }
    const tenantId = String(entry.dueSk);
    const written = await snapshotTenant(tenantId, rulesFromItem(tenantId, entry).timeZone, now, () => {
      if (opts.failAfter !== undefined && report.snapshots >= opts.failAfter) throw new InjectedFailure('injected failure');
      report.snapshots++;
      report.processed++;
    });
    if (written !== undefined) report.tenants++;
  }
  return report;
}

/** One tenant's snapshots of its local day; undefined when that day already has them. */
async function snapshotTenant(tenantId: string, timeZone: string, now: Date, onWritten: () => void): Promise<number | undefined> {
  const date = localDate(now, timeZone);
  const marker = snapshotDayKey(tenantId, date);
  if (await getItem(marker)) return undefined;
  const month = date.slice(0, 7);
  const periods = [month, addMonths(month, 1), quarterOf(month)];
  // Every month of the three periods in one Query (the quarter's and the next month), and the history.
  const months = periods.flatMap(monthsOf).sort();
  const [users, inputs] = await Promise.all([
    queryAll({ index: 'byType', pk: typePartition(tenantId, 'USER') }, () => false),
    forecastInputs(tenantId, months[0]!, months.at(-1)!),
  ]);
  const scopes = scopesOf(tenantId, inputs, users);
  let written = 0;
  for (const period of periods) {
    for (let i = 0; i < scopes.length; i += WRITE_CONCURRENCY) {
      const results = await Promise.all(scopes.slice(i, i + WRITE_CONCURRENCY).map((scope) => putSnapshot(tenantId, period, scope, date, inputs, now)));
      for (const done of results) {
        if (!done) continue;
        onWritten();
        written++;
      }
    }
  }
  await db.send(new PutCommand({ TableName: tableName(), Item: { ...marker, tenantId, entityType: 'FSNAPDAY', at: now.toISOString(), snapshots: written } }));
  return written;
}

/** The tenant, every team and every user: from the directory and from the figures themselves. */
function scopesOf(tenantId: string, inputs: ForecastInputs, users: Item[]): Scope[] {
  const teams = new Set<string>();
  const userIds = new Set<string>();
  for (const u of users) {
    userIds.add(String(u.userId));
    if (typeof u.teamId === 'string') teams.add(u.teamId);
  }
  for (const sk of inputs.rows.keys()) {
    const member = memberOfSk(sk);
    if (!member) continue;
    userIds.add(member.userId);
    if (member.teamId) teams.add(member.teamId);
  }
  return [
    { kind: 'tenant', id: tenantId },
    ...[...teams].sort().map((id): Scope => ({ kind: 'team', id })),
    ...[...userIds].sort().map((id): Scope => ({ kind: 'user', id })),
  ];
}

/** Writes one snapshot unless that day's is already there; true when written. */
async function putSnapshot(tenantId: string, period: string, scope: Scope, date: string, inputs: ForecastInputs, now: Date): Promise<boolean> {
  const f = scopeForecast(inputs, period, scope);
  try {
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          PK: snapshotPartition(tenantId, period, scope),
          SK: date,
          tenantId,
          entityType: 'FSNAP',
          date,
          closedWon: f.closedWon.amount,
          commit: f.commit.amount,
          bestCase: f.bestCase.amount,
          pipeline: f.pipeline.amount,
          weighted: f.weighted,
          predicted: f.predicted.amount,
          low: f.predicted.low,
          high: f.predicted.high,
          takenAt: now.toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** A nightly snapshot as `GET /v1/forecast/snapshots` lists it: each figure an amount. */
export const snapshotView = z.lazy(() =>
  z
    .object({
      date: f.out.timestamp.check(z.describe("YYYY-MM-DD, the tenant's day")),
      closedWon: z.number(),
      commit: z.number(),
      bestCase: z.number(),
      pipeline: z.number(),
      weighted: z.number(),
      predicted: z.number(),
    })
    .check(z.meta({ id: 'ForecastSnapshot' })),
);

/** `GET /v1/forecast/accuracy`: one row per closed month with a snapshot at its start, and the mean errors. */
export const accuracyView = z.lazy(() =>
  z
    .extend(
      pageOf(
        z.object({
          period: f.out.code,
          predictedAtStart: z.number(),
          weightedAtStart: z.number(),
          actual: z.number(),
          error: ratioView,
          weightedError: ratioView,
        }),
      ),
      { mape: ratioView, weightedMape: ratioView },
    )
    .check(z.meta({ id: 'ForecastAccuracy', description: 'The published backtest of the forecast.' })),
);

export interface SnapshotView {
  date: string;
  closedWon: number;
  commit: number;
  bestCase: number;
  pipeline: number;
  weighted: number;
  predicted: number;
}

const presentSnapshot = (item: Item): SnapshotView => ({
  date: String(item.date),
  closedWon: Number(item.closedWon),
  commit: Number(item.commit),
  bestCase: Number(item.bestCase),
  pipeline: Number(item.pipeline),
  weighted: Number(item.weighted),
  predicted: Number(item.predicted),
});

export async function listSnapshots(ctx: UseCaseContext, q: ScopeQuery & { period?: string | undefined }, page: PageRequest): Promise<Page<SnapshotView>> {
  const scope = await resolveScope(ctx, q);
  const tenant = ctx.identity.tenantId;
  const period = q.period ?? monthOf(ctx.now, (await cachedRules(tenant)).timeZone);
  return queryPage({ pk: snapshotPartition(tenant, period, scope) }, page, presentSnapshot);
}

/** The published backtest: the last `periods` closed months with a snapshot on or before their first day. */
export async function forecastAccuracy(ctx: UseCaseContext, q: ScopeQuery & { periods?: number | undefined }) {
  const scope = await resolveScope(ctx, q);
  const tenant = ctx.identity.tenantId;
  const current = monthOf(ctx.now, (await cachedRules(tenant)).timeZone);
  const months = Array.from({ length: q.periods ?? 6 }, (_, i) => addMonths(current, i - (q.periods ?? 6)));
  const [actualRows, ...starts] = await Promise.all([
    rowsByKey(tenant, months.map((m) => scopeSk(m, scope))),
    ...months.map(async (m) => {
      const out = await db.send(
        new QueryCommand({ ...queryInput({ pk: snapshotPartition(tenant, m, scope), sk: { between: ['0', `${m}-01`] }, newestFirst: true }), Limit: 1 }),
      );
      return out.Items?.[0];
    }),
  ]);
  const items = months.flatMap((period, i) => {
    const start = starts[i];
    if (!start) return [];
    const actual = major(actualRows[i]!.won_a);
    const predictedAtStart = Number(start.predicted);
    const weightedAtStart = Number(start.weighted);
    return [{
      period,
      predictedAtStart,
      weightedAtStart,
      actual,
      error: ratio(Math.abs(predictedAtStart - actual), actual),
      weightedError: ratio(Math.abs(weightedAtStart - actual), actual),
    }];
  });
  const mean = (xs: (number | null)[]) => {
    const present = xs.filter((x): x is number => x !== null);
    return present.length ? ratio(present.reduce((a, b) => a + b, 0), present.length) : null;
  };
  return { items, nextCursor: null, mape: mean(items.map((x) => x.error)), weightedMape: mean(items.map((x) => x.weightedError)) };
}
