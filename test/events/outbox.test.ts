/**
 * The events backbone: each change records its event in the same transaction; delivery
 * that fails stays pending and is retried; a redelivery never repeats a consumer's effect.
 */
import { describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { countingInto, emptyStats } from '#domain/table/request-stats.ts';
import { auditKey, OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { parseEvent } from '#events/catalog.ts';
import { deliver, deliverPending, MARK_PARALLEL, outboxEntry } from '#events/outbox.ts';
import { publisher as currentPublisher, usePublisher, type EventPublisher } from '#events/publisher.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { marshall } from '@aws-sdk/util-dynamodb';
import { handler as outboxRelay } from '#functions/events/outbox-relay.ts';
import { inProcessPublisher } from '#local/bus.ts';
import { handler as auditLog } from '#functions/events/audit-log.ts';
import { as } from '#test/support/api.ts';

const rep = { tenant: 'events', user: 'erin', role: 'rep' } as const;

async function pending(): Promise<DomainEvent[]> {
  return (await pendingItems()).flatMap((i) => outboxEntry(i).events);
}

async function pendingItems(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    const page = await db.send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: 'byDue',
        KeyConditionExpression: 'duePk = :p',
        ExpressionAttributeValues: { ':p': outboxDuePartition(shard) },
      }),
    );
    out.push(...(page.Items ?? []));
  }
  return out;
}

async function auditEntries(entityType: string, entityId: string) {
  const { PK } = auditKey(rep.tenant, entityType, entityId, 'x');
  const page = await db.send(
    new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'PK = :p', ExpressionAttributeValues: { ':p': PK } }),
  );
  return page.Items ?? [];
}

/** A publisher that fails its first `failures` calls, then delivers through the in-process bus. */
function flaky(failures: number): EventPublisher & { calls: number } {
  const real = inProcessPublisher();
  const p = {
    calls: 0,
    async publish(events: DomainEvent[]) {
      p.calls++;
      if (p.calls <= failures) return { failedIds: events.map((e) => e.id) };
      return real.publish(events);
    },
  };
  return p;
}

describe('outbox', () => {
  it('records each change with its event, atomically, and validates it against the catalog', async () => {
    await deliverPending(inProcessPublisher());
    const account = (await as(rep).post('/v1/accounts', { name: 'Evented Co' })).json;
    await as(rep).patch(`/v1/accounts/${account.id}`, { industry: 'retail' });
    await as(rep).post('/v1/activities', { type: 'call', subject: 'hello', accountId: account.id });
    const events = (await pending()).filter((e) => e.tenantId === rep.tenant);
    expect(events.map((e) => e.type).sort()).toEqual(['account.created', 'account.updated', 'activity.logged']);
    const updated = events.find((e) => e.type === 'account.updated')!;
    expect(updated).toMatchObject({ version: 1, actor: { userId: 'erin', role: 'rep' }, entity: { type: 'account', id: account.id } });
    expect((updated.data as { changed: string[] }).changed).toEqual(['industry']);
  });

  it('keeps a failed delivery pending, retries it later, and loses nothing', async () => {
    await deliverPending(inProcessPublisher());
    const account = (await as(rep).post('/v1/accounts', { name: 'Retry Ltd' })).json;
    const publisher = flaky(1);

    const first = await deliverPending(publisher);
    expect(first.delivered).toBe(0);
    expect(first.failedIds.length).toBeGreaterThan(0);
    expect((await pending()).map((e) => e.entity.id)).toContain(account.id);
    expect(await auditEntries('account', account.id)).toHaveLength(0);

    const retry = await deliverPending(publisher);
    expect(retry.failedIds).toEqual([]);
    expect(await pending()).toEqual([]);
    expect((await auditEntries('account', account.id)).map((e) => e.eventType)).toEqual(['account.created']);
  });

  it('a consumer applies a redelivered event once', async () => {
    await deliverPending(inProcessPublisher());
    const account = (await as(rep).post('/v1/accounts', { name: 'Twice Inc' })).json;
    const [event] = (await pending()).filter((e) => e.entity.id === account.id);
    expect(event).toBeDefined();

    // Delivered, then delivered again (the relay crashed before marking it): one effect.
    await deliver([event!], inProcessPublisher());
    await auditLog({ detail: event });
    await deliver([event!], inProcessPublisher());
    const entries = await auditEntries('account', account.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ eventId: event!.id, eventType: 'account.created', actor: { userId: 'erin' } });
  });

  it('a consumer that throws fails the delivery, which stays pending', async () => {
    await deliverPending(inProcessPublisher());
    const account = (await as(rep).post('/v1/accounts', { name: 'Broken Consumer' })).json;
    const failing = inProcessPublisher(async () => async () => {
      throw new Error('consumer down');
    });
    const report = await deliverPending(failing);
    expect(report.delivered).toBe(0);
    expect((await pending()).map((e) => e.entity.id)).toContain(account.id);
    await deliverPending(inProcessPublisher());
    expect(await pending()).toEqual([]);
  });

  it('marks a delivery\'s events a few at a time, not all at once (a burst would queue every request\'s table calls behind it)', async () => {
    await deliverPending(inProcessPublisher());
    for (let i = 0; i < 3 * MARK_PARALLEL; i++) await as(rep).post('/v1/tasks', { title: `Burst ${i}`, dueAt: '2031-01-01T09:00:00.000Z' });
    const events = (await pending()).filter((e) => e.tenantId === rep.tenant);
    expect(events.length).toBeGreaterThanOrEqual(3 * MARK_PARALLEL);
    const nothingToDo: EventPublisher = { publish: async () => ({ failedIds: [] }) };
    const stats = emptyStats();
    const report = await countingInto(stats, () => deliver(events, nothingToDo));
    expect(report.delivered).toBe(events.length);
    expect(stats.dbCalls).toBe(events.length);
    expect(stats.peakCalls).toBe(MARK_PARALLEL);
    expect(await pending()).toEqual([]);
  });

  it('the events of units committed together share one outbox item: each is published, and one failing publishes them all again', async () => {
    await deliverPending(inProcessPublisher());
    const ctx = { identity: { tenantId: 'events-together', userId: 'erin', role: 'rep' as const }, now: new Date() };
    const ids = ['a', 'b', 'c'];
    await UnitOfWork.commitTogether(ids.map((id) => ({ uow: new UnitOfWork(ctx).emit('account.deleted', { type: 'account', id }, { id }), result: undefined })));
    const items = (await pendingItems()).filter((i) => i.tenantId === 'events-together');
    expect(items).toHaveLength(1);
    expect(outboxEntry(items[0]!).events.map((e) => e.entity.id)).toEqual(ids);

    // A publisher refusing b the first time: the item stays pending, and all three go out again.
    const seen: string[] = [];
    const refusingB: EventPublisher = {
      async publish(events) {
        const mine = events.filter((e) => e.tenantId === 'events-together');
        seen.push(...mine.map((e) => e.entity.id));
        return { failedIds: seen.length <= 3 ? mine.filter((e) => e.entity.id === 'b').map((e) => e.id) : [] };
      },
    };
    expect((await deliverPending(refusingB)).failedIds).toHaveLength(1);
    expect((await pending()).filter((e) => e.tenantId === 'events-together').map((e) => e.entity.id)).toEqual(ids);
    expect((await deliverPending(refusingB)).failedIds).toEqual([]);
    expect(seen.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect((await pending()).filter((e) => e.tenantId === 'events-together')).toEqual([]);
  });

  it('the stream relay publishes every event of a shared item, and reports the record when one of them failed', async () => {
    await deliverPending(inProcessPublisher());
    const ctx = { identity: { tenantId: 'events-relay', userId: 'erin', role: 'rep' as const }, now: new Date() };
    await UnitOfWork.commitTogether(['x', 'y'].map((id) => ({ uow: new UnitOfWork(ctx).emit('account.deleted', { type: 'account', id }, { id }), result: undefined })));
    const [item] = (await pendingItems()).filter((i) => i.tenantId === 'events-relay');
    const record = { eventName: 'INSERT' as const, dynamodb: { SequenceNumber: '7', NewImage: marshall(item!) as never } };
    const before = currentPublisher();
    const seen: string[] = [];
    try {
      usePublisher({
        async publish(events) {
          seen.push(...events.map((e) => e.entity.id));
          return { failedIds: events.filter((e) => e.entity.id === 'y').map((e) => e.id) };
        },
      });
      expect(await outboxRelay({ Records: [record] })).toEqual({ batchItemFailures: [{ itemIdentifier: '7' }] });
      usePublisher({ publish: async (events) => (seen.push(...events.map((e) => e.entity.id)), { failedIds: [] }) });
      expect(await outboxRelay({ Records: [record] })).toEqual({ batchItemFailures: [] });
    } finally {
      usePublisher(before);
    }
    expect(seen).toEqual(['x', 'y', 'x', 'y']);
    expect((await pending()).filter((e) => e.tenantId === 'events-relay')).toEqual([]);
  });

  it('rejects events that do not match the catalog', () => {
    const base = { id: '1', type: 'account.created', version: 2, tenantId: 't', occurredAt: 'x', actor: { userId: 'u', role: 'rep' }, entity: { type: 'account', id: 'a' } };
    const data = { id: 'a', version: 1, ownerId: 'u', ownerTeamId: null };
    expect(() => parseEvent({ ...base, data })).not.toThrow();
    expect(() => parseEvent({ ...base, data: { ...data, id: undefined } })).toThrow();
    expect(() => parseEvent({ ...base, data: { id: 'a', version: 1 } }), 'v2 names the owner and its team').toThrow();
    expect(() => parseEvent({ ...base, type: 'account.exploded', data: {} })).toThrow();
    expect(() => parseEvent({ ...base, version: 1, data }), 'an older version of the event').toThrow();
  });
});
