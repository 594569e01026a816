/** Job: webhook delivery attempts due by `now`, every minute (events/schedules.ts), for all tenants. */
import type { Context } from 'aws-lambda';
import { runWebhookRetry } from '#domain/integrations/webhook-deliveries.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runWebhookRetry({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
