/** Consumer: leads, conversions and won amounts of campaigns (domain/marketing/stats-consumer.ts). Redelivery is harmless. */
import type { EventBridgeEvent } from 'aws-lambda';
import { applyCampaignStatsEvent } from '#domain/marketing/stats-consumer.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await applyCampaignStatsEvent(parseEvent(event.detail));
}
