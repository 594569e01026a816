/** Consumer: `ticket.*` → the service report's rows (domain/service/service-report.ts). Redelivery and disorder are harmless (version-gated). */
import type { EventBridgeEvent } from 'aws-lambda';
import { applyServiceEvent } from '#domain/service/service-report.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await applyServiceEvent(parseEvent(event.detail));
}
