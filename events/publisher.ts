/**
 * Where domain events go: the EventBridge bus in the cloud, the in-process bus locally.
 * Chosen once by configuration (the local runtime and tests install theirs with
 * `usePublisher`); nothing in the domain knows which one it is talking to.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type DomainEvent } from '#events/catalog.ts';

export interface EventPublisher {
  /** Publishes a batch; answers the ids that did NOT get through (they stay pending and are retried). */
  publish(events: DomainEvent[]): Promise<{ failedIds: string[] }>;
}

let current: EventPublisher | undefined;

export function usePublisher(publisher: EventPublisher): void {
  current = publisher;
}

export function publisher(): EventPublisher {
  if (!current) {
    const bus = process.env.EVENT_BUS_NAME;
    if (!bus) throw new Error('EVENT_BUS_NAME is not set and no local publisher is installed');
    current = eventBridgePublisher(new EventBridgeClient({}), bus);
  }
  return current;
}

/** PutEvents takes at most 10 entries a call. */
const PUT_EVENTS_BATCH = 10;

export function toPutEventsEntry(event: DomainEvent, busName: string): PutEventsRequestEntry {
  return {
    EventBusName: busName,
    Source: EVENT_SOURCE,
    DetailType: event.type,
    Time: new Date(event.occurredAt),
    Detail: JSON.stringify(event),
    Resources: [],
  };
}

export function eventBridgePublisher(client: Pick<EventBridgeClient, 'send'>, busName: string): EventPublisher {
  return {
    async publish(events) {
      const failedIds: string[] = [];
      for (let i = 0; i < events.length; i += PUT_EVENTS_BATCH) {
        const batch = events.slice(i, i + PUT_EVENTS_BATCH);
        try {
          const out = await client.send(new PutEventsCommand({ Entries: batch.map((e) => toPutEventsEntry(e, busName)) }));
          // Entries answer in request order; an entry with an ErrorCode did not get through.
          (out.Entries ?? []).forEach((entry, j) => {
            if (entry.ErrorCode || !entry.EventId) failedIds.push(batch[j]!.id);
          });
          if ((out.Entries ?? []).length < batch.length) failedIds.push(...batch.slice(out.Entries?.length ?? 0).map((e) => e.id));
        } catch {
          failedIds.push(...batch.map((e) => e.id));
        }
      }
      return { failedIds };
    },
  };
}
