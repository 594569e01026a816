/** Consumer: `task.created` / `task.updated` → a `task.assigned` notification for the new assignee. Redelivery is harmless. */
import type { EventBridgeEvent } from 'aws-lambda';
import { notifyTaskAssigned } from '#domain/notifications/tasks.ts';
import { parseEvent } from '#events/catalog.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>): Promise<void> {
  await notifyTaskAssigned(parseEvent(event.detail));
}
