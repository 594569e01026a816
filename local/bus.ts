/**
 * The in-process event bus: what EventBridge rules do in the cloud. Each consumer in
 * events/consumers.ts gets the events it subscribes to, in an EventBridge-shaped
 * envelope. A consumer that throws fails the delivery, which stays pending in the
 * outbox and is retried; consumers are idempotent, so the ones that succeeded the first
 * time are not harmed by the retry.
 */
import type { DomainEvent } from '#events/catalog.ts';
import { consumers, EVENT_SOURCE } from '#events/consumers.ts';
import type { EventPublisher } from '#events/publisher.ts';
import { consumerHandlers, type ConsumerHandler } from '#local/registry.ts';

export function inProcessPublisher(
  load: (name: string) => Promise<ConsumerHandler> = async (name) => (await consumerHandlers[name]!()).handler,
): EventPublisher {
  return {
    async publish(events: DomainEvent[]) {
      const failedIds: string[] = [];
      for (const event of events) {
        const targets = consumers.filter((c) => c.eventTypes.includes(event.type));
        try {
          for (const consumer of targets) {
            const handler = await load(consumer.name);
            await handler({ id: event.id, 'detail-type': event.type, source: EVENT_SOURCE, detail: event });
          }
        } catch {
          failedIds.push(event.id);
        }
      }
      return { failedIds };
    },
  };
}
