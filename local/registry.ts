/**
 * The handlers the local runtime calls, by the names the route, schedule and consumer
 * tables use. The types make a missing entry a compile error, so a new function in a
 * table cannot be forgotten here.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { HttpFunctionName } from '#functions/routes.ts';

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
export type JobHandler = (event: { now?: string }) => Promise<{ job: string; processed: number; [k: string]: unknown }>;
export type ConsumerHandler = (event: { id: string; 'detail-type': string; source: string; detail: unknown }) => Promise<void>;

export const httpHandlers: Record<HttpFunctionName, () => Promise<{ handler: HttpHandler }>> = {
  accounts: () => import('#functions/http/accounts.ts') as Promise<{ handler: HttpHandler }>,
  contacts: () => import('#functions/http/contacts.ts') as Promise<{ handler: HttpHandler }>,
  activities: () => import('#functions/http/activities.ts') as Promise<{ handler: HttpHandler }>,
  tasks: () => import('#functions/http/tasks.ts') as Promise<{ handler: HttpHandler }>,
  users: () => import('#functions/http/users.ts') as Promise<{ handler: HttpHandler }>,
  pool: () => import('#functions/http/pool.ts') as Promise<{ handler: HttpHandler }>,
  notifications: () => import('#functions/http/notifications.ts') as Promise<{ handler: HttpHandler }>,
  duplicates: () => import('#functions/http/duplicates.ts') as Promise<{ handler: HttpHandler }>,
  leads: () => import('#functions/http/leads.ts') as Promise<{ handler: HttpHandler }>,
  quotes: () => import('#functions/http/quotes.ts') as Promise<{ handler: HttpHandler }>,
  orders: () => import('#functions/http/orders.ts') as Promise<{ handler: HttpHandler }>,
  targets: () => import('#functions/http/targets.ts') as Promise<{ handler: HttpHandler }>,
  pipelines: () => import('#functions/http/pipelines.ts') as Promise<{ handler: HttpHandler }>,
  opportunities: () => import('#functions/http/opportunities.ts') as Promise<{ handler: HttpHandler }>,
  analytics: () => import('#functions/http/analytics.ts') as Promise<{ handler: HttpHandler }>,
  campaigns: () => import('#functions/http/campaigns.ts') as Promise<{ handler: HttpHandler }>,
  public: () => import('#functions/http/public.ts') as Promise<{ handler: HttpHandler }>,
  fields: () => import('#functions/http/fields.ts') as Promise<{ handler: HttpHandler }>,
  suppressions: () => import('#functions/http/suppressions.ts') as Promise<{ handler: HttpHandler }>,
  segments: () => import('#functions/http/segments.ts') as Promise<{ handler: HttpHandler }>,
  workflows: () => import('#functions/http/workflows.ts') as Promise<{ handler: HttpHandler }>,
  kb: () => import('#functions/http/kb.ts') as Promise<{ handler: HttpHandler }>,
  surveys: () => import('#functions/http/surveys.ts') as Promise<{ handler: HttpHandler }>,
  tickets: () => import('#functions/http/tickets.ts') as Promise<{ handler: HttpHandler }>,
  imports: () => import('#functions/http/imports.ts') as Promise<{ handler: HttpHandler }>,
};

export const jobHandlers: Record<string, () => Promise<{ handler: JobHandler }>> = {
  'outbox-sweep': () => import('#functions/jobs/outbox-sweep.ts'),
  'pool-release': () => import('#functions/jobs/pool-release.ts'),
  'task-reminders': () => import('#functions/jobs/task-reminders.ts'),
  'forecast-nightly': () => import('#functions/jobs/forecast-nightly.ts'),
  'campaign-dispatch': () => import('#functions/jobs/campaign-dispatch.ts'),
  'workflow-runner': () => import('#functions/jobs/workflow-runner.ts'),
  'sla-escalation': () => import('#functions/jobs/sla-escalation.ts'),
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
  imports: () => import('#functions/events/imports.ts'),
};
