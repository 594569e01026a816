/**
 * The table stream → EventBridge. The stream's filter passes only INSERTs of outbox
 * items; each is published and marked delivered. Records that fail are reported as
 * batch item failures, so Lambda retries them, and the outbox sweep job is the safety net.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import { deliver } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const pending: { sequence: string; event: DomainEvent }[] = [];
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image) continue;
    const item = unmarshall(image as Parameters<typeof unmarshall>[0]);
    pending.push({ sequence: record.dynamodb?.SequenceNumber ?? '', event: parseEvent(item.event) });
  }
  const { failedIds } = await deliver(pending.map((p) => p.event), publisher());
  const failed = new Set(failedIds);
  return {
    batchItemFailures: pending.filter((p) => failed.has(p.event.id)).map((p) => ({ itemIdentifier: p.sequence })),
  };
}
