/** Helpers shared by the quotes, orders and targets tests: the outbox of this file's table, raw items. */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import type { ApiResponse } from '#test/support/api.ts';

/** Every event still in the outbox of this file's table (the tests run no relay), for one tenant, oldest first. */
export async function outboxEvents(tenant: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: 'byDue',
          KeyConditionExpression: 'duePk = :p',
          ExpressionAttributeValues: { ':p': outboxDuePartition(shard) },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      out.push(...(page.Items ?? []).map((i) => parseEvent(i.event)).filter((e) => e.tenantId === tenant));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Events of one type about one entity. */
export async function eventsOf(tenant: string, type: string, entityId: string): Promise<DomainEvent[]> {
  return (await outboxEvents(tenant)).filter((e) => e.type === type && e.entity.id === entityId);
}

/** The raw stored item (keys included), to check what is stored in minor units. */
export const rawItem = (key: { PK: string; SK: string }) => getItem(key);

/** Fails with the answer's body when the status is not the expected one. */
export function expectStatus(res: ApiResponse, status: number): void {
  expect(res.status, `${res.status} ${res.body.slice(0, 500)}`).toBe(status);
}

/** Runs the requests at the same moment; never a 5xx. */
export async function concurrently<T extends ApiResponse>(requests: (() => Promise<T>)[]): Promise<T[]> {
  const answers = await Promise.all(requests.map((r) => r()));
  const errors = answers.filter((a) => a.status >= 500).map((a) => `${a.status} ${a.body.slice(0, 300)}`);
  expect(errors, 'no concurrent request may answer 5xx').toEqual([]);
  return answers;
}
