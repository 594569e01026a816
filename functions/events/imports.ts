/** Consumer: `import.created` → the import's background run (domain/integrations/import-runner.ts); the import-runner job resumes what it leaves. */
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { parseEvent } from '#events/catalog.ts';
import { runImport } from '#domain/integrations/import-runner.ts';

export async function handler(event: Pick<EventBridgeEvent<string, unknown>, 'detail'>, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<void> {
  const e = parseEvent(event.detail);
  if (e.type !== 'import.created') return;
  await runImport(e.tenantId, e.entity.id, {
    now: new Date(),
    ...(context?.getRemainingTimeInMillis ? { timeLeftMs: () => context.getRemainingTimeInMillis() } : {}),
  });
}
