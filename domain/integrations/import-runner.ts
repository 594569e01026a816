/**
 * The background run of a CSV import (api/integrations.md "CSV import"): started by the
 * `import.created` event (the `imports` consumer), resumed every minute by the `import-runner`
 * job for any import left unfinished (a run that ran out of time, or died).
 *
 * A run:
 *  1. takes the import's lease (one runner at a time; a dead runner's lease lapses after 5 minutes);
 *  2. goes on from the cursor (`processed`) in batches of at most 100 rows of one chunk:
 *     the rows already applied are read first (`appliedRows`: the markers of rows created
 *     together, the idempotency records of rows committed alone) and counted from them, never
 *     applied again; the other rows prepared by the create use cases
 *     (import-rows.ts), their guards read ahead (BatchGetItem), then committed several rows to a
 *     transaction (up to 100 items, no item twice), a few transactions at a time. A row whose
 *     guard is already taken is skipped at once (`skip`: the create would only be refused) or
 *     committed alone (`update`, `fail`: the 409 decides); rows sharing a normalized guard value
 *     with an earlier row of the batch run after it, one by one, so "the earlier row wins";
 *  3. saves each batch's counters, errors and cursor in one transaction conditioned on the
 *     cursor it started from and its lease, so two runners never both count a batch; for
 *     accounts the same transaction adds the new accounts to their owners' counts (deferred
 *     from the rows, which would otherwise all contend on one owner's counter item);
 *  4. stops when its time is nearly up (releasing the lease: the next run goes on at once), or
 *     marks the import `done` and takes it off the due index.
 * Killed anywhere, a rerun applies each row at most once (its record's id is derived from the row,
 * and its marker or idempotency record lands in the row's own transaction) and counts it exactly
 * once (the cursor only moves with the counters).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { addOwnedAccounts } from '#domain/pool/writes.ts';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { db, tableName } from '#domain/table/client.ts';
import { getItem, getManyItems, queryAll } from '#domain/table/query.ts';
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';
import {
  applyRow,
  appliedRows,
  commitRow,
  commitRows,
  createdOutcome,
  guardKeysOfRow,
  guardValuesOf,
  heldByRow,
  isReady,
  prepareRow,
  rowInput,
  type ImportJob,
  type Outcome,
  type ReadyRow,
} from '#domain/integrations/import-rows.ts';
import { chunkKey, importKey, IMPORTS_DUE, MAX_ERRORS, type Import, type RowError } from '#domain/integrations/import.ts';
import { importFromItem } from '#domain/integrations/imports.ts';
import { inParallel } from '#domain/parallel.ts';

const BATCH = 100;
/** Rows prepared at once (a prepare may read: an owner named in the row, a contact's account). */
const PREPARE_PARALLEL = 8;
/** Transactions of rows in flight at once. */
const COMMIT_PARALLEL = 4;
/** Items of one transaction of rows: DynamoDB takes at most 100. */
const MAX_TRANSACTION_ITEMS = 100;
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
      // Its rows are gone (their 30 days passed): the import can never finish; say so instead of retrying forever.
      if (!item) return { processed, status: await failImport(tenantId, record, runner, clock(), `the rows from ${at + 1} on are no longer stored`) };
      chunk = { n, first: item.first as number, rows: item.rows as string[][] };
    }
    const limit = opts.maxRows !== undefined ? Math.min(BATCH, opts.maxRows - processed) : BATCH;
    const cells = chunk.rows.slice(at - chunk.first, at - chunk.first + limit);
    const rows = cells.map((c, i) => ({ row: at + i + 1, cells: c }));

    // 2. Rows applied before (a run that died after them) count from their markers and records.
    const done = rows.length > 0 ? await appliedRows(job, rows[0]!.row, rows.at(-1)!.row, clock()) : [];
    const outcomes: Outcome[] = new Array(rows.length);
    const todo: number[] = [];
    done.forEach((outcome, i) => {
      if (outcome) outcomes[i] = outcome;
      else todo.push(i);
    });
    const beforeCrash = () => {
      if (opts.crashAfterRows !== undefined && appliedInRun >= opts.crashAfterRows) throw new InjectedCrash(`injected crash after ${appliedInRun} rows`);
    };
    await applyBatch(job, todo, rows, outcomes, clock, (n) => {
      appliedInRun += n;
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

/**
 * Applies the rows `todo` (indexes into `rows`): the independent ones prepared, read ahead and
 * committed several to a transaction; then the ones meeting an earlier row's guard value, one by
 * one, in order. `applied(n)` counts rows as they land; `beforeEach` runs before every commit.
 * Waits for every commit in flight before it throws, so a failed batch has no write still landing.
 */
async function applyBatch(
  job: ImportJob,
  todo: number[],
  rows: { row: number; cells: string[] }[],
  outcomes: Outcome[],
  clock: () => Date,
  applied: (n: number) => void,
  beforeEach: () => void,
): Promise<void> {
  await loadNormalizers(); // guardValuesOf normalizes phones and domains
  const seen = new Set<string>();
  const free: number[] = [];
  const after: number[] = [];
  for (const i of todo) {
    const values = guardValuesOf(job.entity, rowInput(job, rows[i]!.cells));
    (values.some((v) => seen.has(v)) ? after : free).push(i);
    for (const v of values) seen.add(v);
  }

  // 1. Prepare: a row that cannot be created has its outcome now.
  const ready: { i: number; ready: ReadyRow }[] = [];
  await inParallel(free, PREPARE_PARALLEL, async (i) => {
    const r = await prepareRow(job, rows[i]!.row, rows[i]!.cells, clock());
    if (isReady(r)) ready.push({ i, ready: r });
    else outcomes[i] = r;
  });
  ready.sort((a, b) => a.i - b.i);

  // 2. Guards already taken: those rows would only be refused in a shared transaction.
  const keysOf = ready.map((r) => guardKeysOfRow(job, r.ready));
  const held = await getManyItems(keysOf.flat());
  let at = 0;
  const guards = keysOf.map((keys) => held.slice(at, (at += keys.length)));
  const alone: { i: number; ready: ReadyRow }[] = [];
  const together: { i: number; ready: ReadyRow }[] = [];
  ready.forEach((r, n) => {
    const taken = guards[n]!.filter(Boolean);
    // A guard held by the row's own record (its id is the row's): a twin runner applied it since our first read.
    if (taken.some((g) => heldByRow(r.ready, g))) outcomes[r.i] = createdOutcome(r.ready);
    else if (taken.length === 0) together.push(r);
    // `skip` needs no write: the create would only be refused.
    else if (job.onDuplicate === 'skip') outcomes[r.i] = { kind: 'skipped' };
    else alone.push(r);
  });

  // 3. The rest in transactions of several rows: up to 100 items (their events sharing outbox
  //    items, plus the rows' marker), no item twice in one.
  const groups: { i: number; ready: ReadyRow }[][] = [];
  let group: { i: number; ready: ReadyRow }[] = [];
  let units: UnitOfWork[] = [];
  let keys = new Set<string>();
  for (const r of together) {
    const uow = r.ready.prepared.write(new UnitOfWork(r.ready.ctx));
    const mine = uow.keys();
    if (group.length > 0 && (UnitOfWork.sizeTogether([...units, uow]) + 1 > MAX_TRANSACTION_ITEMS || mine.some((k) => keys.has(k)))) {
      groups.push(group);
      group = [];
      units = [];
      keys = new Set();
    }
    group.push(r);
    units.push(uow);
    for (const k of mine) keys.add(k);
  }
  if (group.length > 0) groups.push(group);

  const commit = async (g: { i: number; ready: ReadyRow }[]) => {
    beforeEach();
    const done = g.length === 1 ? [await commitRow(job, g[0]!.ready)] : await commitRows(job, g.map((r) => r.ready));
    g.forEach((r, n) => (outcomes[r.i] = done[n]!));
    applied(g.length);
  };
  await inParallel([...groups, ...alone.map((r) => [r])], COMMIT_PARALLEL, commit);

  // 4. Rows meeting an earlier row's value: after it, in order.
  for (const i of after) {
    beforeEach();
    outcomes[i] = await applyRow(job, rows[i]!.row, rows[i]!.cells, clock());
    applied(1);
  }
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

/** Ends an import that cannot go on as `failed`, off the due index, with the reason as its last error. */
async function failImport(tenantId: string, record: Import, runner: string, now: Date, reason: string): Promise<RunReport['status']> {
  const errors = [...record.errors, { row: record.processed + 1, code: 'import_failed', message: reason }].slice(-MAX_ERRORS);
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: importKey(tenantId, record.id),
        UpdateExpression: 'SET #s = :failed, finishedAt = :at, updatedAt = :at, #errors = :errors, #v = #v + :one REMOVE leaseOwner, leaseUntil, duePk, dueSk',
        ConditionExpression: 'leaseOwner = :me',
        ExpressionAttributeNames: { '#s': 'status', '#errors': 'errors', '#v': 'version' },
        ExpressionAttributeValues: { ':failed': 'failed', ':at': now.toISOString(), ':errors': errors, ':one': 1, ':me': runner },
      }),
    );
    return 'failed';
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return 'busy';
    throw err;
  }
}

/** The batch was counted by another runner: the cursor moved, or the lease went to it. */
class LostBatch extends Error {}

/**
 * One batch's progress, in one transaction: the import's counters, errors and cursor (conditioned
 * on the cursor the batch started from and the lease) and, for accounts, the new accounts' owners'
 * counts (deferred from the rows: pool/writes.ts `deferOwnerCount`), so they are counted exactly
 * once too. `done` finishes the import, `pause` releases the lease. Undefined when the batch was lost.
 */
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
  const at = now.toISOString();
  const next: Import = {
    ...record,
    processed: record.processed + outcomes.length,
    created: record.created + count('created'),
    updated: record.updated + count('updated'),
    skipped: record.skipped + count('skipped'),
    failed: record.failed + count('failed'),
    errors: [...record.errors, ...newErrors].slice(0, MAX_ERRORS),
    updatedAt: at,
    version: record.version + 1,
  };
  const sets = [
    '#processed = :p', '#created = :c', '#updated = :u', '#skipped = :s', '#failed = :f',
    '#errors = :errors', 'updatedAt = :at', '#v = :v',
  ];
  // Several of these are DynamoDB reserved words: every one goes by name.
  const names: Record<string, string> = {
    '#processed': 'processed', '#created': 'created', '#updated': 'updated', '#skipped': 'skipped', '#failed': 'failed',
    '#errors': 'errors', '#v': 'version',
  };
  const values: Record<string, unknown> = {
    ':p': next.processed, ':c': next.created, ':u': next.updated, ':s': next.skipped, ':f': next.failed,
    ':errors': next.errors, ':at': at, ':v': next.version,
  };
  let remove = '';
  if (then === 'done') {
    sets.push('#s = :done', 'finishedAt = :at');
    names['#s'] = 'status';
    values[':done'] = 'done';
    remove = ' REMOVE leaseOwner, leaseUntil, duePk, dueSk';
    next.status = 'done';
    next.finishedAt = at;
  } else if (then === 'pause') {
    remove = ' REMOVE leaseOwner, leaseUntil';
  } else {
    sets.push('leaseUntil = :until');
    values[':until'] = new Date(now.getTime() + LEASE_MS).toISOString();
  }
  const uow = new UnitOfWork({ identity: record.importer, now }).update(
    importKey(tenantId, record.id),
    { expression: `SET ${sets.join(', ')}${remove}`, names, values },
    {
      condition: '#processed = :prev AND leaseOwner = :me',
      values: { ':prev': record.processed, ':me': runner },
      onConditionFailed: () => new LostBatch(),
    },
  );
  if (record.entity === 'accounts') {
    const owners = new Map<string, number>();
    for (const o of outcomes) if (o.kind === 'created' && o.ownerId) owners.set(o.ownerId, (owners.get(o.ownerId) ?? 0) + 1);
    for (const [userId, n] of owners) addOwnedAccounts(uow, tenantId, userId, n);
  }
  try {
    await uow.commit(undefined);
  } catch (err) {
    if (err instanceof LostBatch) return undefined;
    throw err;
  }
  if (then !== 'go') {
    delete next.leaseOwner;
    delete next.leaseUntil;
  }
  return next;
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
