/** Job: delivers every outbox event still pending (a failed first delivery), for all tenants. */
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';

export async function handler(event: { now?: string } = {}) {
  const now = event.now ? new Date(event.now) : new Date();
  const report = await deliverPending(publisher(), now);
  return { job: 'outbox-sweep', processed: report.delivered, failed: report.failedIds.length };
}
