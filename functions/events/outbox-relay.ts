/**
 * The table stream → EventBridge. The stream's filter passes only INSERTs of outbox
 * items; each event of each item is published and the item marked delivered. Records with an
 * event that failed are reported as batch item failures, so Lambda retries them, and the
 * outbox sweep job is the safety net.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { deliverEntries, outboxEntry, type OutboxEntry } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const pending: { sequence: string; entry: OutboxEntry }[] = [];
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image) continue;
    const item = unmarshall(image as Parameters<typeof unmarshall>[0]);
    pending.push({ sequence: record.dynamodb?.SequenceNumber ?? '', entry: outboxEntry(item) });
  }
  const { failedIds } = await deliverEntries(pending.map((p) => p.entry), publisher());
  const failed = new Set(failedIds);
  return {
    batchItemFailures: pending.filter((p) => p.entry.events.some((e) => failed.has(e.id))).map((p) => ({ itemIdentifier: p.sequence })),
  };
}
