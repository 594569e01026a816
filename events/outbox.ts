/**
 * The outbox relay. Every change writes its events as outbox items in its own
 * transaction (UnitOfWork.emit); this module hands them to the publisher and marks
 * them delivered. An item stays in the sparse `byDue` index until delivery succeeds,
 * so a failed delivery is retried by the next sweep and no event is lost. Delivery is
 * at least once; consumers make their effects idempotent by event id.
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

/** Publishes the given outbox events and marks the ones that got through. */
export async function deliver(events: DomainEvent[], publisher: EventPublisher, now = new Date()): Promise<DeliveryReport> {
  if (events.length === 0) return { delivered: 0, failedIds: [] };
  const { failedIds } = await publisher.publish(events);
  const failed = new Set(failedIds);
  // Every mark is tried and settles before this answers (a Lambda that has answered freezes what
  // still runs); a few at a time: 500 marks at once would queue every request's table calls of
  // the process behind them (in the local runtime, for seconds: the tail of bench/load.ts).
  let refused: { err: unknown } | undefined;
  await inParallel(events, MARK_PARALLEL, async (e) => {
    try {
      await (failed.has(e.id) ? markFailed(e, now) : markDelivered(e, now));
    } catch (err) {
      refused ??= { err };
    }
  });
  if (refused) throw refused.err;
  return { delivered: events.length - failed.size, failedIds };
}

/** Every pending event of every tenant, oldest first per shard, in batches (the sweep). */
export async function deliverPending(publisher: EventPublisher, now = new Date(), maxPerShard = 500): Promise<DeliveryReport> {
  const total: DeliveryReport = { delivered: 0, failedIds: [] };
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    const items = await queryAll({ index: 'byDue', pk: outboxDuePartition(shard) }, (read) => read.length >= maxPerShard);
    const events = items.map((item) => parseEvent(item.event));
    const report = await deliver(events, publisher, now);
    total.delivered += report.delivered;
    total.failedIds.push(...report.failedIds);
  }
  return total;
}

async function markDelivered(event: DomainEvent, now: Date): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: outboxKey(event.tenantId, event.id),
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

async function markFailed(event: DomainEvent, now: Date): Promise<void> {
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: outboxKey(event.tenantId, event.id),
      UpdateExpression: 'SET attempts = if_not_exists(attempts, :zero) + :one, lastAttemptAt = :at',
      ConditionExpression: 'attribute_exists(duePk)',
      ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':at': now.toISOString() },
    }),
  ).catch((err: unknown) => {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  });
}
