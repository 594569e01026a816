/** Consumer: `kb.article.*` → the knowledge-base search index (domain/service/kb-index.ts). Redelivery and disorder are harmless. */
import type { EventBridgeEvent } from 'aws-lambda';
import { applyKbEvent } from '#domain/service/kb-index.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await applyKbEvent(parseEvent(event.detail));
}
