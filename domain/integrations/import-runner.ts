/**
 * The background run of a CSV import (api/integrations.md "CSV import"): started by the
 * `import.created` event (the `imports` consumer), resumed every minute by the `import-runner`
 * job for any import left unfinished (a run that ran out of time, or died).
 *
 * A run:
 *  1. takes the import's lease (one runner at a time; a dead runner's lease lapses after 5 minutes);
 *  2. goes on from the cursor (`processed`) in batches of at most 100 rows of one chunk:
 *     one BatchGetItem of the batch's per-row idempotency records (rows already applied are
 *     counted from them, never applied again), then the rows through the create use cases,
 *     8 at a time; rows sharing a normalized guard value with an earlier row of the batch run
 *     after it, so "the earlier row wins" holds in parallel too;
 *  3. saves each batch's counters, errors and cursor in one UpdateItem conditioned on the
 *     cursor it started from and its lease, so two runners never both count a batch;
 *  4. stops when its time is nearly up (releasing the lease: the next run goes on at once), or
 *     marks the import `done` and takes it off the due index.
 * Killed anywhere, a rerun applies each row at most once (the idempotency record lands in the
 * row's own transaction) and counts it exactly once (the cursor only moves with the counters).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { db, tableName } from '#domain/table/client.ts';
import { getItem, getItems, queryAll } from '#domain/table/query.ts';
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { applyRow, guardValuesOf, outcomeOfStored, rowIdempotencyKey, rowInput, type ImportJob, type Outcome } from '#domain/integrations/import-rows.ts';
import { chunkKey, importKey, IMPORTS_DUE, MAX_ERRORS, type Import, type RowError } from '#domain/integrations/import.ts';
import { importFromItem } from '#domain/integrations/imports.ts';

const BATCH = 100;
const PARALLEL = 8;
const LEASE_MS = 5 * 60 * 1000;
/** A run stops this long before its time is up, after saving its batch. */
const SAFETY_MS = 20_000;

export interface RunOptions {
  /** The run's clock at its start (jobs get it injected); it moves on with the wall clock. */
  now: Date;
  /** Lambda's remaining time; without it a run goes on until the import is done. */
  timeLeftMs?: () => number;
  /** Stops cleanly (progress saved, lease released) after this many rows: a time budget, for tests. */
  maxRows?: number;
  /** Fault injection for tests: dies (throws) after applying this many rows of a batch, before saving it. */
  crashAfterRows?: number;
  runnerId?: string;
}

export interface RunReport {
  /** Rows this run moved the cursor over. */
  processed: number;
  status: Import['status'] | 'busy' | 'missing';
}

export class InjectedCrash extends Error {}

export async function runImport(tenantId: string, id: string, opts: RunOptions): Promise<RunReport> {
  const runner = opts.runnerId ?? randomUUID();
  const started = performance.now();
  const clock = () => new Date(opts.now.getTime() + (performance.now() - started));
  const timeUp = () => opts.timeLeftMs !== undefined && opts.timeLeftMs() < SAFETY_MS;

  let record = await claim(tenantId, id, runner, clock());
  if (!record) {
    const item = await getItem(importKey(tenantId, id));
    return { processed: 0, status: item ? 'busy' : 'missing' };
  }
  const job: ImportJob = {
    id,
    entity: record.entity,
    importer: record.importer,
    columns: record.columns,
    onDuplicate: record.onDuplicate,
    defs: await fieldDefinitions(tenantId, record.entity),
  };
  let processed = 0;
  let chunk: { n: number; first: number; rows: string[][] } | undefined;
  let appliedInRun = 0;

  while (record.processed < record.total) {
    // 1. The next batch: rows of the chunk holding the cursor.
    const at = record.processed;
    const n = record.chunks.findIndex((c) => at >= c.first && at < c.first + c.count);
    if (n < 0) throw new Error(`import ${id}: no chunk holds row ${at + 1}`);
    if (chunk?.n !== n) {
      const item = await getItem(chunkKey(tenantId, id, n), false);
      if (!item) throw new Error(`import ${id}: chunk ${n} is missing`);
      chunk = { n, first: item.first as number, rows: item.rows as string[][] };
    }
    const limit = opts.maxRows !== undefined ? Math.min(BATCH, opts.maxRows - processed) : BATCH;
    const cells = chunk.rows.slice(at - chunk.first, at - chunk.first + limit);
    const rows = cells.map((c, i) => ({ row: at + i + 1, cells: c }));

    // 2. Rows applied before (a run that died after them) count from their records.
    const done = await getItems(rows.map((r) => rowIdempotencyKey(job, r.row)));
    const outcomes: Outcome[] = new Array(rows.length);
    const todo: number[] = [];
    done.forEach((item, i) => {
      if (item && !(typeof item.expiresAt === 'number' && item.expiresAt < clock().getTime() / 1000)) outcomes[i] = outcomeOfStored(item.result as string);
      else todo.push(i);
    });
    const beforeCrash = () => {
      if (opts.crashAfterRows !== undefined && appliedInRun >= opts.crashAfterRows) throw new InjectedCrash(`injected crash after ${appliedInRun} rows`);
    };
    await applyInOrder(job, todo, rows, outcomes, clock, () => {
      appliedInRun++;
    }, beforeCrash);

    // 3. The batch's counters and cursor, together, only if nobody else moved the cursor.
    const last = record.processed + rows.length === record.total;
    const stop = !last && (timeUp() || (opts.maxRows !== undefined && processed + rows.length >= opts.maxRows));
    const next = await saveBatch(tenantId, record, rows.map((r) => r.row), outcomes, runner, clock(), last ? 'done' : stop ? 'pause' : 'go');
    if (!next) return { processed, status: 'busy' };
    processed += rows.length;
    record = next;
    if (stop) break;
  }
  return { processed, status: record.status };
}

/** Applies the rows `todo` (indexes into `rows`): independent ones 8 at a time, then the ones meeting an earlier row's value, in order. */
async function applyInOrder(
  job: ImportJob,
  todo: number[],
  rows: { row: number; cells: string[] }[],
  outcomes: Outcome[],
  clock: () => Date,
  applied: () => void,
  beforeEach: () => void,
): Promise<void> {
  const seen = new Set<string>();
  const free: number[] = [];
  const after: number[] = [];
  for (const i of todo) {
    const values = guardValuesOf(job.entity, rowInput(job, rows[i]!.cells));
    (values.some((v) => seen.has(v)) ? after : free).push(i);
    for (const v of values) seen.add(v);
  }
  const run = async (i: number) => {
    beforeEach();
    outcomes[i] = await applyRow(job, rows[i]!.row, rows[i]!.cells, clock());
    applied();
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, free.length) }, async () => {
      while (next < free.length) await run(free[next++]!);
    }),
  );
  for (const i of after) await run(i);
}

/** Takes the lease: the import is unfinished and nobody else holds a live lease. */
async function claim(tenantId: string, id: string, runner: string, now: Date): Promise<Import | undefined> {
  try {
    const out = await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: importKey(tenantId, id),
        UpdateExpression: 'SET leaseOwner = :me, leaseUntil = :until, #s = :running',
        ConditionExpression: '#s IN (:queued, :running) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseOwner = :me)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':me': runner,
          ':until': new Date(now.getTime() + LEASE_MS).toISOString(),
          ':now': now.toISOString(),
          ':queued': 'queued',
          ':running': 'running',
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return importFromItem(out.Attributes!);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/** One batch's progress; `done` finishes the import, `pause` releases the lease. Undefined when another runner moved the cursor. */
async function saveBatch(
  tenantId: string,
  record: Import,
  rowNumbers: number[],
  outcomes: Outcome[],
  runner: string,
  now: Date,
  then: 'go' | 'pause' | 'done',
): Promise<Import | undefined> {
  const count = (kind: Outcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
  const newErrors: RowError[] = [];
  outcomes.forEach((o, i) => {
    if (o.kind === 'failed') newErrors.push({ row: rowNumbers[i]!, ...o.error });
  });
  const errors = [...record.errors, ...newErrors].slice(0, MAX_ERRORS);
  const at = now.toISOString();
  const sets = [
    '#processed = :p', '#created = #created + :c', '#updated = #updated + :u', '#skipped = #skipped + :s', '#failed = #failed + :f',
    '#errors = :errors', 'updatedAt = :at', '#v = #v + :one',
  ];
  // Several of these are DynamoDB reserved words: every one goes by name.
  const names: Record<string, string> = {
    '#processed': 'processed', '#created': 'created', '#updated': 'updated', '#skipped': 'skipped', '#failed': 'failed',
    '#errors': 'errors', '#v': 'version',
  };
  const values: Record<string, unknown> = {
    ':p': record.processed + outcomes.length,
    ':c': count('created'),
    ':u': count('updated'),
    ':s': count('skipped'),
    ':f': count('failed'),
    ':errors': errors,
    ':at': at,
    ':one': 1,
    ':prev': record.processed,
    ':me': runner,
  };
  let remove = '';
  if (then === 'done') {
    sets.push('#s = :done', 'finishedAt = :at');
    values[':done'] = 'done';
    remove = ' REMOVE leaseOwner, leaseUntil, duePk, dueSk';
  } else if (then === 'pause') {
    remove = ' REMOVE leaseOwner, leaseUntil';
  } else {
    sets.push('leaseUntil = :until');
    values[':until'] = new Date(now.getTime() + LEASE_MS).toISOString();
  }
  try {
    const out = await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: importKey(tenantId, record.id),
        UpdateExpression: `SET ${sets.join(', ')}${remove}`,
        ConditionExpression: '#processed = :prev AND leaseOwner = :me',
        ExpressionAttributeNames: { ...names, ...(then === 'done' ? { '#s': 'status' } : {}) },
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return importFromItem(out.Attributes!);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/**
 * The `import-runner` job: every unfinished import of every tenant (the sparse due index),
 * oldest first, each run on until done or until the job's time is nearly up.
 */
export async function runDueImports(opts: Omit<RunOptions, 'runnerId'>): Promise<{ job: 'import-runner'; processed: number; imports: number }> {
  const due = await queryAll({ index: 'byDue', pk: IMPORTS_DUE });
  let processed = 0;
  let imports = 0;
  for (const item of due) {
    if (opts.timeLeftMs && opts.timeLeftMs() < SAFETY_MS) break;
    const report = await runImport(item.tenantId as string, item.id as string, opts);
    processed += report.processed;
    if (report.processed > 0) imports++;
  }
  return { job: 'import-runner', processed, imports };
}
