/** Job: the delayed workflow runs due by `now`, every minute (events/schedules.ts), for all tenants. */
import type { Context } from 'aws-lambda';
import { runWorkflowRunner } from '#domain/marketing/workflow-engine.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runWorkflowRunner({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
