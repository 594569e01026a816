/** Job: one forecast snapshot per tenant per local day (events/schedules.ts), as of `{"now"}`. */
import type { Context } from 'aws-lambda';
import { runForecastNightly } from '#domain/analytics/snapshots.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runForecastNightly({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
