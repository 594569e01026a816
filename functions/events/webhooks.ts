/**
 * Consumer: every domain event → signed deliveries to the tenant's subscribed webhooks
 * (domain/integrations/webhook-deliveries.ts). Redelivery is harmless: one delivery per event per
 * webhook; receivers' failures are recorded on the deliveries and retried by `webhook-retry`.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { fanOutEvent } from '#domain/integrations/webhook-deliveries.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await fanOutEvent(parseEvent(event.detail));
}
