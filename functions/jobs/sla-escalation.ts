/** Job: ticket SLA breaches and warnings, every minute (events/schedules.ts), for all tenants, as of the scheduled time. */
import type { Context } from 'aws-lambda';
import { runSlaEscalation } from '#domain/service/sla-escalation.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runSlaEscalation({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
