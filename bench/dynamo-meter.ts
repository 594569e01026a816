/**
 * Counts the DynamoDB requests a piece of code makes and what they cost, by adding two
 * middlewares to a client's stack (no domain code changes):
 *
 * - `initialize`: asks for `ReturnConsumedCapacity: 'INDEXES'` (the total, split into
 *   the table and each index) on every data-plane command;
 * - `build` (after the document client has marshalled the input, before the request is
 *   sent): reads the items a write touches through a separate, unmetered side client
 *   (the image before, and after an Update), sends, and records one `RequestRecord`
 *   with the capacity DynamoDB Local reported and the capacity computed by formula.
 *
 * Capacity figures (see bench/README.md):
 * - `rcu`/`wcu`: transactional operations (TransactWriteItems, TransactGetItems) by
 *   DynamoDB's formula, because DynamoDB Local reports transactional writes at half the
 *   real cost; every other operation as DynamoDB Local reports it (it applies the
 *   standard formulas: 1 WCU per KB written, 1 RCU per 4 KB strongly consistent read,
 *   0.5 eventually consistent, a Query summing the sizes of the items it read).
 * - `gsiWcu`: an ESTIMATE of the index writes the same requests cause on the table's
 *   global secondary indexes (all projections ALL), at the standard rate. Not part of
 *   `wcu`, not a target; it shows what the five overloaded indexes add.
 */
import { GetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Item = Record<string, AttributeValue>;

// ---- item size --------------------------------------------------------------------

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Significant digits of a DynamoDB number: leading and trailing zeros (and sign, point, exponent) do not count. */
function significantDigits(n: string): number {
  const mantissa = n.trim().replace(/^[+-]/, '').split(/e/i)[0] ?? '';
  const digits = mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length;
}

/**
 * Size in BYTES of one attribute value, without its name (DynamoDB "Item sizes and
 * formats"): string = UTF-8 bytes; number ≈ 1 byte per two significant digits + 1;
 * binary = raw bytes; null and boolean = 1; list and map = 3 bytes + 1 byte per element
 * + the elements (a map element counts its key's UTF-8 bytes too); sets = the sum of
 * their members.
 */
export function attributeValueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return Math.ceil(significantDigits(v.N) / 2) + 1;
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((sum, n) => sum + Math.ceil(significantDigits(n) / 2) + 1, 0);
  if (v.BS !== undefined) return v.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((sum, e) => sum + 1 + attributeValueSize(e), 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((sum, [k, e]) => sum + 1 + utf8(k) + attributeValueSize(e), 0);
  throw new Error(`unknown attribute value type: ${Object.keys(v).join(',')}`);
}

/** Size in BYTES of an item in wire form (AttributeValue map): Σ (UTF-8 bytes of the attribute name + value size). */
export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += utf8(name) + attributeValueSize(value);
  return bytes;
}

// ---- capacity formulas ---------------------------------------------------------------

const KB = 1024;

/** Standard write: 1 WCU per started KB, at least 1. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / KB));
/** Transactional write: 2 WCU per started KB (prepare + commit), at least 2. */
export const transactWriteUnits = (bytes: number) => 2 * writeUnits(bytes);
/** Transactional read: 2 RCU per started 4 KB, at least 2. */
export const transactReadUnits = (bytes: number) => 2 * Math.max(1, Math.ceil(bytes / (4 * KB)));

/** One action of a TransactWriteItems, with the sizes (bytes, 0 = no item) of the item before and after. */
export interface WriteAction {
  kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  before: number;
  after: number;
}

/**
 * WCU of a TransactWriteItems by DynamoDB's formula: each action 2 WCU per KB of the
 * item it writes. Put and Update: the larger of the item before and after (a new item
 * has no "before"); Delete and ConditionCheck: the item as read, at least 2.
 */
export function transactWriteCost(actions: readonly WriteAction[]): number {
  let wcu = 0;
  for (const a of actions) {
    const bytes = a.kind === 'Put' || a.kind === 'Update' ? Math.max(a.before, a.after) : a.before;
    wcu += transactWriteUnits(bytes);
  }
  return wcu;
}

/** RCU of a TransactGetItems: 2 RCU per 4 KB of each item read (sizes in bytes). */
export function transactGetCost(itemSizes: readonly number[]): number {
  return itemSizes.reduce((sum, bytes) => sum + transactReadUnits(bytes), 0);
}

export interface IndexKeys {
  pk: string;
  sk: string;
}

/**
 * Estimated index writes (standard WCU) that changing `before` into `after` causes on
 * global secondary indexes projecting ALL attributes: an item entering or leaving an
 * index is one write of its size; staying with the same index key and changed
 * attributes is one write; staying with a changed index key is a delete plus a put.
 */
export function indexWriteUnits(indexes: Record<string, IndexKeys>, before: Item | undefined, after: Item | undefined): number {
  const inIndex = (item: Item | undefined, ix: IndexKeys) => !!item && item[ix.pk] !== undefined && item[ix.sk] !== undefined;
  const same = (a: AttributeValue | undefined, b: AttributeValue | undefined) => JSON.stringify(a) === JSON.stringify(b);
  let units = 0;
  for (const ix of Object.values(indexes)) {
    const was = inIndex(before, ix);
    const is = inIndex(after, ix);
    if (was && is) {
      if (!same(before![ix.pk], after![ix.pk]) || !same(before![ix.sk], after![ix.sk])) {
        units += writeUnits(itemSize(before)) + writeUnits(itemSize(after));
      } else if (!sameItem(before!, after!)) {
        units += writeUnits(itemSize(after));
      }
    } else if (was) {
      units += writeUnits(itemSize(before));
    } else if (is) {
      units += writeUnits(itemSize(after));
    }
  }
  return units;
}

function sameItem(a: Item, b: Item): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  return true;
}

// ---- the meter -------------------------------------------------------------------------

export interface RequestRecord {
  /** DynamoDB API operation, e.g. `TransactWriteItems`. */
  op: string;
  ok: boolean;
  /** HTTP attempts the SDK made (retries included). */
  attempts: number;
  /** Capacity as DynamoDB Local reported it: reads (table and indexes), writes to the table, writes to indexes. */
  localRcu: number;
  localWcu: number;
  localGsiWcu: number;
  /** Capacity counted: by formula for transactional operations, as reported otherwise. */
  rcu: number;
  wcu: number;
  /** Estimated GSI write units (standard rate). */
  gsiWcu: number;
  /** Items in a transaction, for the breakdown. */
  transactItems?: number;
  /** Items a BatchWriteItem puts or deletes (not in `writes`: no images are read for them). */
  batchWrites?: number;
  /** Each written item: action and size in bytes (the larger of before and after). */
  writes?: { kind: WriteAction['kind']; bytes: number }[];
  error?: string;
}

export interface Usage {
  requests: number;
  attempts: number;
  rcu: number;
  wcu: number;
  gsiWcu: number;
  localRcu: number;
  localWcu: number;
  localGsiWcu: number;
  /** Requests per DynamoDB operation, in first-seen order. */
  byOperation: Record<string, number>;
  /** Each request in order: `GetItem`, `TransactWriteItems[3]` (with its item count). */
  calls: string[];
  /** Items written (Put, Update, Delete; a ConditionCheck writes nothing): DynamoDB Local's work grows with them. */
  itemsWritten: number;
  /** Capacity of the transactional requests only: formula and DynamoDB Local's report. */
  transactWcu: number;
  transactLocalWcu: number;
  errors: string[];
}

export interface MeterOptions {
  /** A client WITHOUT the meter, used to read item images; its requests are not counted. */
  sideClient: DynamoDBClient;
  /** The table's key attributes (to find a Put's key). */
  keyAttributes: readonly string[];
  /** Global secondary indexes, for the index write estimate. */
  indexes: Record<string, IndexKeys>;
  /** Requests this matches pass unmetered, by the partition of a single-item request (undefined for others; see `DynamoMeter.exclude`). */
  exclude?: (pk: string | undefined) => boolean;
}

/** The partition key of a single-item request (GetItem, UpdateItem…), marshalled or not. */
function partitionOf(input: unknown): string | undefined {
  const pk = (input as { Key?: { PK?: unknown } } | undefined)?.Key?.PK;
  if (typeof pk === 'string') return pk;
  const s = (pk as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
}

const DATA_PLANE = new Set([
  'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan',
  'BatchGetItem', 'BatchWriteItem', 'TransactGetItems', 'TransactWriteItems', 'ExecuteStatement', 'BatchExecuteStatement', 'ExecuteTransaction',
]);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

interface CapacityLike {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

interface ConsumedCapacityLike extends CapacityLike {
  Table?: CapacityLike;
  GlobalSecondaryIndexes?: Record<string, CapacityLike>;
  LocalSecondaryIndexes?: Record<string, CapacityLike>;
}

interface PlannedWrite {
  kind: WriteAction['kind'];
  table: string;
  key: Item;
  /** The Put's item (known before sending). */
  put?: Item;
  before?: Item | undefined;
}

export class DynamoMeter {
  readonly records: RequestRecord[] = [];
  /** While above 0, requests pass unmetered (seeding through the domain: `unmetered`). */
  private paused = 0;
  /**
   * Partitions whose single-item requests are not counted: the rate limiter's settings and counters
   * (bench/run.ts), so an operation's figures stay its own; bench/ratelimit.ts measures the limiter
   * with this off.
   */
  exclude: ((pk: string | undefined) => boolean) | undefined;

  constructor(private readonly opts: MeterOptions) {
    this.exclude = opts.exclude;
  }

  private skips(op: string, input: unknown): boolean {
    if (!DATA_PLANE.has(op) || this.paused > 0) return true;
    return this.exclude ? this.exclude(partitionOf(input)) : false;
  }

  /** Runs `fn` with the meter off: a fixture seeded through domain code costs no image reads and no records. Nothing measured may run meanwhile. */
  async unmetered<T>(fn: () => Promise<T>): Promise<T> {
    this.paused++;
    try {
      return await fn();
    } finally {
      this.paused--;
    }
  }

  /** Adds the meter to a client's middleware stack (a DynamoDBDocumentClient shares its client's stack). */
  install(client: Pick<DynamoDBDocumentClient, 'middlewareStack'>): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = operationName(context.commandName);
        if (this.skips(op, args.input)) return next(args);
        // A copy: the caller's input object stays as it was.
        return next({ ...args, input: { ReturnConsumedCapacity: 'INDEXES', ...(args.input as object) } as typeof args.input });
      },
      { step: 'initialize', name: 'benchMeterAskCapacity', priority: 'high' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = operationName(context.commandName);
        if (this.skips(op, args.input)) return next(args);
        // In the build step the input is already in wire form (AttributeValue maps).
        const input = args.input as Record<string, unknown>;
        const writes = await this.planWrites(op, input);
        const record: RequestRecord = { op, ok: false, attempts: 1, localRcu: 0, localWcu: 0, localGsiWcu: 0, rcu: 0, wcu: 0, gsiWcu: 0 };
        if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
          record.transactItems = ((input.TransactItems as unknown[] | undefined) ?? []).length;
        }
        if (op === 'BatchWriteItem') {
          record.batchWrites = Object.values((input.RequestItems as Record<string, unknown[]> | undefined) ?? {}).reduce((n, reqs) => n + reqs.length, 0);
        }
        this.records.push(record);
        try {
          const result = await next(args);
          const output = result.output as { ConsumedCapacity?: ConsumedCapacityLike | ConsumedCapacityLike[]; $metadata?: { attempts?: number } };
          record.ok = true;
          record.attempts = output.$metadata?.attempts ?? 1;
          const { read, write, indexWrite } = reported(op, output.ConsumedCapacity);
          record.localRcu = read;
          record.localWcu = write;
          record.localGsiWcu = indexWrite;
          record.rcu = read;
          record.wcu = write;
          await this.completeWrites(writes);
          if (writes.length) {
            record.writes = writes.map((w) => ({ kind: w.kind, bytes: Math.max(itemSize(w.before), itemSize(afterImage(w))) }));
          }
          record.gsiWcu = writes.reduce((sum, w) => sum + indexWriteUnits(this.opts.indexes, w.before, afterImage(w)), 0);
          if (op === 'TransactWriteItems') {
            record.wcu = transactWriteCost(writes.map((w) => ({ kind: w.kind, before: itemSize(w.before), after: itemSize(afterImage(w)) })));
          } else if (op === 'TransactGetItems') {
            record.rcu = transactGetCost(await this.transactGetSizes(input));
          }
          return result;
        } catch (err) {
          const e = err as { name?: string; message?: string; $metadata?: { attempts?: number } };
          record.attempts = e.$metadata?.attempts ?? 1;
          record.error = `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
          throw err;
        }
      },
      { step: 'build', name: 'benchMeterRecord', priority: 'low' },
    );
  }

  /** Index of the next record: pass it to `usageSince`. */
  mark(): number {
    return this.records.length;
  }

  usageSince(mark: number): Usage {
    return summarize(this.records.slice(mark));
  }

  /** Runs `fn` and answers what it cost. Nothing else may use the client meanwhile. */
  async measure<T>(fn: () => Promise<T>): Promise<{ result: T; usage: Usage }> {
    const mark = this.mark();
    const result = await fn();
    return { result, usage: this.usageSince(mark) };
  }

  // -- item images, read through the unmetered side client --

  private async read(table: string, key: Item): Promise<Item | undefined> {
    const out = await this.opts.sideClient.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return out.Item;
  }

  private keyOf(item: Item): Item {
    const key: Item = {};
    for (const k of this.opts.keyAttributes) {
      const v = item[k];
      if (v === undefined) throw new Error(`item has no key attribute ${k}`);
      key[k] = v;
    }
    return key;
  }

  private async planWrites(op: string, input: Record<string, unknown>): Promise<PlannedWrite[]> {
    const planned: PlannedWrite[] = [];
    type Action = { TableName?: string; Item?: Item; Key?: Item };
    const add = (kind: PlannedWrite['kind'], a: Action | undefined) => {
      if (!a?.TableName) return;
      if (kind === 'Put') planned.push({ kind, table: a.TableName, key: this.keyOf(a.Item ?? {}), put: a.Item ?? {} });
      else if (a.Key) planned.push({ kind, table: a.TableName, key: a.Key });
    };
    if (op === 'TransactWriteItems') {
      for (const t of (input.TransactItems as Record<string, Action>[] | undefined) ?? []) {
        add('Put', t.Put);
        add('Update', t.Update);
        add('Delete', t.Delete);
        add('ConditionCheck', t.ConditionCheck);
      }
    } else if (op === 'PutItem') {
      add('Put', input as Action);
    } else if (op === 'UpdateItem') {
      add('Update', input as Action);
    } else if (op === 'DeleteItem') {
      add('Delete', input as Action);
    }
    for (const w of planned) w.before = await this.read(w.table, w.key);
    return planned;
  }

  /** After a successful write: the Update's new image (a Put's is its input). */
  private async completeWrites(writes: PlannedWrite[]): Promise<void> {
    for (const w of writes) if (w.kind === 'Update') w.put = await this.read(w.table, w.key);
  }

  private async transactGetSizes(input: Record<string, unknown>): Promise<number[]> {
    const sizes: number[] = [];
    for (const t of (input.TransactItems as { Get?: { TableName?: string; Key?: Item } }[] | undefined) ?? []) {
      if (t.Get?.TableName && t.Get.Key) sizes.push(itemSize(await this.read(t.Get.TableName, t.Get.Key)));
    }
    return sizes;
  }
}

function afterImage(w: PlannedWrite): Item | undefined {
  switch (w.kind) {
    case 'Put':
    case 'Update':
      return w.put;
    case 'Delete':
      return undefined;
    case 'ConditionCheck':
      return w.before;
  }
}

function operationName(commandName: string | undefined): string {
  return (commandName ?? 'Unknown').replace(/Command$/, '');
}

/** Reported capacity: all reads; writes split into the table's and the indexes'. */
function reported(op: string, cc: ConsumedCapacityLike | ConsumedCapacityLike[] | undefined) {
  const units = (c: CapacityLike | undefined) => c?.CapacityUnits ?? (c?.ReadCapacityUnits ?? 0) + (c?.WriteCapacityUnits ?? 0);
  let read = 0;
  let write = 0;
  let indexWrite = 0;
  for (const c of Array.isArray(cc) ? cc : cc ? [cc] : []) {
    if (READS.has(op)) {
      read += units(c);
      continue;
    }
    const indexes = [...Object.values(c.GlobalSecondaryIndexes ?? {}), ...Object.values(c.LocalSecondaryIndexes ?? {})];
    const onIndexes = indexes.reduce((sum, ix) => sum + units(ix), 0);
    write += c.Table ? units(c.Table) : units(c) - onIndexes;
    indexWrite += onIndexes;
  }
  return { read, write, indexWrite };
}

export function summarize(records: readonly RequestRecord[]): Usage {
  const usage: Usage = {
    requests: 0, attempts: 0, rcu: 0, wcu: 0, gsiWcu: 0, localRcu: 0, localWcu: 0, localGsiWcu: 0,
    byOperation: {}, calls: [], itemsWritten: 0, transactWcu: 0, transactLocalWcu: 0, errors: [],
  };
  for (const r of records) {
    usage.requests += 1;
    usage.attempts += r.attempts;
    usage.rcu += r.rcu;
    usage.wcu += r.wcu;
    usage.gsiWcu += r.gsiWcu;
    usage.localRcu += r.localRcu;
    usage.localWcu += r.localWcu;
    usage.localGsiWcu += r.localGsiWcu;
    usage.byOperation[r.op] = (usage.byOperation[r.op] ?? 0) + 1;
    if (r.ok) usage.itemsWritten += (r.writes ?? []).filter((w) => w.kind !== 'ConditionCheck').length + (r.batchWrites ?? 0);
    usage.calls.push(r.transactItems === undefined ? r.op : `${r.op}[${r.transactItems}]`);
    if (r.op === 'TransactWriteItems') {
      usage.transactWcu += r.wcu;
      usage.transactLocalWcu += r.localWcu;
    }
    if (r.error) usage.errors.push(`${r.op}: ${r.error}`);
  }
  return usage;
}

/** `GetItem + TransactWriteItems×2` */
export function describeOperations(byOperation: Record<string, number>): string {
  return Object.entries(byOperation).map(([op, n]) => (n > 1 ? `${op}×${n}` : op)).join(' + ') || '-';
}
