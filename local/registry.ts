/**
 * The handlers the local runtime calls, by the names the route, schedule and consumer
 * tables use. The types make a missing entry a compile error, so a new function in a
 * table cannot be forgotten here.
 */
// The HTTP handlers are the product's own table (the docs function reads it too).
export { httpHandlers } from '#functions/http-handlers.ts';

export type JobHandler = (event: { now?: string }) => Promise<{ job: string; processed: number; [k: string]: unknown }>;
export type ConsumerHandler = (event: { id: string; 'detail-type': string; source: string; detail: unknown }) => Promise<void>;

export const jobHandlers: Record<string, () => Promise<{ handler: JobHandler }>> = {
  'outbox-sweep': () => import('#functions/jobs/outbox-sweep.ts'),
  'pool-release': () => import('#functions/jobs/pool-release.ts'),
  'task-reminders': () => import('#functions/jobs/task-reminders.ts'),
  'forecast-nightly': () => import('#functions/jobs/forecast-nightly.ts'),
  'campaign-dispatch': () => import('#functions/jobs/campaign-dispatch.ts'),
  'workflow-runner': () => import('#functions/jobs/workflow-runner.ts'),
  'sla-escalation': () => import('#functions/jobs/sla-escalation.ts'),
  'webhook-retry': () => import('#functions/jobs/webhook-retry.ts'),
  'import-runner': () => import('#functions/jobs/import-runner.ts'),
};

export const consumerHandlers: Record<string, () => Promise<{ handler: ConsumerHandler }>> = {
  'audit-log': () => import('#functions/events/audit-log.ts'),
  'task-notifications': () => import('#functions/events/task-notifications.ts'),
  analytics: () => import('#functions/events/analytics.ts'),
  'campaign-stats': () => import('#functions/events/campaign-stats.ts'),
  workflows: () => import('#functions/events/workflows.ts'),
  'kb-index': () => import('#functions/events/kb-index.ts'),
  surveys: () => import('#functions/events/surveys.ts'),
  'service-report': () => import('#functions/events/service-report.ts'),
  webhooks: () => import('#functions/events/webhooks.ts'),
  imports: () => import('#functions/events/imports.ts'),
};
