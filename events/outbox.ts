/**
 * The outbox relay. Every change writes its events as outbox items in its own
 * transaction (UnitOfWork.emit); this module hands them to the publisher and marks
 * them delivered. An item stays in the sparse `byDue` index until delivery succeeds,
 * so a failed delivery is retried by the next sweep and no event is lost. Delivery is
 * at least once; consumers make their effects idempotent by event id.
 *
 * An item holds one event (`event`), or the events of several units of work committed together
 * (`events`: a CSV import's rows, UnitOfWork.commitTogether). Such an item is marked delivered
 * once every event of it got through; otherwise all of them are published again later.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import type { EventPublisher } from '#events/publisher.ts';
import { db, tableName } from '#domain/table/client.ts';
import { OUTBOX_SHARDS, outboxDuePartition, outboxKey } from '#domain/table/keys.ts';
import { queryAll } from '#domain/table/query.ts';
import { inParallel } from '#domain/parallel.ts';

export interface DeliveryReport {
  delivered: number;
  failedIds: string[];
}

/** Marks written at once by one delivery. */
export const MARK_PARALLEL = 8;

/** One outbox item: its key's id and tenant, and the events it holds. */
export interface OutboxEntry {
  tenantId: string;
  id: string;
  events: DomainEvent[];
}

/** The entry of a stored outbox item (as read, or as a stream image unmarshalled). */
export function outboxEntry(item: Record<string, unknown>): OutboxEntry {
  const events = typeof item.events === 'string' ? (JSON.parse(item.events) as unknown[]).map((e) => parseEvent(e)) : [parseEvent(item.event)];
  return { tenantId: item.tenantId as string, id: (item.outboxId as string | undefined) ?? events[0]!.id, events };
}

/** Publishes the given outbox events (each its own item) and marks the ones that got through. */
export function deliver(events: DomainEvent[], publisher: EventPublisher, now = new Date()): Promise<DeliveryReport> {
  return deliverEntries(events.map((e) => ({ tenantId: e.tenantId, id: e.id, events: [e] })), publisher, now);
}

/** Publishes every event of the given outbox items; marks an item delivered when all of its events got through. */
export async function deliverEntries(entries: OutboxEntry[], publisher: EventPublisher, now = new Date()): Promise<DeliveryReport> {
  const events = entries.flatMap((e) => e.events);
  if (events.length === 0) return { delivered: 0, failedIds: [] };
  const { failedIds } = await publisher.publish(events);
  const failed = new Set(failedIds);
  // Every mark is tried and settles before this answers (a Lambda that has answered freezes what
  // still runs); a few at a time: 500 marks at once would queue every request's table calls of
  // the process behind them (in the local runtime, for seconds: the tail of bench/load.ts).
  let refused: { err: unknown } | undefined;
  await inParallel(entries, MARK_PARALLEL, async (entry) => {
    try {
      await (entry.events.some((e) => failed.has(e.id)) ? markFailed(entry, now) : markDelivered(entry, now));
    } catch (err) {
      refused ??= { err };
    }
  });
  if (refused) throw refused.err;
  return { delivered: events.length - failed.size, failedIds };
}

/** Every pending event of every tenant, oldest first per shard, about `maxPerShard` events a shard at a time (the sweep). */
export async function deliverPending(publisher: EventPublisher, now = new Date(), maxPerShard = 500): Promise<DeliveryReport> {
  const total: DeliveryReport = { delivered: 0, failedIds: [] };
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    const eventsIn = (read: Record<string, unknown>[]) => read.reduce((n, item) => n + (typeof item.events === 'string' ? (item.eventCount as number) : 1), 0);
    const items = await queryAll({ index: 'byDue', pk: outboxDuePartition(shard) }, (read) => eventsIn(read) >= maxPerShard);
    const report = await deliverEntries(items.map(outboxEntry), publisher, now);
    total.delivered += report.delivered;
    total.failedIds.push(...report.failedIds);
  }
  return total;
}

async function markDelivered(entry: OutboxEntry, now: Date): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: outboxKey(entry.tenantId, entry.id),
        UpdateExpression: 'REMOVE duePk, dueSk SET deliveredAt = :at',
        ConditionExpression: 'attribute_exists(duePk)',
        ExpressionAttributeValues: { ':at': now.toISOString() },
      }),
    );
  } catch (err) {
    // Already marked by a concurrent relay (the stream and a sweep can overlap): nothing to do.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

async function markFailed(entry: OutboxEntry, now: Date): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: outboxKey(entry.tenantId, entry.id),
      UpdateExpression: 'SET attempts = if_not_exists(attempts, :zero) + :one, lastAttemptAt = :at',
      ConditionExpression: 'attribute_exists(duePk)',
      ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':at': now.toISOString() },
    }),
  ).catch((err: unknown) => {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  });
}
