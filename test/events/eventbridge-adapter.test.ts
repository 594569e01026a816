/** The EventBridge edge adapter: the only mocked part is the AWS client; its request shape is checked. */
import { describe, expect, it } from 'vitest';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { DomainEvent } from '#events/catalog.ts';
import { eventBridgePublisher } from '#events/publisher.ts';

const event = (i: number): DomainEvent => ({
  id: `01J${String(i).padStart(23, '0')}`,
  type: 'account.created',
  version: 1,
  tenantId: 'acme',
  occurredAt: '2026-11-23T01:02:03.000Z',
  actor: { userId: 'alice', role: 'rep' },
  entity: { type: 'account', id: `a${i}` },
  data: { id: `a${i}`, version: 1, name: '星辰' },
});

describe('eventBridgePublisher', () => {
  it('sends PutEvents in batches of at most 10 with source, detail-type, time and the whole event as detail', async () => {
    const sent: PutEventsCommand[] = [];
    const client = {
      send: async (cmd: PutEventsCommand) => {
        sent.push(cmd);
        return { FailedEntryCount: 0, Entries: cmd.input.Entries!.map((_, j) => ({ EventId: `e${j}` })) };
      },
    };
    const events = Array.from({ length: 23 }, (_, i) => event(i));
    const out = await eventBridgePublisher(client as never, 'crm-events').publish(events);
    expect(out.failedIds).toEqual([]);
    expect(sent.map((c) => c.input.Entries!.length)).toEqual([10, 10, 3]);
    const first = sent[0]!.input.Entries![0]!;
    expect(first).toMatchObject({ EventBusName: 'crm-events', Source: 'crm', DetailType: 'account.created' });
    expect(first.Time).toEqual(new Date('2026-11-23T01:02:03.000Z'));
    expect(JSON.parse(first.Detail!)).toEqual(events[0]);
  });

  it('reports entries EventBridge rejected, and whole batches whose call failed', async () => {
    let call = 0;
    const client = {
      send: async (cmd: PutEventsCommand) => {
        call++;
        if (call === 2) throw new Error('throttled');
        return {
          FailedEntryCount: 1,
          Entries: cmd.input.Entries!.map((_, j) => (j === 1 ? { ErrorCode: 'InternalFailure' } : { EventId: `e${j}` })),
        };
      },
    };
    const events = Array.from({ length: 12 }, (_, i) => event(i));
    const out = await eventBridgePublisher(client as never, 'crm-events').publish(events);
    expect(out.failedIds).toEqual([events[1]!.id, events[10]!.id, events[11]!.id]);
  });
});
