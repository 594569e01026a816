/** Consumer: domain events → the analytics aggregates (domain/analytics/consumer.ts). Redelivery and disorder are harmless. */
import type { EventBridgeEvent } from 'aws-lambda';
import { applyEvent } from '#domain/analytics/consumer.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await applyEvent(parseEvent(event.detail));
}
