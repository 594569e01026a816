/**
 * A unit of work: the writes of one use case, its domain events (outbox items) and,
 * for a retried POST, the idempotency record, committed as ONE TransactWriteItems.
 * Either the change, its events and its idempotency record all land, or none does.
 */
import { idempotencyResultContext, type ResultContext } from '#domain/secrets/sealed-results.ts';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { conflict } from '#domain/errors.ts';
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { eventCatalog, type EventData, type EventType, type DomainEvent } from '#events/catalog.ts';
import { db, tableName } from '#domain/table/client.ts';
import { count } from '#domain/table/request-stats.ts';
import { idempotencyKey, outboxDuePartition, outboxKey, outboxShard } from '#domain/table/keys.ts';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Item = Record<string, unknown>;
type Values = Record<string, unknown>;
type Names = Record<string, string>;

/** Builds the error to throw when this item's condition fails; gets the item as it is now, if any. */
type OnConditionFailed = (current: Item | undefined) => Error;

interface Condition {
  condition: string;
  names?: Names;
  values?: Values;
  onConditionFailed: OnConditionFailed;
}

/**
 * For a Put that replaces a versioned item (a tenant's settings): it must still be at the version
 * read, 0 meaning not stored yet; otherwise `409 concurrent_update` naming `what`.
 */
export function stillAtVersion(version: number, what: string): Condition {
  return {
    condition: version === 0 ? 'attribute_not_exists(PK)' : '#v = :v',
    ...(version === 0 ? {} : { names: { '#v': 'version' }, values: { ':v': version } }),
    onConditionFailed: () => conflict('concurrent_update', `${what} changed meanwhile; retry.`),
  };
}

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
const OUTBOX_TTL_SECONDS = 14 * 24 * 60 * 60;
/** Events of units committed together share outbox items up to this size (DynamoDB's item limit is 400 KB). */
const OUTBOX_ITEM_BYTES = 300_000;

/** Thrown when the idempotency record already exists: the request is a replay or a reuse of its key. */
export class IdempotencyRecordExists extends Error {}

/** `commitTogether` was refused: nothing landed; `refused` maps each unit (its index) whose condition failed to its error. */
export class UnitsRefused extends Error {
  constructor(readonly refused: Map<number, Error>) {
    super(`${refused.size} unit(s) of the transaction were refused`);
  }
}

/** The transaction's failed conditions: the items' indexes and the errors they asked for. */
class ConditionsFailed extends Error {
  constructor(
    readonly indexes: number[],
    readonly errors: Error[],
  ) {
    super('transaction conditions failed');
  }
}

/** `sealResult`: stores a result that holds a secret sealed (envelope.ts `sealResult`), never in plain text. */
export interface CommitOptions {
  sealResult?: (result: unknown, context: ResultContext) => Promise<unknown>;
}

export class UnitOfWork {
  private readonly items: TransactItem[] = [];
  private readonly failures: (OnConditionFailed | undefined)[] = [];
  readonly events: DomainEvent[] = [];
  /** Indexes of the outbox items in `items`, and each event's size: `commitTogether` merges them. */
  private readonly outboxAt = new Set<number>();
  private readonly eventBytes: number[] = [];

  constructor(private readonly ctx: UseCaseContext) {}

  /** Items so far (the idempotency record, if any, is added by `commit`): a transaction holds at most 100. */
  get size(): number {
    return this.items.length;
  }

  put(item: Item, cond?: Condition): this {
    return this.add(
      {
        Put: {
          TableName: tableName(),
          Item: item,
          ...conditionParts(cond),
        },
      },
      cond?.onConditionFailed,
    );
  }

  update(key: Item, update: { expression: string; names?: Names; values?: Values }, cond?: Condition): this {
    const names = { ...update.names, ...cond?.names };
    const values = { ...update.values, ...cond?.values };
    return this.add(
      {
        Update: {
          TableName: tableName(),
          Key: key,
          UpdateExpression: update.expression,
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
          ...(cond ? { ConditionExpression: cond.condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
        },
      },
      cond?.onConditionFailed,
    );
  }

  delete(key: Item, cond?: Condition): this {
    return this.add({ Delete: { TableName: tableName(), Key: key, ...conditionParts(cond) } }, cond?.onConditionFailed);
  }

  check(key: Item, cond: Condition): this {
    return this.add(
      {
        ConditionCheck: {
          TableName: tableName(),
          Key: key,
          ConditionExpression: cond.condition,
          ...(cond.names ? { ExpressionAttributeNames: cond.names } : {}),
          ...(cond.values ? { ExpressionAttributeValues: cond.values } : {}),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      cond.onConditionFailed,
    );
  }

  /** Records a domain event in the outbox, in this same transaction. */
  emit<T extends EventType>(type: T, entity: { type: string; id: string }, data: EventData<T>): this {
    const { identity } = this.ctx;
    const entry = eventCatalog()[type];
    const event: DomainEvent = {
      id: ulid(this.ctx.now.getTime()),
      type,
      version: entry.version,
      tenantId: identity.tenantId,
      occurredAt: this.ctx.now.toISOString(),
      actor: { userId: identity.userId, role: identity.role },
      entity,
      data: entry.data.parse(data),
    };
    this.events.push(event);
    this.eventBytes.push(JSON.stringify(event).length);
    this.outboxAt.add(this.items.length);
    return this.put(outboxItem(identity.tenantId, [event], this.ctx.now));
  }

  /** The table keys its items touch: a transaction may touch an item only once (`commitTogether` keeps units apart by them). */
  keys(): string[] {
    return this.items.map((item) => {
      const key = item.Put?.Item ?? item.Update?.Key ?? item.Delete?.Key ?? item.ConditionCheck?.Key ?? {};
      return `${String(key.PK)}\u0000${String(key.SK)}`;
    });
  }

  /**
   * Commits everything at once. `result` is what the caller will answer; with an
   * Idempotency-Key it is stored with the change so a retry gets it back: sealed when it holds
   * a secret (`sealResult`: envelope.ts `sealResult`, given by the use cases of forms and
   * webhooks), so the record holds no plaintext secret either.
   */
  async commit<R>(result: R, options: CommitOptions = {}): Promise<R> {
    await this.seal(result, options);
    try {
      await transactWrite(this.items, this.failures);
    } catch (err) {
      if (!(err instanceof ConditionsFailed)) throw err;
      // A replay is a replay whatever else its twin's success now refuses (a use case that
      // answers "already there" itself would otherwise answer differently from the first time).
      throw err.errors.find((e) => e instanceof IdempotencyRecordExists) ?? err.errors[0]!;
    }
    return result;
  }

  /** Adds the idempotency record holding `result`, if the context has a key: the last item before the commit. */
  private async seal(result: unknown, options: CommitOptions = {}): Promise<void> {
    const { idempotency, identity } = this.ctx;
    if (idempotency) {
      const key = idempotencyKey(identity.tenantId, identity.userId, idempotency.key);
      this.put(
        {
          ...key,
          tenantId: identity.tenantId,
          entityType: 'IDEMPOTENCY',
          requestHash: idempotency.requestHash,
          ...(options.sealResult
            ? { sealedResult: await options.sealResult(result, idempotencyResultContext(identity.tenantId, key.PK)) }
            : { result: JSON.stringify(result) }),
          createdAt: this.ctx.now.toISOString(),
          expiresAt: Math.floor(this.ctx.now.getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
        },
        {
          // An expired record that TTL has not deleted yet no longer holds the key.
          condition: 'attribute_not_exists(PK) OR expiresAt < :nowSeconds',
          values: { ':nowSeconds': Math.floor(this.ctx.now.getTime() / 1000) },
          onConditionFailed: () => new IdempotencyRecordExists(),
        },
      );
    }
  }

  /**
   * Several units of work (each with the result its idempotency record keeps) committed as ONE
   * TransactWriteItems: all land or none does. For a bulk writer (a CSV import's rows) whose
   * units touch distinct items (`keys()`) and hold at most 100 items together. A failed
   * condition throws `UnitsRefused`, naming every unit whose item failed, with the error its item
   * asked for: the caller commits those alone (where the error is the answer) and the others
   * together again.
   */
  static async commitTogether(units: { uow: UnitOfWork; result: unknown }[]): Promise<void> {
    const items: TransactItem[] = [];
    const failures: (OnConditionFailed | undefined)[] = [];
    const owner: number[] = [];
    for (const [u, { uow, result }] of units.entries()) {
      await uow.seal(result);
      uow.items.forEach((item, i) => {
        if (uow.outboxAt.has(i)) return;
        items.push(item);
        failures.push(uow.failures[i]);
        owner.push(u);
      });
    }
    // The units' events in as few outbox items as fit (the relay and the sweep publish each event of an item).
    for (const events of UnitOfWork.outboxBatches(units.map((u) => u.uow))) {
      const { ctx } = units[0]!.uow;
      items.push({ Put: { TableName: tableName(), Item: outboxItem(events[0]!.tenantId, events, ctx.now) } });
      failures.push(undefined);
      owner.push(-1);
    }
    try {
      await transactWrite(items, failures);
    } catch (err) {
      if (!(err instanceof ConditionsFailed)) throw err;
      const refused = new Map<number, Error>();
      err.indexes.forEach((i, n) => {
        const u = owner[i]!;
        const e = err.errors[n]!;
        if (!refused.has(u) || e instanceof IdempotencyRecordExists) refused.set(u, e);
      });
      throw new UnitsRefused(refused);
    }
  }

  /** Items `commitTogether` writes for these units: theirs, with their events merged into shared outbox items. */
  static sizeTogether(units: UnitOfWork[]): number {
    return units.reduce((n, u) => n + u.items.length - u.outboxAt.size, 0) + UnitOfWork.outboxBatches(units).length;
  }

  /** The units' events, per tenant, in batches of at most OUTBOX_ITEM_BYTES. */
  private static outboxBatches(units: UnitOfWork[]): DomainEvent[][] {
    const batches: DomainEvent[][] = [];
    const open = new Map<string, { events: DomainEvent[]; bytes: number }>();
    for (const uow of units) {
      uow.events.forEach((event, i) => {
        const bytes = uow.eventBytes[i]!;
        let batch = open.get(event.tenantId);
        if (!batch || batch.bytes + bytes > OUTBOX_ITEM_BYTES) {
          batch = { events: [], bytes: 0 };
          open.set(event.tenantId, batch);
          batches.push(batch.events);
        }
        batch.events.push(event);
        batch.bytes += bytes;
      });
    }
    return batches;
  }

  private add(item: TransactItem, onFailed: OnConditionFailed | undefined): this {
    this.items.push(item);
    this.failures.push(onFailed);
    return this;
  }
}

/**
 * An outbox item: pending in the sparse `byDue` index until delivered. One event is `event`; the
 * events of units committed together share one item as `events` (events/outbox.ts `outboxEntry`),
 * keyed by the first one's id.
 */
function outboxItem(tenantId: string, events: DomainEvent[], now: Date): Item {
  const id = events[0]!.id;
  return {
    ...outboxKey(tenantId, id),
    tenantId,
    entityType: 'OUTBOX',
    // Several events as one JSON string: one attribute to store instead of every field of every event.
    ...(events.length === 1 ? { event: events[0] } : { outboxId: id, events: JSON.stringify(events), eventCount: events.length }),
    duePk: outboxDuePartition(outboxShard(id)),
    dueSk: id,
    expiresAt: Math.floor(now.getTime() / 1000) + OUTBOX_TTL_SECONDS,
  };
}

function conditionParts(cond: Condition | undefined) {
  if (!cond) return {};
  return {
    ConditionExpression: cond.condition,
    ...(cond.names ? { ExpressionAttributeNames: cond.names } : {}),
    ...(cond.values ? { ExpressionAttributeValues: cond.values } : {}),
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
  };
}

const MAX_CONFLICT_RETRIES = 12;

/**
 * TransactWriteItems, turning a failed condition into the domain error its item asked for.
 * A `TransactionConflict` (another transaction touching the same item at the same moment)
 * is retried with jittered backoff: the retry then sees the winner's write and its
 * condition decides, so races end in a clean 409 instead of a 500.
 */
async function transactWrite(items: TransactItem[], failures: (OnConditionFailed | undefined)[]): Promise<void> {
  if (items.length > 100) throw new Error(`a transaction holds at most 100 items, got ${items.length}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await db.send(new TransactWriteCommand({ TransactItems: items }));
      return;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const reasons = err.CancellationReasons ?? [];
      const failed = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
      if (failed.length > 0) {
        const errors = failed.map((i) => {
          const onFailed = failures[i];
          if (!onFailed) return new Error(`unexpected condition failure on transaction item ${i}`);
          return onFailed(unmarshallReasonItem(reasons[i]?.Item));
        });
        throw new ConditionsFailed(failed, errors);
      }
      const retryable = reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError');
      if (!retryable) throw err;
      // A hot item (a counter, a stage, an order under a burst of payments) can stay contended:
      // the client gets a retryable 409, never a 500.
      if (attempt >= MAX_CONFLICT_RETRIES) {
        throw conflict('concurrent_update', 'The records this change touches are changing too fast; retry it.');
      }
      const ms = Math.random() * Math.min(250, 20 * 2 ** attempt);
      count({ conflictRetries: 1, backoffMs: ms });
      await sleep(ms);
    }
  }
}

function unmarshallReasonItem(item: unknown): Item | undefined {
  // Cancellation reasons carry raw attribute values, not document-client values.
  return item ? unmarshall(item as Parameters<typeof unmarshall>[0]) : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
