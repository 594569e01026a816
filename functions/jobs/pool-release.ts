/**
 * Job: the public pool's releases and reminders, every 15 minutes (events/schedules.ts), for
 * all tenants, as of the scheduled time (`{"now"}`). Within a Lambda it stops before its time
 * runs out and the next run resumes; locally it runs to completion.
 */
import type { Context } from 'aws-lambda';
import { runPoolRelease } from '#domain/pool/release-job.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runPoolRelease({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
