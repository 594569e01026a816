/** Consumer: `ticket.solved` → the requester's one CSAT email (domain/service/surveys-csat.ts). Redelivery sends nothing more. */
import type { EventBridgeEvent } from 'aws-lambda';
import { sendCsatInvitation } from '#domain/service/surveys-csat.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await sendCsatInvitation(parseEvent(event.detail));
}
