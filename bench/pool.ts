/**
 * Benchmark of the public pool (issue 4), called from scenarios.ts:
 *
 * - the pool's HTTP operations, measured like every other (`pool.claim.requests` ≤ 2);
 * - `pool.release.rcu_ratio`: the `pool-release` job's consumed read capacity with 100,000
 *   stored accounts ÷ the same with 1,000, 100 of them due in both. Each fixture is seeded
 *   with BatchWriteItem straight into a table of its own (the stored form POST /v1/accounts
 *   writes: the account and its two clock items), so each job run sees exactly one tenant:
 *   100 accounts due (owner since 40 days), the rest followed up within the last 26 days (due
 *   for nothing, reminders included: those start 27 days on with the default rules);
 * - `pool.release.10k_due.seconds`: local wall time of one job run releasing 10,000 due
 *   accounts (report only), without the meter (whose image reads would double the time).
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchPut } from './seed.ts';
import { ulid } from 'ulid';
import type { ApiResponse, Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call, Measure } from './scenarios.ts';


export interface PoolBenchInput {
  measure: Measure;
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
  people: { alice: Caller; bob: Caller; mia: Caller; root: Caller };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const DAY = 86_400_000;

export async function poolScenarios(input: PoolBenchInput): Promise<void> {
  await httpOperations(input);
  // The job's figures seed 111,000 accounts: about 3 minutes. BENCH_SKIP_POOL_JOB=1 leaves them out.
  if (process.env.BENCH_SKIP_POOL_JOB === '1') input.notes.push('pool.release: skipped (BENCH_SKIP_POOL_JOB=1)');
  else await releaseJobFigures(input);
}

// ---- HTTP ---------------------------------------------------------------------------------

async function httpOperations({ measure, call, notes, people }: PoolBenchInput): Promise<void> {
  const { alice, bob, mia, root } = people;
  const idOf = (r: ApiResponse | undefined) => (r?.json as { id?: string } | undefined)?.id;
  const newAccount = async (owner: Caller, i: number) =>
    idOf(await call(owner, 'POST', '/v1/accounts', { name: `Pool Bench ${i} ${Date.now().toString(36)} 有限公司`, tier: 'B', email: `pool${i}.${Date.now().toString(36)}@bench-pool.cn` }));

  await measure('pool.rules.get', alice, 'GET', '/v1/pool/rules', 200);
  await measure('pool.rules.put', root, 'PUT', '/v1/pool/rules', 200, { maxAccountsPerRep: 500, maxClaimsPerDay: 100, remindBeforeDays: [3, 1] });

  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await newAccount(alice, i));
  if (ids.some((x) => !x)) {
    notes.push('pool: could not create the accounts for the pool operations');
    return;
  }
  const [a, b, c] = ids as string[];
  await measure('pool.release', alice, 'POST', `/v1/accounts/${a}/release`, 200, { reason: 'no budget this year 今年没有预算' }, { label: '(owner, reason)' });
  await measure('pool.release.by_manager', mia, 'POST', `/v1/accounts/${b}/release`, 200, { reason: 'rebalancing the team' }, {
    label: '(manager: the owner is notified)',
  });
  await call(alice, 'POST', `/v1/accounts/${c}/release`, { reason: 'bench' });
  await measure('pool.list', bob, 'GET', '/v1/pool', 200, undefined, { label: '(rep: longest in the pool first, no contact details)' });
  await measure('accounts.get.pool', bob, 'GET', `/v1/accounts/${a}`, 200, undefined, { label: '(rep opens a pool account)' });
  await measure('pool.claim', bob, 'POST', `/v1/pool/${a}/claim`, 200, undefined, {
    note: 'one BatchGetItem (account + rules, strongly consistent), one transaction (account, counters, clock items, event)',
  });
  await measure('pool.assign', mia, 'POST', `/v1/pool/${b}/assign`, 200, { userId: 'bob' }, { note: 'one BatchGetItem (account + rules + assignee), one transaction' });
  await measure('pool.lock', bob, 'POST', `/v1/accounts/${a}/lock`, 200);
  await measure('pool.unlock', bob, 'POST', `/v1/accounts/${a}/unlock`, 200);
  await measure('notifications.list', alice, 'GET', '/v1/notifications', 200, undefined, { label: '(own, newest first)' });
  await measure('notifications.list.unread', alice, 'GET', '/v1/notifications?unread=true', 200, undefined, { label: '(unread: its own key range)' });
  const note = idOf(await call(alice, 'GET', '/v1/notifications?limit=1').then((r) => ({ ...r, json: (r.json as { items: unknown[] }).items[0] })));
  if (note) await measure('notifications.read', alice, 'POST', `/v1/notifications/${note}/read`, 200);
  else notes.push('notifications.read: no notification to read');
}

// ---- the job --------------------------------------------------------------------------------

async function releaseJobFigures({ meter, figures, notes }: PoolBenchInput): Promise<void> {
  const { db } = await import('#domain/table/client.ts');
  const { createTableInput } = await import('#domain/table/definition.ts');
  const { runPoolRelease } = await import('#domain/pool/release-job.ts');
  const raw = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const seeder = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const mainTable = process.env.TABLE_NAME!;
  const now = new Date();

  /** Runs `fn` against a fresh table of its own; the bench's main table is back afterwards. */
  const inTable = async <T>(fn: (table: string) => Promise<T>): Promise<T> => {
    const table = `crm-bench-pool-${randomUUID().slice(0, 8)}`;
    await raw.send(new CreateTableCommand(createTableInput(table)));
    process.env.TABLE_NAME = table;
    try {
      return await fn(table);
    } finally {
      process.env.TABLE_NAME = mainTable;
      await raw.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    }
  };

  const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
  try {
    const measured: Record<number, { rcu: number; requests: number; released: number }> = {};
    // BENCH_POOL_STORED lowers the large fixture for a quick run (the figure is then not the issue's).
    const large = Number(process.env.BENCH_POOL_STORED ?? 100_000);
    for (const stored of [1_000, large]) {
      measured[stored] = await inTable(async (table) => {
        const t0 = Date.now();
        await seed(seeder, table, `ratio${stored}`, stored, 100, now);
        progress(`pool: seeded ${stored} accounts (100 due) in ${Math.round((Date.now() - t0) / 1000)} s`);
        const mark = meter.mark();
        const report = await runPoolRelease({ now });
        const usage = meter.usageSince(mark);
        return { rcu: usage.rcu, requests: usage.requests, released: report.released };
      });
    }
    const few = measured[1_000]!;
    const many = measured[large]!;
    const k = `${Math.round(large / 1000)}k`;
    figures['pool.release.1k.rcu'] = round2(few.rcu);
    figures[`pool.release.${k}.rcu`] = round2(many.rcu);
    figures['pool.release.1k.requests'] = few.requests;
    figures[`pool.release.${k}.requests`] = many.requests;
    figures['pool.release.rcu_ratio'] = round2(many.rcu / few.rcu);
    if (large !== 100_000) notes.push(`pool.release.rcu_ratio: measured against ${large} stored accounts (BENCH_POOL_STORED), not 100,000`);
    if (few.released !== 100 || many.released !== 100) {
      notes.push(`pool.release: expected 100 releases per run, got ${few.released} (1k) and ${many.released} (${k})`);
    }
    notes.push(
      `pool.release: ${round2(few.rcu)} RCU (${few.requests} requests) with 1,000 accounts stored, ${round2(many.rcu)} RCU (${many.requests} requests) ` +
        `with ${large.toLocaleString('en')} (100 due in both): the job reads the tenant registry, its stage queries, and the due accounts' ` +
        'index entries and records; the accounts that are not due are never read.',
    );

    const seconds = await inTable(async (table) => {
      await seed(seeder, table, 'tenk', 10_000, 10_000, now);
      // Unmetered: the meter reads every written item's image, which would double the time measured.
      db.middlewareStack.remove('benchMeterAskCapacity');
      db.middlewareStack.remove('benchMeterRecord');
      try {
        const t0 = performance.now();
        // One account at a time: DynamoDB Local serializes transactions, so side by side (the
        // job's default of 8, for DynamoDB itself) only adds conflicts and retries here.
        const report = await runPoolRelease({ now, concurrency: 1 });
        const s = (performance.now() - t0) / 1000;
        if (report.released !== 10_000) notes.push(`pool.release.10k_due: released ${report.released} of 10,000`);
        return s;
      } finally {
        meter.install(db);
      }
    });
    figures['pool.release.10k_due.seconds'] = round2(seconds);
    notes.push(
      `pool.release.10k_due: ${round2(seconds)} s of local wall time to release 10,000 due accounts in one run ` +
        `(${round2((seconds * 1000) / 10_000)} ms each, one at a time on DynamoDB Local; report only).`,
    );
  } catch (err) {
    notes.push(`pool.release: no figure: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    process.env.TABLE_NAME = mainTable;
    raw.destroy();
  }
}

/**
 * Seeds a tenant with `stored` owned accounts in the stored form of POST /v1/accounts (the
 * account, its clock items, the owners' counters) and the tenant's registry item: `due` of them
 * taken 40 days ago, the others followed up within the last 26 days.
 */
async function seed(client: DynamoDBDocumentClient, table: string, tenant: string, stored: number, due: number, now: Date): Promise<void> {
  const { toItem } = await import('#domain/records.ts');
  const { accountSpec } = await import('#domain/accounts/account.ts');
  const { clockItem } = await import('#domain/pool/writes.ts');
  const { poolRulesKey, POOL_TENANT_PARTITION, repCounterKey } = await import('#domain/pool/keys.ts');
  const { anchorsOf } = await import('#domain/pool/timing.ts');
  const owners = 100;
  const ctx = { identity: { tenantId: tenant, userId: 'bench', role: 'admin' as const }, now };
  const items: Record<string, unknown>[] = [
    { ...poolRulesKey(tenant), tenantId: tenant, entityType: 'POOLRULES', duePk: POOL_TENANT_PARTITION, dueSk: tenant },
  ];
  const owned = new Map<string, number>();
  for (let i = 0; i < stored; i++) {
    const isDue = i < due;
    const taken = new Date(now.getTime() - (isDue ? 40 : 26) * DAY).toISOString();
    const followUp = isDue ? null : new Date(now.getTime() - Math.random() * 26 * DAY).toISOString();
    const ownerId = `rep${i % owners}`;
    owned.set(ownerId, (owned.get(ownerId) ?? 0) + 1);
    const id = ulid(Date.parse(taken));
    const account = {
      id,
      createdAt: taken,
      updatedAt: followUp ?? taken,
      version: followUp ? 2 : 1,
      ownerId,
      ownerTeamId: `team${i % 10}`,
      name: `Seeded Account ${tenant} ${i} 有限公司`,
      domain: `seeded-${i}.com.cn`,
      email: `buyer${i}@seeded-${i}.com.cn`,
      phone: `+86 138 ${String(i).padStart(8, '0')}`,
      industry: 'Manufacturing',
      tier: 'B' as const,
      lifecycleStage: 'prospect' as const,
      tags: ['seeded'],
      poolStatus: 'owned' as const,
      lastFollowUpAt: followUp,
      ownerSince: taken,
      createdBy: ownerId,
    };
    items.push(toItem(accountSpec, tenant, account));
    const anchors = anchorsOf(account);
    for (const rule of ['no_follow_up', 'not_won'] as const) items.push(clockItem(ctx, tenant, id, rule, anchors[rule]!, 0));
  }
  for (const [userId, n] of owned) items.push({ ...repCounterKey(tenant, userId), tenantId: tenant, userId, entityType: 'POOLREP', owned: n, locked: 0 });

  await batchPut(client, table, items, (n) => process.stderr.write(`bench: pool: seeding ${tenant}: ${n} of ${items.length} items\n`));
}
