/**
 * CSV import (issue 10 point 5): 10,000 account rows, 5 % of them duplicates of stored accounts.
 *
 * - `import.10k.seconds`: local wall time from `POST /v1/imports` (the CSV in the body) to the
 *   import `done`, its run being what the `imports` consumer does for `import.created`;
 * - `import.10k.requests_per_row`: every DynamoDB request of the POST and the run ÷ rows
 *   (`import.10k.requests` beside it, by operation in the notes);
 * - `import.10k.items_per_row`: items the POST and the run write ÷ rows: DynamoDB Local's work,
 *   and so the time, grows with them; the load-independent figure;
 * - `import.10k.created`, `.skipped`: what the import reports.
 *
 * The metered import, in one tenant, gives the requests; the same import again, unmetered, in
 * another tenant, is timed. The metered one goes first, as a warm-up: a fresh DynamoDB Local spends
 * 15–20 s of CPU compiling itself (its JIT) during its first heavy writes, a cost of the emulator,
 * not of the import (`npm run bench` runs this part on an emulator the earlier parts warmed). The stored accounts are seeded through the domain, unmetered. Registered in bench/scenarios.ts;
 * also runs alone: `npx tsx bench/imports.ts` (`BENCH_IMPORT_ROWS` for a smaller file).
 */
import type { Caller } from '#test/support/api.ts';
import { describeOperations, type DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface ImportBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 10_000);
const DUPLICATE_SHARE = 0.05;
const round2 = (n: number) => Math.round(n * 100) / 100;
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
const progress = (msg: string) => process.stderr.write(`bench: imports: ${msg}\n`);

export async function importScenarios({ call, meter, figures, notes }: ImportBenchInput): Promise<void> {
  try {
    // Metered for the requests it makes (and the emulator's warm-up), then timed with the meter off
    // (its side reads of every write would only slow the run down), in another tenant.
    const counted = await importOnce(call, meter, 'bench-imports-counted');
    const timed = await meter.unmetered(() => importOnce(call, meter, 'bench-imports-timed'));
    const usage = counted.usage;
    figures['import.10k.rows'] = ROWS;
    figures['import.10k.seconds'] = round2(timed.seconds);
    figures['import.10k.requests'] = usage.requests;
    figures['import.10k.requests_per_row'] = round4(usage.requests / ROWS);
    figures['import.10k.items_per_row'] = round4(usage.itemsWritten / ROWS);
    figures['import.10k.wcu_per_row'] = round2(usage.wcu / ROWS);
    figures['import.10k.created'] = counted.done.created;
    figures['import.10k.skipped'] = counted.done.skipped;
    notes.push(
      `import.10k: ${ROWS} account rows (${counted.duplicates} duplicates of stored accounts, skipped) in ${round2(timed.seconds)} s unmetered ` +
        `(${round2(counted.seconds)} s metered); ${usage.requests} DynamoDB requests (${describeOperations(usage.byOperation)}): ` +
        `${round4(usage.requests / ROWS)} per row; ${usage.itemsWritten} items written: ${round4(usage.itemsWritten / ROWS)} per row; created ${counted.done.created}, skipped ${counted.done.skipped}, failed ${counted.done.failed}.`,
    );
  } catch (err) {
    notes.push(`import.10k: no figures: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** One import of ROWS account rows (5 % naming accounts already stored) in `tenant`, from the POST to `done`. */
async function importOnce(call: Call, meter: DynamoMeter, tenant: string) {
  const admin: Caller = { tenant, user: 'importer', role: 'admin' };
  await call(admin, 'GET', '/v1/tasks');
  const duplicates = Math.round(ROWS * DUPLICATE_SHARE);
  // Every 20th row names an account already stored (by name: the guard a duplicate meets first).
  const stored: string[] = [];
  const lines = ['name,email,phone,tier,tags,industry'];
  for (let i = 0; i < ROWS; i++) {
    const dup = i % Math.round(1 / DUPLICATE_SHARE) === 0 && stored.length < duplicates;
    const name = dup ? `已有客户 ${i}` : `导入客户 ${i} 有限公司`;
    if (dup) stored.push(name);
    lines.push(`${name},row${i}@import.example.cn,+86 139 ${String(10_000_000 + i).slice(0, 4)} ${String(i).padStart(4, '0')},${'ABCD'[i % 4]},bench；import,制造`);
  }
  const csv = `${lines.join('\n')}\n`;

  progress(`${tenant}: seeding ${stored.length} stored accounts`);
  const { createAccount } = await import('#domain/accounts/accounts.ts');
  await meter.unmetered(async () => {
    const ctx = { identity: { tenantId: tenant, userId: 'importer', role: 'admin' as const }, now: new Date() };
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < stored.length) {
          const name = stored[next++]!;
          await createAccount(ctx, { name, lifecycleStage: 'prospect', tags: [] });
        }
      }),
    );
  });

  progress(`${tenant}: importing ${ROWS} rows (${stored.length} duplicates)`);
  const { runImport } = await import('#domain/integrations/import-runner.ts');
  const mark = meter.mark();
  const started = performance.now();
  const res = await call(admin, 'POST', '/v1/imports', { entity: 'accounts', csv, onDuplicate: 'skip' });
  if (res.status !== 202) throw new Error(`POST /v1/imports answered ${res.status}: ${res.body.slice(0, 200)}`);
  const id = res.json.id as string;
  // What the imports consumer does for import.created (locally the in-process bus calls it the same way).
  await runImport(tenant, id, { now: new Date() });
  const seconds = (performance.now() - started) / 1000;
  const usage = meter.usageSince(mark);
  const done = (await call(admin, 'GET', `/v1/imports/${id}`)).json;
  if (done.status !== 'done') throw new Error(`the import ended ${done.status} at ${done.processed}/${done.total}`);
  return { seconds, usage, done, duplicates: stored.length };
}

/** `npx tsx bench/imports.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('imports', importScenarios);
