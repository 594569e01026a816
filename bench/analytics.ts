/**
 * Benchmark of the analytics (issue 7, performance section), called from scenarios.ts. Every
 * part runs in a DynamoDB table of its own (like the pool job's fixtures), so the outbox, the
 * tenant registry and the job see nothing but the part's tenants:
 *
 * - reads: `GET /v1/dashboard`, `GET /v1/reports/funnel`, `GET /v1/forecast` through the
 *   router, for a tenant holding 10,000 opportunities, 2,000 orders and 5,000 payments over 24
 *   months (and the dashboard for one with 100 of each: `dashboard.read.rcu_ratio`). The records
 *   are written straight into the table with BatchWriteItem in the stored form the use cases
 *   write, then `rebuildAggregates(tenant)` (the product's rebuild path) computes the aggregates;
 * - `aggregates.{stage_move,payment}.*`: what the analytics consumer's handling of ONE event
 *   costs (functions/events/analytics.ts `handler`, metered), on the large tenant's rows;
 * - `forecast.nightly.*`: the `forecast-nightly` job's consumed RCU with 1,000 open and 100,000
 *   closed opportunities ÷ with 1,000 and 1,000, and its wall time with 100,000 open. The
 *   1,000 + 1,000 fixture gets its aggregates from `rebuildAggregates`; the 100,000 ones get the
 *   same aggregates computed here with the product's own fact and row functions and written with
 *   the records (`directAggregates`: the rebuild takes about 9 minutes per 100,000 records on
 *   DynamoDB Local), checked equal to the rebuild's on the small fixture on every run;
 * - `forecast.backtest.*`: 24 months of synthetic history written through the domain use cases
 *   "as of" past moments (true win rates differ from the stage probabilities), a snapshot on the
 *   first day of each month, then the accuracy use case over the last 12 months.
 *
 * The job and backtest parts take minutes; BENCH_SKIP_ANALYTICS_JOB=1 leaves them out.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { batchPut } from './seed.ts';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ulid } from 'ulid';
import type { Caller } from '#test/support/api.ts';
import type { DomainEvent } from '#events/catalog.ts';
import type { Opportunity } from '#domain/sales/opportunity.ts';
import type { Order, Payment } from '#domain/sales/order.ts';
import type { Minor } from '#domain/sales/money.ts';
import { describeOperations, itemSize, type DynamoMeter, type Usage } from './dynamo-meter.ts';
import type { Call, Measure } from './scenarios.ts';

type Item = Record<string, unknown>;

export interface AnalyticsBenchInput {
  measure: Measure;
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const DAY = 86_400_000;
const SHANGHAI_MS = 8 * 3_600_000;
const round2 = (n: number) => Math.round(n * 100) / 100;
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
const progress = (msg: string) => process.stderr.write(`bench: analytics: ${msg}\n`);
const seconds = (t0: number) => round2((performance.now() - t0) / 1000);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/** The large fixture of the reads (issue 7): 10,000 opportunities, 2,000 orders, 5,000 payments over 24 months. */
const LARGE = { opportunities: 10_000, orders: 2_000, payments: 5_000 };
const SMALL = { opportunities: 100, orders: 100, payments: 100 };
const FUNNEL_MONTHS = 12;

export async function analyticsScenarios(input: AnalyticsBenchInput): Promise<void> {
  const t0 = performance.now();
  const env = await setup(input.meter);
  try {
    await readFigures(input, env);
    // The job's fixtures seed 200,000 opportunities and the backtest writes 24 months of history
    // through the use cases: minutes. BENCH_SKIP_ANALYTICS_JOB=1 leaves them out.
    if (process.env.BENCH_SKIP_ANALYTICS_JOB === '1') {
      input.notes.push('forecast.nightly, forecast.backtest: skipped (BENCH_SKIP_ANALYTICS_JOB=1)');
    } else {
      await nightlyFigures(input, env);
      await backtestFigures(input, env);
    }
  } finally {
    env.close();
  }
  input.notes.push(`analytics: the analytics part took ${seconds(t0)} s (fixtures included).`);
}

// ---- shared machinery ------------------------------------------------------------------------

interface Env {
  meter: DynamoMeter;
  seeder: DynamoDBDocumentClient;
  /** Creates a table of its own for a part's fixtures. */
  newTable(label: string): Promise<string>;
  dropTable(table: string): Promise<void>;
  /** Runs `fn` with the domain (router, use cases, jobs) on `table`; the bench's main table is back afterwards. */
  using<T>(table: string, fn: () => Promise<T>): Promise<T>;
  /** newTable + using + dropTable. */
  inTable<T>(label: string, fn: (table: string) => Promise<T>): Promise<T>;
  /** Runs `fn` with the meter taken off the domain's client (fixtures; timing without image reads). */
  unmetered<T>(fn: () => Promise<T>): Promise<T>;
  close(): void;
}

async function setup(meter: DynamoMeter): Promise<Env> {
  const { db } = await import('#domain/table/client.ts');
  const { createTableInput } = await import('#domain/table/definition.ts');
  const raw = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const seeder = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const mainTable = process.env.TABLE_NAME!;
  let metered = true;
  const env: Env = {
    meter,
    seeder,
    async newTable(label) {
      const table = `crm-bench-analytics-${label}-${randomUUID().slice(0, 8)}`;
      await raw.send(new CreateTableCommand(createTableInput(table)));
      return table;
    },
    async dropTable(table) {
      await raw.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    },
    async using(table, fn) {
      process.env.TABLE_NAME = table;
      try {
        return await fn();
      } finally {
        process.env.TABLE_NAME = mainTable;
      }
    },
    async inTable(label, fn) {
      const table = await env.newTable(label);
      try {
        return await env.using(table, () => fn(table));
      } finally {
        await env.dropTable(table);
      }
    },
    async unmetered(fn) {
      if (!metered) return fn();
      db.middlewareStack.remove('benchMeterAskCapacity');
      db.middlewareStack.remove('benchMeterRecord');
      metered = false;
      try {
        return await fn();
      } finally {
        meter.install(db);
        metered = true;
      }
    },
    close: () => raw.destroy(),
  };
  return env;
}

/** A small seeded PRNG (mulberry32): the fixtures and the backtest are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}
type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
/** An index drawn with the given weights (they sum to 1). */
function weighted(r: Rand, weights: readonly number[]): number {
  let x = r();
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]!;
    if (x < 0) return i;
  }
  return weights.length - 1;
}
/** Log-uniform amount in [lo, hi], rounded to 100 (major units). */
const amountBetween = (r: Rand, lo: number, hi: number) => Math.round((lo * Math.exp(r() * Math.log(hi / lo))) / 100) * 100;
const iso = (ms: number) => new Date(ms).toISOString();
/** The Shanghai calendar date of an instant (the tenants' default time zone). */
const localDay = (ms: number) => new Date(ms + SHANGHAI_MS).toISOString().slice(0, 10);
const localMonth = (ms: number) => localDay(ms).slice(0, 7);
function addMonths(m: string, n: number): string {
  const index = Number(m.slice(0, 4)) * 12 + Number(m.slice(5, 7)) - 1 + n;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

// ---- the fixtures' people and stored records ---------------------------------------------------

/** 10 users in 3 teams, a manager in each; the admin `root` owns nothing. */
const TEAMS: Record<string, string[]> = { east: ['mia', 'alice', 'bob', 'dave'], west: ['wendy', 'carol', 'erin'], north: ['nick', 'frank', 'grace'] };
const MANAGERS = new Set(['mia', 'wendy', 'nick']);
const USERS = Object.entries(TEAMS).flatMap(([teamId, ids]) => ids.map((userId) => ({ userId, teamId, role: MANAGERS.has(userId) ? 'manager' : 'rep' })));
type User = (typeof USERS)[number];

/** The users directory's items, as the first request of each user writes them (domain/directory/users.ts). */
async function userItems(tenant: string, nowMs: number): Promise<Item[]> {
  const { entityKey, typePartition } = await import('#domain/table/keys.ts');
  const at = iso(nowMs - 400 * DAY);
  return USERS.map((u) => ({
    ...entityKey(tenant, 'USER', u.userId),
    role: u.role,
    teamId: u.teamId,
    lastSeenAt: iso(nowMs - DAY),
    firstSeenAt: at,
    userId: u.userId,
    tenantId: tenant,
    entityType: 'USER',
    typePk: typePartition(tenant, 'USER'),
    typeSk: u.userId,
  }));
}

/** How far an opportunity got (0..3: the default pipeline's open stages) and, closed, how often that wins. */
const FURTHEST = [0.3, 0.3, 0.25, 0.15];
const WIN_FROM = [0.05, 0.15, 0.3, 0.55];
const LOST_REASONS = ['预算不足 budget cut', '选择了竞争对手 went with a competitor', '项目延期 postponed', '价格太高 price too high'];

interface OpportunityShape {
  /** Forced status; none: decided by its age (older ones are mostly closed). */
  status?: 'open' | 'closed';
  /** Creation, milliseconds before `now`: [min, max]. */
  createdAgo: [number, number];
}

/**
 * One opportunity in the stored form `createOpportunity` / `updateOpportunity` leave behind
 * (domain/sales/opportunities.ts): attribution (created/closed owner), the first entry into
 * each open stage it visited, the close, the forecast category, money in minor units.
 */
function opportunityRecord(r: Rand, tenant: string, i: number, nowMs: number, stageIds: string[], pipelineId: string, accounts: string[], shape: OpportunityShape): Opportunity {
  const owner = pick(r, USERS);
  // 5 % were reassigned since they were created (the creation counts for the first owner).
  const creator = r() < 0.05 ? pick(r, USERS) : owner;
  const createdMs = Math.floor(nowMs - shape.createdAgo[0] - r() * (shape.createdAgo[1] - shape.createdAgo[0]));
  const furthest = weighted(r, FURTHEST);
  const path = Array.from({ length: furthest + 1 }, (_, k) => k).filter((k) => !(k === 1 && furthest >= 2 && r() < 0.1));
  const age = nowMs - createdMs;
  const closed = shape.status ? shape.status === 'closed' : r() < (age >= 120 * DAY ? 0.95 : (0.9 * age) / (120 * DAY));
  const gaps = path.slice(1).map(() => (2 + r() * 18) * DAY);
  const closeGap = (3 + r() * 27) * DAY;
  const total = gaps.reduce((a, b) => a + b, 0) + (closed ? closeGap : 0);
  const room = nowMs - createdMs - 60_000;
  const scale = total > room ? room / total : 1;
  const entries = [createdMs];
  for (const g of gaps) entries.push(entries.at(-1)! + Math.floor(g * scale));
  const lastEntry = entries.at(-1)!;
  const closedMs = closed ? lastEntry + Math.floor(closeGap * scale) : null;
  const won = closed && r() < WIN_FROM[furthest]!;
  const stageVisits = Object.fromEntries(path.map((k, j) => [stageIds[k]!, iso(entries[j]!)]));
  const PROBABILITY = [10, 25, 50, 75];
  const openStage = path.at(-1)!;
  let expected: number;
  if (closedMs !== null) expected = closedMs;
  else {
    expected = createdMs + (30 + r() * 120) * DAY;
    // Reps move a deal's date forward rather than leave it long overdue.
    if (expected < nowMs - 30 * DAY) expected = nowMs + r() * 90 * DAY;
  }
  const category =
    closedMs !== null ? (won ? 'closed' : 'omitted')
    : openStage >= 3 ? (r() < 0.5 ? 'commit' : r() < 0.6 ? 'bestCase' : 'pipeline')
    : r() < 0.1 ? 'omitted' : r() < 0.25 ? 'bestCase' : 'pipeline';
  const amount = amountBetween(r, 20_000, 1_000_000);
  const historyCount = path.length + (closed ? 1 : 0);
  const edits = Math.floor(r() * 3);
  const status = closedMs === null ? 'open' : won ? 'won' : 'lost';
  const touched = Math.max(closedMs ?? lastEntry, Math.min(nowMs, lastEntry + edits * 3 * DAY));
  return {
    id: ulid(createdMs),
    createdAt: iso(createdMs),
    updatedAt: iso(touched),
    version: historyCount + edits,
    ownerId: owner.userId,
    ownerTeamId: owner.teamId,
    accountId: pick(r, accounts),
    contactIds: [],
    name: `商机 ${i} 智能仓储系统 Phase ${1 + (i % 3)}`,
    amountMinor: (amount * 100) as Minor,
    currency: 'CNY',
    pipelineId,
    stageId: status === 'open' ? stageIds[openStage]! : stageIds[won ? 4 : 5]!,
    probability: status === 'open' ? PROBABILITY[openStage]! : won ? 100 : 0,
    status,
    ...(status === 'lost' ? { lostReason: pick(r, LOST_REASONS) } : {}),
    expectedCloseDate: localDay(expected),
    closedAt: closedMs === null ? null : iso(closedMs),
    forecastCategory: category,
    needs: 'Warehouse automation for two sites; phased roll-out, budget approved for the first phase.',
    competitors: r() < 0.3 ? [{ name: '竞品科技 Rival Tech' }] : [],
    lastStageChangeAt: iso(closedMs ?? lastEntry),
    lastActivityAt: r() < 0.6 ? iso(Math.min(nowMs, (closedMs ?? lastEntry) + r() * 10 * DAY)) : null,
    historyCount,
    createdBy: creator.userId,
    createdOwnerId: creator.userId,
    createdTeamId: creator.teamId,
    ...(status === 'open' ? {} : { closedOwnerId: owner.userId, closedTeamId: owner.teamId }),
    stageVisits,
  } as Opportunity;
}

async function opportunityItems(r: Rand, tenant: string, n: number, nowMs: number, shape: OpportunityShape, first = 0): Promise<Item[]> {
  const { toItem } = await import('#domain/records.ts');
  const { opportunitySpec } = await import('#domain/sales/opportunity.ts');
  const { defaultPipelineId, defaultStages } = await import('#domain/sales/pipeline.ts');
  const stageIds = defaultStages(tenant).map((s) => s.id);
  const accounts = Array.from({ length: Math.max(20, Math.ceil(n / 12)) }, () => ulid(nowMs - 800 * DAY));
  const items: Item[] = [];
  for (let i = 0; i < n; i++) {
    items.push(toItem(opportunitySpec, tenant, opportunityRecord(r, tenant, first + i, nowMs, stageIds, defaultPipelineId(tenant), accounts, shape)));
  }
  return items;
}

/**
 * Orders signed over the last 24 months and their payments, in the stored form of
 * `createOrder` / `recordPayment` (domain/sales/orders.ts): the order's totals agree with its
 * payments; each payment is credited to the order's owner, as `recordPayment` stores it.
 */
async function orderItems(r: Rand, tenant: string, orders: number, payments: number, nowMs: number, spanMs: number): Promise<Item[]> {
  const { toItem } = await import('#domain/records.ts');
  const { orderSpec, paymentKey, paymentStatusOf } = await import('#domain/sales/order.ts');
  const perOrder = new Array<number>(orders).fill(0);
  for (let p = 0; p < payments; p++) perOrder[Math.floor(r() * orders)]!++;
  const items: Item[] = [];
  for (let i = 0; i < orders; i++) {
    const owner: User = pick(r, USERS);
    const signedMs = Math.floor(nowMs - r() * spanMs);
    const amount = amountBetween(r, 20_000, 800_000) * 100;
    const count = perOrder[i]!;
    const paidShare = r() < 0.6 ? 1 : 0.5 + 0.4 * r();
    const toCollect = Math.min(amount, Math.max(count, Math.floor(amount * paidShare)));
    const id = ulid(signedMs);
    let collected = 0;
    let last: number | undefined;
    for (let k = 0; k < count; k++) {
      const part = k === count - 1 ? toCollect - collected : Math.floor(toCollect / count);
      const receivedMs = Math.floor(signedMs + r() * Math.min(180 * DAY, nowMs - signedMs));
      last = Math.max(last ?? 0, receivedMs);
      collected += part;
      const payment: Payment = {
        id: ulid(receivedMs),
        orderId: id,
        amountMinor: part as Minor,
        currency: 'CNY',
        receivedAt: iso(receivedMs),
        method: 'bank_transfer',
        reference: `BENCH-${i}-${k}`,
        createdBy: owner.userId,
        createdAt: iso(receivedMs),
        updatedAt: iso(receivedMs),
        version: 1,
        ownerId: owner.userId,
        ownerTeamId: owner.teamId,
      };
      items.push({ ...paymentKey(tenant, id, payment.receivedAt, payment.id), ...payment, tenantId: tenant, entityType: 'PAYMENT' });
    }
    const order: Order = {
      id,
      createdAt: iso(signedMs),
      updatedAt: iso(last ?? signedMs),
      version: 1 + count,
      ownerId: owner.userId,
      ownerTeamId: owner.teamId,
      accountId: ulid(signedMs - 100 * DAY),
      name: `框架合同 Framework contract ${i}`,
      currency: 'CNY',
      amountMinor: amount as Minor,
      collectedMinor: collected as Minor,
      outstandingMinor: (amount - collected) as Minor,
      paymentStatus: paymentStatusOf(amount as Minor, collected as Minor),
      paymentCount: count,
      ...(last !== undefined ? { lastPaymentAt: iso(last) } : {}),
      signedAt: iso(signedMs),
      notes: 'Three instalments: 30 % on signing, 40 % on delivery, 30 % on acceptance.',
      createdBy: owner.userId,
      signedOwnerId: owner.userId,
      signedTeamId: owner.teamId,
    };
    items.push(toItem(orderSpec, tenant, order));
  }
  return items;
}

/** Seeds a tenant's records and users (BatchWriteItem straight into `table`); seconds taken. */
async function seed(env: Env, table: string, tenant: string, items: Item[], nowMs: number): Promise<number> {
  const t0 = performance.now();
  await batchPut(env.seeder, table, [...(await userItems(tenant, nowMs)), ...items], (n) => progress(`seeding ${tenant}: ${n} of ${items.length} items`));
  return seconds(t0);
}

/** Builds a tenant's aggregates with the product's rebuild path (the domain must be on its table); seconds taken. */
async function rebuild(env: Env, tenant: string): Promise<number> {
  const { rebuildAggregates } = await import('#domain/analytics/rebuild.ts');
  const t0 = performance.now();
  await env.unmetered(() => rebuildAggregates(tenant));
  return seconds(t0);
}

/** Seeds a tenant's records and users, then builds its aggregates with the product's rebuild. */
async function seedTenant(env: Env, table: string, tenant: string, items: Item[], nowMs: number): Promise<{ seedS: number; rebuildS: number }> {
  const seedS = await seed(env, table, tenant, items, nowMs);
  return { seedS, rebuildS: await rebuild(env, tenant) };
}

/**
 * What a tenant's aggregate rows of the months `from`..`to` hold, read unmetered (the whole AGG
 * partition, then kept by month): rows and bytes (DynamoDB's item size) per row family, the
 * sort key's first part (`D` the dashboard's, `F` the forecast's, `FU` the funnel's), and the
 * MODEL row (the forecast's history).
 */
/** Every aggregate row of a tenant in a fixture table (strongly consistent), unmetered. */
async function aggRows(env: Env, table: string, tenant: string): Promise<Item[]> {
  const { aggPartition } = await import('#domain/analytics/aggregates.ts');
  const rows: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await env.seeder.send(new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': aggPartition(tenant) },
      ConsistentRead: true,
      ...(start ? { ExclusiveStartKey: start } : {}),
    }));
    rows.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}

async function rowBytes(env: Env, table: string, tenant: string, from: string, to: string): Promise<Map<string, { rows: number; bytes: number }>> {
  const out = new Map<string, { rows: number; bytes: number }>();
  for (const row of await aggRows(env, table, tenant)) {
    const sk = String(row.SK);
    const m = /^([^#]+)#(\d{4}-\d{2})#/.exec(sk);
    const family = sk === 'MODEL' ? 'MODEL' : m && m[2]! >= from && m[2]! <= to ? m[1]! : undefined;
    if (!family) continue;
    const entry = out.get(family) ?? { rows: 0, bytes: 0 };
    entry.rows++;
    entry.bytes += itemSize(marshall(row));
    out.set(family, entry);
  }
  return out;
}

const FAMILY_NAMES: Record<string, string> = { D: 'dashboard', F: 'forecast', FU: 'funnel', MODEL: 'history' };
const kb = (bytes: number) => `${round2(bytes / 1024)} KB`;
const describeRows = (rows: Map<string, { rows: number; bytes: number }>) =>
  [...rows].sort(([a], [b]) => a.localeCompare(b)).map(([family, x]) => `${family} (${FAMILY_NAMES[family] ?? '?'}) ${x.rows} rows ${kb(x.bytes)}`).join(', ') || 'none';

// ---- 1–3: reads and the consumer's cost per event --------------------------------------------------

async function readFigures(input: AnalyticsBenchInput, env: Env): Promise<void> {
  const { measure, call, figures, notes } = input;
  try {
    await env.inTable('reads', async (table) => {
      const nowMs = Date.now();
      const run = Date.now().toString(36);
      const large = `anl${run}`;
      const small = `ans${run}`;
      const r = prng(7_2026);
      // 24 calendar months in Shanghai: from the first day of the month 23 months ago until now.
      const current = localMonth(nowMs);
      const span = nowMs - shanghai(addMonths(current, -23), 1, '00:00') - 60_000;
      for (const [tenant, size] of [[large, LARGE], [small, SMALL]] as const) {
        const items = [
          ...(await opportunityItems(r, tenant, size.opportunities, nowMs, { createdAgo: [0, span] })),
          ...(await orderItems(r, tenant, size.orders, size.payments, nowMs, span)),
        ];
        const { seedS, rebuildS } = await seedTenant(env, table, tenant, items, nowMs);
        progress(`${tenant}: seeded ${items.length} items in ${seedS} s, rebuilt its aggregates in ${rebuildS} s`);
        notes.push(
          `analytics reads: the ${tenant === large ? 'large' : 'small'} tenant (${size.opportunities} opportunities, ${size.orders} orders, ${size.payments} payments over 24 months, ` +
            `10 users in 3 teams): ${items.length} items seeded with BatchWriteItem in ${seedS} s, aggregates built by rebuildAggregates in ${rebuildS} s.`,
        );
      }

      const root: Caller = { tenant: large, user: 'root', role: 'admin' };
      const mia: Caller = { tenant: large, user: 'mia', role: 'manager', team: 'east' };
      const alice: Caller = { tenant: large, user: 'alice', role: 'rep', team: 'east' };
      const rootSmall: Caller = { tenant: small, user: 'root', role: 'admin' };
      // Warm-up, unmeasured: each caller's directory write, the tenant's pool rules (the time zone,
      // cached per container), the default pipeline (created by a tenant's first use of it).
      for (const who of [root, mia, alice, rootSmall]) {
        for (const url of ['/v1/dashboard', '/v1/pipelines']) {
          const res = await call(who, 'GET', url);
          if (res.status !== 200) throw new Error(`warm-up GET ${url} as ${who.user} answered ${res.status} ${res.body.slice(0, 200)}`);
        }
      }

      // The last full month: the figure does not depend on the day of the month the bench runs.
      const period = addMonths(current, -1);
      const big = `${LARGE.opportunities.toLocaleString('en')} opportunities`;
      const dash = await measure('dashboard.read', root, 'GET', `/v1/dashboard?period=${period}`, 200, undefined, { label: `(admin: the tenant; ${big})` });
      await measure('dashboard.read.manager', mia, 'GET', `/v1/dashboard?period=${period}`, 200, undefined, { label: `(manager: the team; ${big})` });
      await measure('dashboard.read.rep', alice, 'GET', `/v1/dashboard?period=${period}`, 200, undefined, { label: `(rep: itself; ${big})` });
      await measure('dashboard.read.small', rootSmall, 'GET', `/v1/dashboard?period=${period}`, 200, undefined, { label: '(admin: the tenant; 100 opportunities)' });
      const previous = addMonths(period, -1);
      notes.push(
        `dashboard.read: the aggregate rows of ${previous} and ${period} by family (its Query reads the dashboard's of every scope, for admin, manager and rep alike): ` +
          `large tenant ${describeRows(await rowBytes(env, table, large, previous, period))}; ` +
          `small tenant ${describeRows(await rowBytes(env, table, small, previous, period))}.`,
      );
      if (figures['dashboard.read.rcu'] !== undefined && figures['dashboard.read.small.rcu']) {
        figures['dashboard.read.rcu_ratio'] = round2(figures['dashboard.read.rcu'] / figures['dashboard.read.small.rcu']);
      }
      const from = addMonths(current, 1 - FUNNEL_MONTHS);
      const funnel = await measure('funnel.read', root, 'GET', `/v1/reports/funnel?from=${from}&to=${current}`, 200, undefined, { label: `(admin, ${FUNNEL_MONTHS} months; ${big})` });
      figures['funnel.read.months'] = FUNNEL_MONTHS;
      await measure('forecast.read', root, 'GET', '/v1/forecast', 200, undefined, { label: `(admin, this month; ${big})` });

      // A look that the fixture is what it says: the funnel over the 24 months counts every opportunity.
      const all = await call(root, 'GET', `/v1/reports/funnel?from=${addMonths(current, -23)}&to=${current}`);
      const d = dash?.json as { won?: { count: number }; lost?: { count: number }; collected?: { count: number }; members?: unknown[] } | undefined;
      notes.push(
        `analytics reads: dashboard of ${period} (the last full month; the time zone from the pool rules the container cached at the warm-up): ` +
          `${d?.won?.count ?? '?'} won, ${d?.lost?.count ?? '?'} lost, ${d?.collected?.count ?? '?'} payments, ${d?.members?.length ?? '?'} member rows; ` +
          `funnel ${from}..${current}: ${(funnel?.json as { total?: number } | undefined)?.total ?? '?'} opportunities; ` +
          `over 24 months: ${(all.json as { total?: number } | undefined)?.total ?? '?'} of ${LARGE.opportunities} seeded.`,
      );

      await perEventFigures(input, [alice, { tenant: small, user: 'alice', role: 'rep', team: 'east' }], current);
    });
  } catch (err) {
    notes.push(`analytics reads: no figure: ${errorText(err)}`);
  }
}

/** Takes the pending events out of the outbox (this part's table holds only its own). */
async function takePending(): Promise<DomainEvent[]> {
  const { deliverPending } = await import('#events/outbox.ts');
  const taken: DomainEvent[] = [];
  await deliverPending({
    publish: async (events) => {
      taken.push(...events);
      return { failedIds: [] };
    },
  });
  return taken;
}

/**
 * The consumer's handling of ONE event (functions/events/analytics.ts), metered: a stage move
 * (`opportunity.updated`) and a payment (`payment.received`), made through the API as a rep of
 * the tenant. Every other event is handed to the consumer first, unmetered, so the measured one
 * finds the aggregates up to date. Measured on the large tenant (its rows are as big as such a
 * tenant's are) and on the small one.
 */
async function perEventFigures(input: AnalyticsBenchInput, reps: [large: Caller, small: Caller], month: string): Promise<void> {
  const { call, meter, figures, notes } = input;
  const { handler } = await import('#functions/events/analytics.ts');
  const { defaultStages } = await import('#domain/sales/pipeline.ts');
  const apply = async (events: DomainEvent[]) => {
    for (const event of events) await handler({ detail: event });
  };
  const created = async (who: Caller, url: string, body: unknown) => {
    const res = await call(who, 'POST', url, body);
    if (res.status !== 201) throw new Error(`POST ${url} answered ${res.status} ${res.body.slice(0, 200)}`);
    return (res.json as { id: string }).id;
  };
  const measured = async (name: string, events: DomainEvent[], type: string) => {
    const event = events.find((e) => e.type === type);
    if (!event) throw new Error(`no ${type} event among ${events.map((e) => e.type).join(', ')}`);
    await apply(events.filter((e) => e !== event));
    const mark = meter.mark();
    await handler({ detail: event });
    const u: Usage = meter.usageSince(mark);
    figures[`${name}.requests`] = u.requests;
    figures[`${name}.rcu`] = round2(u.rcu);
    figures[`${name}.wcu`] = round2(u.wcu);
    figures[`${name}.gsi_wcu`] = round2(u.gsiWcu);
    return u;
  };

  for (const [who, suffix] of [[reps[0], ''], [reps[1], '.small']] as const) {
    try {
      await apply(await takePending());
      const stages = defaultStages(who.tenant).map((s) => s.id);
      const accountId = await created(who, '/v1/accounts', { name: `分析基准客户 ${who.tenant} 有限公司`, tier: 'B' });
      const opportunityId = await created(who, '/v1/opportunities', { accountId, name: '分析基准商机', amount: 250_000, expectedCloseDate: `${month}-28` });
      await apply(await takePending());
      const moved = await call(who, 'PATCH', `/v1/opportunities/${opportunityId}`, { stageId: stages[2] });
      if (moved.status !== 200) throw new Error(`PATCH /v1/opportunities/{id} answered ${moved.status} ${moved.body.slice(0, 200)}`);
      const move = await measured(`aggregates.stage_move${suffix}`, await takePending(), 'opportunity.updated');

      const orderId = await created(who, '/v1/orders', { accountId, name: '分析基准合同', amount: 300_000, signedAt: new Date().toISOString() });
      await apply(await takePending());
      await created(who, `/v1/orders/${orderId}/payments`, { amount: 100_000, method: 'bank_transfer' });
      const pay = await measured(`aggregates.payment${suffix}`, await takePending(), 'payment.received');
      if (suffix === '') {
        figures['aggregates.per_event.wcu'] = Math.max(figures['aggregates.stage_move.wcu']!, figures['aggregates.payment.wcu']!);
        notes.push(
          `aggregates: one stage move costs the analytics consumer ${move.requests} requests (${describeOperations(move.byOperation)}), ${round2(move.wcu)} WCU ` +
            `(${move.calls.join(' + ')}); one payment ${pay.requests} requests (${describeOperations(pay.byOperation)}), ${round2(pay.wcu)} WCU, ` +
            'on the large tenant (an update of an aggregate row is charged by the size of the whole row).',
        );
      }
    } catch (err) {
      notes.push(`aggregates${suffix}: no figure: ${errorText(err)}`);
    }
  }
}

// ---- 4: the forecast-nightly job -------------------------------------------------------------------

async function nightlyFigures(input: AnalyticsBenchInput, env: Env): Promise<void> {
  const { meter, figures, notes } = input;
  const { runForecastNightly } = await import('#domain/analytics/snapshots.ts');
  // BENCH_ANALYTICS_STORED lowers the 100,000 of the big fixtures for a quick run (the figures are then not the issue's).
  const stored = Number(process.env.BENCH_ANALYTICS_STORED ?? 100_000);
  const k = `${Math.round(stored / 1000)}k`;
  const r = prng(4_2026);

  /**
   * One tenant in a table of its own: `open` + `closed` opportunities seeded, their aggregates
   * built (`rebuildAggregates`, or written directly: see `directAggregates`), then ONE metered,
   * timed run of the job with nothing else running, and the size of the rows it read.
   */
  const fixture = (label: string, open: number, closed: number, build: 'rebuild' | 'direct') =>
    env.inTable(label, async (table) => {
      const nowMs = Date.now();
      const tenant = `anj${label}${nowMs.toString(36)}`;
      const items: Item[] = [];
      // Open ones created within the last 5 months, closing from a month ago to 6 months ahead; closed ones over 24 months.
      for (let i = 0; i < open; i += 10_000) {
        items.push(...(await opportunityItems(r, tenant, Math.min(10_000, open - i), nowMs, { status: 'open', createdAgo: [0, 150 * DAY] }, i)));
      }
      for (let i = 0; i < closed; i += 10_000) {
        items.push(...(await opportunityItems(r, tenant, Math.min(10_000, closed - i), nowMs, { status: 'closed', createdAgo: [10 * DAY, 700 * DAY] }, open + i)));
      }
      let seedS: number;
      let buildS: number;
      let check: string | undefined;
      if (build === 'rebuild') {
        seedS = await seed(env, table, tenant, items, nowMs);
        buildS = await rebuild(env, tenant);
        check = await compareWithDirect(env, table, tenant, items);
      } else {
        const t0 = performance.now();
        const aggregates = await directAggregates(tenant, items);
        buildS = seconds(t0);
        seedS = await seed(env, table, tenant, [...items, ...aggregates], nowMs);
      }
      progress(`${tenant}: ${open} open + ${closed} closed: seeded in ${seedS} s, aggregates (${build}) in ${buildS} s`);
      const now = new Date();
      const mark = meter.mark();
      const t0 = performance.now();
      const report = await runForecastNightly({ now });
      const s = seconds(t0);
      const usage = meter.usageSince(mark);
      // The rows of the periods it snapshots: the quarter's months and the next month.
      const month = localMonth(now.getTime());
      const rows = await rowBytes(env, table, tenant, addMonths(month, -((Number(month.slice(5)) - 1) % 3)), addMonths(month, 1));
      const how = build === 'rebuild' ? `rebuildAggregates ${buildS} s` : `aggregates computed and written directly`;
      return { usage, seconds: s, report, rows, check, prep: `seeding ${seedS} s, ${how}; not measured` };
    });

  // BENCH_ANALYTICS_REBUILD=1: the big fixtures through rebuildAggregates too (about 9 minutes each on DynamoDB Local).
  const bigBuild = process.env.BENCH_ANALYTICS_REBUILD === '1' ? 'rebuild' : 'direct';
  try {
    const a = await fixture('1k', 1_000, 1_000, 'rebuild');
    if (a.check) notes.push(`forecast.nightly: ${a.check}`);
    const b = await fixture(k, 1_000, stored, bigBuild);
    figures['forecast.nightly.1k_closed.rcu'] = round2(a.usage.rcu);
    figures['forecast.nightly.1k_closed.requests'] = a.usage.requests;
    figures[`forecast.nightly.${k}_closed.rcu`] = round2(b.usage.rcu);
    figures[`forecast.nightly.${k}_closed.requests`] = b.usage.requests;
    figures['forecast.nightly.rcu_ratio'] = round2(b.usage.rcu / a.usage.rcu);
    if (stored !== 100_000) notes.push(`forecast.nightly: measured with ${stored} stored opportunities (BENCH_ANALYTICS_STORED), not 100,000`);
    notes.push(
      `forecast.nightly: ${round2(a.usage.rcu)} RCU (${a.usage.requests} requests: ${describeOperations(a.usage.byOperation)}) with 1,000 open + 1,000 closed opportunities (${a.prep}), ` +
        `${round2(b.usage.rcu)} RCU (${b.usage.requests} requests) with 1,000 open + ${stored.toLocaleString('en')} closed (${b.prep}); ${b.report.snapshots} snapshots each run. ` +
        `The aggregate rows of the quarter's months and the next one by family (the job reads the dashboard's and the forecast's, and the history): ` +
        `with 1,000 closed ${describeRows(a.rows)}; with ${stored.toLocaleString('en')} closed ${describeRows(b.rows)}.`,
    );
  } catch (err) {
    notes.push(`forecast.nightly.rcu_ratio: no figure: ${errorText(err)}`);
  }

  try {
    // 100,000 open, and 1,000 closed so that the model has a history to learn from.
    const c = await fixture(`${k}open`, stored, 1_000, bigBuild);
    figures[`forecast.nightly.${k}_open.seconds`] = c.seconds;
    figures[`forecast.nightly.${k}_open.rcu`] = round2(c.usage.rcu);
    figures[`forecast.nightly.${k}_open.requests`] = c.usage.requests;
    notes.push(
      `forecast.nightly.${k}_open: ${c.seconds} s of local wall time for one run over a tenant with ${stored.toLocaleString('en')} open (+ 1,000 closed) opportunities, ` +
        `${c.usage.requests} requests, ${round2(c.usage.rcu)} RCU, ${c.report.snapshots} snapshots (metered: the meter reads each written snapshot once more; ${c.prep}). ` +
        `Its rows: ${describeRows(c.rows)}.`,
    );
  } catch (err) {
    notes.push(`forecast.nightly.${k}_open: no figure: ${errorText(err)}`);
  }
}

/**
 * The aggregates `rebuildAggregates` would write for a tenant whose only records are these
 * opportunities, computed with the product's own functions (`opportunityFacts`, `rowSums`) and
 * returned as items in the stored form rebuild.ts writes (a CONTRIB item per opportunity, the
 * AGG rows) plus the tenant's registry item (which the rebuild's `loadRules` writes). For the
 * job's 100,000-opportunity fixtures: `rebuildAggregates` reads every record back through the
 * byType index, and DynamoDB Local answers each page of that Query in time proportional to the
 * items left after it, so 100,000 records take it about 9 minutes (6 of them in that Query).
 * `compareWithDirect` checks on the 1,000 + 1,000 fixture, every run, that both give the same rows.
 */
async function directAggregates(tenant: string, opportunities: Item[]): Promise<Item[]> {
  const { opportunityFacts } = await import('#domain/analytics/facts.ts');
  const { aggPartition, contribPartition, rowSums } = await import('#domain/analytics/aggregates.ts');
  const { recordSubjectId } = await import('#domain/analytics/consumer.ts');
  const { poolRulesKey, POOL_TENANT_PARTITION } = await import('#domain/pool/keys.ts');
  const { rulesFromItem } = await import('#domain/pool/rules.ts');
  const { timeZone } = rulesFromItem(tenant, undefined);
  const out: Item[] = [{ ...poolRulesKey(tenant), tenantId: tenant, entityType: 'POOLRULES', duePk: POOL_TENANT_PARTITION, dueSk: tenant }];
  const sums = new Map<string, Map<string, number>>();
  for (const item of opportunities) {
    const facts = opportunityFacts(item, timeZone);
    rowSums(facts, 1, sums);
    out.push({
      PK: contribPartition(tenant, 'opportunity'),
      SK: recordSubjectId({ PK: String(item.PK), SK: String(item.SK) }),
      tenantId: tenant,
      entityType: 'CONTRIB',
      kind: 'opportunity',
      version: Number(item.version),
      facts: JSON.stringify(facts),
    });
  }
  for (const [SK, attrs] of sums) {
    out.push({ PK: aggPartition(tenant), SK, tenantId: tenant, entityType: 'AGG', ...Object.fromEntries([...attrs].filter(([, v]) => v !== 0)) });
  }
  return out;
}

/** Compares the rows `rebuildAggregates` wrote for a tenant with the ones `directAggregates` computes from the same records. */
async function compareWithDirect(env: Env, table: string, tenant: string, opportunities: Item[]): Promise<string> {
  const direct = new Map((await directAggregates(tenant, opportunities)).filter((x) => x.entityType === 'AGG').map((x) => [String(x.SK), x]));
  const stored = new Map((await aggRows(env, table, tenant)).map((row) => [String(row.SK), row]));
  const differing = [...new Set([...direct.keys(), ...stored.keys()])].filter((sk) => {
    const x = direct.get(sk);
    const y = stored.get(sk);
    if (!x || !y) return true;
    const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
    return [...keys].some((key) => x[key] !== y[key]);
  });
  return differing.length === 0
    ? `the aggregates computed directly from the 1,000 + 1,000 fixture's records equal rebuildAggregates' (${stored.size} rows, every attribute)`
    : `WARNING: the aggregates computed directly differ from rebuildAggregates' in ${differing.length} of ${stored.size} rows (e.g. ${differing.slice(0, 3).join(', ')}): the 100k fixtures' figures are suspect`;
}

// ---- 5: the forecast backtest ----------------------------------------------------------------------

/** The default pipeline's open stages: nominal probabilities 10, 25, 50, 75 %; what really wins from each. */
const TRUE_WIN = [0.05, 0.12, 0.2, 0.45];
/** Where an opportunity stands on the first day of its closing month. */
const STANDS_AT = [0.2, 0.3, 0.3, 0.2];
const BACKTEST_FIRST = '2024-01';
const BACKTEST_MONTHS = 24;
const BACKTEST_PERIODS = 12;

interface Plan {
  owner: Caller;
  accountId: string;
  amount: number;
  month: string;
  stages: number[];
  won: boolean;
  id?: string;
}
type Step =
  | { at: number; kind: 'create' | 'move' | 'close'; plan: Plan; stage: number }
  | { at: number; kind: 'snapshot'; month: string };

/** `YYYY-MM` + day + time in Shanghai → epoch ms. */
const shanghai = (month: string, day: number, hhmm = '10:00') => Date.parse(`${month}-${String(day).padStart(2, '0')}T${hhmm}:00+08:00`);

async function backtestFigures(input: AnalyticsBenchInput, env: Env): Promise<void> {
  const { call, figures, notes } = input;
  const perMonth = Number(process.env.BENCH_BACKTEST_PER_MONTH ?? 50);
  try {
    await env.inTable('backtest', async () => {
      const { createOpportunity, updateOpportunity } = await import('#domain/sales/opportunities.ts');
      const { defaultStages } = await import('#domain/sales/pipeline.ts');
      const { runForecastNightly, forecastAccuracy } = await import('#domain/analytics/snapshots.ts');
      const { deliverPending } = await import('#events/outbox.ts');
      const { inProcessPublisher } = await import('#local/bus.ts');
      const t0 = performance.now();
      const tenant = `anb${Date.now().toString(36)}`;
      const root: Caller = { tenant, user: 'root', role: 'admin' };
      const reps: Caller[] = [
        ...['alice', 'bob', 'dave'].map((user): Caller => ({ tenant, user, role: 'rep', team: 'east' })),
        ...['carol', 'erin', 'frank'].map((user): Caller => ({ tenant, user, role: 'rep', team: 'west' })),
      ];
      // The directory and an account per rep, through the API (the real clock; an account's date plays no part).
      const accountOf = new Map<Caller, string>();
      for (const who of [root, ...reps]) {
        const res = await call(who, 'GET', '/v1/accounts?limit=1');
        if (res.status !== 200) throw new Error(`GET /v1/accounts as ${who.user} answered ${res.status}`);
      }
      for (const who of reps) {
        const res = await call(who, 'POST', '/v1/accounts', { name: `回测客户 ${who.user} 有限公司`, tier: 'A' });
        if (res.status !== 201) throw new Error(`POST /v1/accounts answered ${res.status} ${res.body.slice(0, 200)}`);
        accountOf.set(who, (res.json as { id: string }).id);
      }
      const stageIds = defaultStages(tenant).map((s) => s.id);
      const ctx = (who: Caller, at: number) => ({
        identity: { tenantId: tenant, userId: who.user, role: who.role, ...(who.team ? { teamId: who.team } : {}) },
        now: new Date(at),
      });

      // The plan: for each month M, `perMonth` opportunities closing in M. 20 % were created in M−2,
      // 65 % in M−1 (both stand in their stage on M's first day), 15 % early in M (after that day's
      // snapshot). Each moves up the open stages (now and then skipping 需求确认) to where it
      // stands, then closes in M: won with the TRUE rate of that stage, else lost.
      const r = prng(5_2026);
      const steps: Step[] = [];
      for (let i = 0; i < BACKTEST_MONTHS; i++) {
        const month = addMonths(BACKTEST_FIRST, i);
        steps.push({ at: shanghai(month, 1, '00:30'), kind: 'snapshot', month });
        for (let j = 0; j < perMonth; j++) {
          const owner = pick(r, reps);
          const standsAt = weighted(r, STANDS_AT);
          const stages = Array.from({ length: standsAt + 1 }, (_, s) => s).filter((s) => !(s === 1 && standsAt >= 2 && r() < 0.15));
          const plan: Plan = { owner, accountId: accountOf.get(owner)!, amount: amountBetween(r, 30_000, 300_000), month, stages, won: r() < TRUE_WIN[standsAt]!, };
          const when = r();
          // Created: M−2 (days 1–20), M−1 (days 1–20) or M (days 2–6); stage entries 2–8 days apart
          // (a deal from M−2 may enter its later stages 30+ days old); all before M's first day unless created in M.
          const createdMonth = when < 0.2 ? addMonths(month, -2) : when < 0.85 ? addMonths(month, -1) : month;
          let at = createdMonth === month ? shanghai(month, 2 + Math.floor(r() * 5)) : shanghai(createdMonth, 1 + Math.floor(r() * 20));
          const limit = createdMonth === month ? shanghai(month, 15) : shanghai(month, 1) - 3_600_000;
          steps.push({ at, kind: 'create', plan, stage: stages[0]! });
          for (const s of stages.slice(1)) {
            at = Math.min(limit - 60_000, at + (2 + r() * 6) * DAY);
            steps.push({ at, kind: 'move', plan, stage: s });
          }
          const closeAt = Math.max(at + 3_600_000, shanghai(month, 16 + Math.floor(r() * 12)));
          steps.push({ at: closeAt, kind: 'close', plan, stage: plan.won ? 4 : 5 });
        }
      }
      steps.sort((a, b) => a.at - b.at || (a.kind === 'snapshot' ? -1 : b.kind === 'snapshot' ? 1 : 0));

      const bus = inProcessPublisher();
      const deliverAll = async () => {
        for (;;) {
          const report = await deliverPending(bus);
          if (report.failedIds.length) throw new Error(`${report.failedIds.length} events failed delivery`);
          if (report.delivered === 0) return;
        }
      };
      let operations = 0;
      await env.unmetered(async () => {
        for (const step of steps) {
          if (step.kind === 'snapshot') {
            await deliverAll();
            await runForecastNightly({ now: new Date(step.at) });
            if (step.month.endsWith('-01') || step.month.endsWith('-07')) progress(`backtest: ${step.month} (${seconds(t0)} s)`);
            continue;
          }
          const { plan } = step;
          const c = ctx(plan.owner, step.at);
          operations++;
          if (step.kind === 'create') {
            const created = await createOpportunity(c, {
              accountId: plan.accountId,
              name: `回测商机 ${plan.month}`,
              amount: (plan.amount * 100) as Minor,
              currency: 'CNY',
              expectedCloseDate: `${plan.month}-25`,
              stageId: stageIds[step.stage]!,
              contactIds: [],
              competitors: [],
            });
            plan.id = created.id;
          } else {
            await updateOpportunity(c, plan.id!, {
              stageId: stageIds[step.stage]!,
              ...(step.stage === 5 ? { lostReason: pick(r, LOST_REASONS) } : {}),
            }, undefined);
          }
        }
        await deliverAll();
      });
      const after = addMonths(BACKTEST_FIRST, BACKTEST_MONTHS);
      const accuracy = await forecastAccuracy(ctx(root, shanghai(after, 15)), { periods: BACKTEST_PERIODS });
      const s = seconds(t0);
      figures['forecast.backtest.periods'] = accuracy.items.length;
      if (accuracy.mape !== null) figures['forecast.backtest.mape'] = accuracy.mape;
      if (accuracy.weightedMape !== null) figures['forecast.backtest.weighted_mape'] = accuracy.weightedMape;
      if (accuracy.mape !== null && accuracy.weightedMape) figures['forecast.backtest.ratio'] = round4(accuracy.mape / accuracy.weightedMape);
      figures['forecast.backtest.seconds'] = s;
      const k = (n: number) => `${Math.round(n / 1000)}k`;
      notes.push(
        `forecast.backtest: ${perMonth} opportunities closing each month of ${BACKTEST_FIRST}..${addMonths(BACKTEST_FIRST, BACKTEST_MONTHS - 1)} ` +
          `(${operations} use-case calls "as of" their moments, a snapshot each first day at 00:30 Shanghai), true win rates by the stage held on that day ` +
          `${TRUE_WIN.map((p) => `${Math.round(p * 100)} %`).join(' / ')} against the stages' 10 / 25 / 50 / 75 %; ${s} s. ` +
          `Accuracy over the last ${BACKTEST_PERIODS} months: mape ${accuracy.mape}, weightedMape ${accuracy.weightedMape}. Per month (predicted / weighted / actual): ` +
          accuracy.items.map((x) => `${x.period} ${k(x.predictedAtStart)}/${k(x.weightedAtStart)}/${k(x.actual)}`).join(', ') + '.',
      );
    });
  } catch (err) {
    notes.push(`forecast.backtest: no figure: ${errorText(err)}`);
  }
}


