/** Consumer: trigger events → workflow runs (domain/marketing/workflow-engine.ts). Redelivery is harmless: at most one run per event per workflow. */
import type { EventBridgeEvent } from 'aws-lambda';
import { applyWorkflowEvent } from '#domain/marketing/workflow-engine.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await applyWorkflowEvent(parseEvent(event.detail));
}
