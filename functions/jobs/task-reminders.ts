/** Job: `task.due` notifications shortly before each open task's `dueAt` (events/schedules.ts), for all tenants. */
import type { Context } from 'aws-lambda';
import { runTaskReminders } from '#domain/notifications/tasks.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runTaskReminders({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
