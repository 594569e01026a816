/**
 * Injected faults on the way out (issue 11 point 3): a PutEvents that fails entirely (the SDK's
 * retries run out) or in part (FailedEntryCount) loses no event, since the outbox sweep delivers
 * what stayed pending; a mark that fails after EventBridge took the event only delivers it again;
 * and a consumer given an event again, or failing mid-way and then given it again, changes nothing twice.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '#events/catalog.ts';
import { deliver, deliverPending } from '#events/outbox.ts';
import { eventBridgePublisher } from '#events/publisher.ts';
import { db, tableName } from '#domain/table/client.ts';
import { OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import { inProcessPublisher } from '#local/bus.ts';
import { dynamoFaults, fakeEventBridge, type FakeBus } from '#test/support/faults.ts';
import { api, seedRefs, uniq, type Caller } from '#test/support/fixtures.ts';
import { changeShape, tenantItems } from '#test/faults/support.ts';

const T = 'faults-outbox';
const admin: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
let bus: FakeBus;

/** The pending outbox events of one tenant (the sweep's index, every shard). */
async function pending(tenant: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(new QueryCommand({
        TableName: tableName(), IndexName: 'byDue', KeyConditionExpression: 'duePk = :pk', ExpressionAttributeValues: { ':pk': outboxDuePartition(shard) },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }));
      out.push(...(page.Items ?? []).map((i) => i.event as DomainEvent).filter((e) => e.tenantId === tenant));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return out;
}

/** Some changes of a tenant, each with its events, left pending in the outbox (nothing relays them in tests). */
async function someChanges(who: Caller): Promise<void> {
  for (const c of [who, { ...alice, tenant: who.tenant }]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  const refs = await seedRefs(who);
  const a = api(who);
  expect((await a.post('/v1/tasks', { title: uniq('回电'), dueAt: '2030-01-01T00:00:00Z', assigneeId: 'alice', accountId: refs.accountId })).status).toBe(201);
  expect((await a.post('/v1/activities', { type: 'call', subject: uniq('电话'), accountId: refs.accountId })).status).toBe(201);
  expect((await a.post('/v1/opportunities', { accountId: refs.accountId, name: uniq('项目'), amount: 1000, expectedCloseDate: '2030-06-30' })).status).toBe(201);
  expect((await a.post('/v1/leads', { name: uniq('李雷'), company: uniq('线索'), source: 'website' })).status).toBe(201);
  const order = await a.post('/v1/orders', { accountId: refs.accountId, amount: 500, signedAt: '2026-06-30T08:00:00Z' });
  expect(order.status).toBe(201);
  expect((await a.post(`/v1/orders/${order.json.id}/payments`, { amount: 100 })).status).toBe(201);
}

const ids = (events: { id: string }[]) => events.map((e) => e.id).sort();
const receivedIds = (tenant: string) =>
  [...new Set(bus.received.map((e) => JSON.parse(e.Detail!) as DomainEvent).filter((e) => e.tenantId === tenant).map((e) => e.id))].sort();

beforeAll(async () => {
  bus = await fakeEventBridge();
});

describe('outbox relay under EventBridge faults', () => {
  it('PutEvents failing entirely, then in part: nothing is lost, the sweep delivers the rest, each event is received', async () => {
    const tenant = `${T}-bus`;
    await someChanges({ ...admin, tenant });
    const all = await pending(tenant);
    expect(all.length).toBeGreaterThanOrEqual(9);
    const publisher = eventBridgePublisher(bus.client, 'crm-test-bus');

    // Every attempt fails (EventBridge's 500, through the SDK's retries): everything stays pending.
    bus.faults.arm({ kind: 'internal', at: 1 });
    const down = await deliver(all, publisher);
    bus.faults.disarm();
    expect(down.delivered).toBe(0);
    expect(ids(await pending(tenant))).toEqual(ids(all));
    expect(receivedIds(tenant)).toEqual([]);

    // Throttled once: the SDK's retry gets the first batch through; entries 1 and 3 of the second fail.
    bus.faults.arm({ kind: 'throttling', at: 1, times: 1 });
    const firstBatch = all.slice(0, 4);
    await deliver(firstBatch, publisher);
    bus.faults.disarm();
    bus.failEntries([1, 3]);
    const secondBatch = all.slice(4, 8);
    const partly = await deliver(secondBatch, publisher);
    expect(partly.failedIds.sort()).toEqual(ids([secondBatch[1]!, secondBatch[3]!].filter(Boolean)));
    const left = await pending(tenant);
    expect(ids(left)).toEqual(ids(all.slice(8).concat(partly.failedIds.map((id) => all.find((e) => e.id === id)!))));

    // The sweep delivers what is left; afterwards nothing is pending and every event was received.
    await deliverPending(publisher);
    expect(await pending(tenant)).toEqual([]);
    expect(receivedIds(tenant)).toEqual(ids(all));
  });

  it('marking delivered fails after EventBridge took the events: they stay pending and go again (at least once, never lost)', async () => {
    const tenant = `${T}-mark`;
    await someChanges({ ...admin, tenant });
    const all = await pending(tenant);
    const publisher = eventBridgePublisher(bus.client, 'crm-test-bus');
    const faults = dynamoFaults();
    faults.arm({ kind: 'throughput', at: 1, operations: ['UpdateItem'] });
    await expect(deliver(all, publisher)).rejects.toThrow();
    faults.disarm();
    expect(receivedIds(tenant)).toEqual(ids(all));
    expect(ids(await pending(tenant))).toEqual(ids(all));
    await deliverPending(publisher);
    expect(await pending(tenant)).toEqual([]);
  });
});

describe('consumers under redelivery and faults', () => {
  it('every consumer given every event twice changes nothing the second time', async () => {
    const tenant = `${T}-twice`;
    await someChanges({ ...admin, tenant });
    const events = await pending(tenant);
    const local = inProcessPublisher();
    expect((await local.publish(events)).failedIds).toEqual([]);
    const once = await tenantItems(tenant);
    expect((await local.publish(events)).failedIds).toEqual([]);
    expect(changeShape(once, await tenantItems(tenant))).toEqual([]);
  });

  it('a consumer failing mid-way (a fault at each of its DynamoDB calls in turn), given the event again, ends as if it never failed', async () => {
    // The twin: every event delivered once without a fault shows the whole effect.
    const twin = `${T}-twin`;
    await someChanges({ ...admin, tenant: twin });
    const twinEvents = await pending(twin);
    const local = inProcessPublisher();
    const faults = dynamoFaults();
    const twinBefore = await tenantItems(twin);
    faults.countCalls();
    expect((await local.publish(twinEvents)).failedIds).toEqual([]);
    const calls = faults.calls;
    faults.disarm();
    const whole = changeShape(twinBefore, await tenantItems(twin));
    expect(calls).toBeGreaterThan(5);

    const tenant = `${T}-faulted`;
    await someChanges({ ...admin, tenant });
    const events = await pending(tenant);
    const before = await tenantItems(tenant);
    // A lasting fault from the middle of the run on: some consumers' work is done, the rest fails.
    faults.arm({ kind: 'internal', at: Math.ceil(calls / 2) });
    const failed = (await local.publish(events)).failedIds;
    faults.disarm();
    expect(failed.length).toBeGreaterThan(0);
    // The sweep's redelivery of everything still pending (at least once: the failed ones, and here all of them).
    expect((await local.publish(events)).failedIds).toEqual([]);
    expect(changeShape(before, await tenantItems(tenant))).toEqual(whole);
  });
});
