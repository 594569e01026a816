/** Consumer: EventBridge (or the local bus) → the audit trail. Redelivery is harmless. */
import type { EventBridgeEvent } from 'aws-lambda';
import { recordAuditEntry } from '#domain/audit/audit-log.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await recordAuditEntry(parseEvent(event.detail));
}
