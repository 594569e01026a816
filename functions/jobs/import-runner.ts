/** Job: resumes unfinished CSV imports, every minute (events/schedules.ts), for all tenants (domain/integrations/import-runner.ts). */
import type { Context } from 'aws-lambda';
import { runDueImports } from '#domain/integrations/import-runner.ts';

export async function handler(event: { now?: string } = {}, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
  return runDueImports({
    now: event.now ? new Date(event.now) : new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
