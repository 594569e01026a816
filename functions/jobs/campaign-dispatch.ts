/**
 * Job: campaign sending, every minute (events/schedules.ts), as of the scheduled time
 * (`{"now"}`). Within a Lambda it stops before its time runs out and the next run goes on;
 * locally it runs to completion (domain/marketing/dispatch.ts).
 */
import type { Context } from 'aws-lambda';
import { runCampaignDispatch } from '#domain/marketing/dispatch.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runCampaignDispatch({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
