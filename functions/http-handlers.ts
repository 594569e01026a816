/**
 * Every HTTP function's handler, loaded on first use, by the names of functions/routes.ts.
 * The local runtime calls them (local/registry.ts), and the `docs` function reads their
 * operations to build the OpenAPI document. The type makes a missing entry a compile error,
 * so a new function in the route table cannot be forgotten here.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { HttpFunctionName } from '#functions/routes.ts';

export type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
/** A handler module: its handler, which also exposes its operations keyed by route key (httpFunction, publicFunction, docs). */
export type HttpHandlerModule = { handler: HttpHandler & { operations?: Record<string, unknown> } };

type Load = () => Promise<HttpHandlerModule>;

export const httpHandlers: Record<HttpFunctionName, Load> = {
  accounts: () => import('#functions/http/accounts.ts') as Promise<HttpHandlerModule>,
  contacts: () => import('#functions/http/contacts.ts') as Promise<HttpHandlerModule>,
  activities: () => import('#functions/http/activities.ts') as Promise<HttpHandlerModule>,
  tasks: () => import('#functions/http/tasks.ts') as Promise<HttpHandlerModule>,
  users: () => import('#functions/http/users.ts') as Promise<HttpHandlerModule>,
  pool: () => import('#functions/http/pool.ts') as Promise<HttpHandlerModule>,
  notifications: () => import('#functions/http/notifications.ts') as Promise<HttpHandlerModule>,
  duplicates: () => import('#functions/http/duplicates.ts') as Promise<HttpHandlerModule>,
  leads: () => import('#functions/http/leads.ts') as Promise<HttpHandlerModule>,
  quotes: () => import('#functions/http/quotes.ts') as Promise<HttpHandlerModule>,
  orders: () => import('#functions/http/orders.ts') as Promise<HttpHandlerModule>,
  targets: () => import('#functions/http/targets.ts') as Promise<HttpHandlerModule>,
  pipelines: () => import('#functions/http/pipelines.ts') as Promise<HttpHandlerModule>,
  opportunities: () => import('#functions/http/opportunities.ts') as Promise<HttpHandlerModule>,
  analytics: () => import('#functions/http/analytics.ts') as Promise<HttpHandlerModule>,
  campaigns: () => import('#functions/http/campaigns.ts') as Promise<HttpHandlerModule>,
  public: () => import('#functions/http/public.ts') as Promise<HttpHandlerModule>,
  intake: () => import('#functions/http/intake.ts') as Promise<HttpHandlerModule>,
  fields: () => import('#functions/http/fields.ts') as Promise<HttpHandlerModule>,
  suppressions: () => import('#functions/http/suppressions.ts') as Promise<HttpHandlerModule>,
  segments: () => import('#functions/http/segments.ts') as Promise<HttpHandlerModule>,
  workflows: () => import('#functions/http/workflows.ts') as Promise<HttpHandlerModule>,
  kb: () => import('#functions/http/kb.ts') as Promise<HttpHandlerModule>,
  surveys: () => import('#functions/http/surveys.ts') as Promise<HttpHandlerModule>,
  tickets: () => import('#functions/http/tickets.ts') as Promise<HttpHandlerModule>,
  forms: () => import('#functions/http/forms.ts') as Promise<HttpHandlerModule>,
  webhooks: () => import('#functions/http/webhooks.ts') as Promise<HttpHandlerModule>,
  'api-keys': () => import('#functions/http/api-keys.ts') as Promise<HttpHandlerModule>,
  imports: () => import('#functions/http/imports.ts') as Promise<HttpHandlerModule>,
  docs: () => import('#functions/http/docs.ts') as Promise<HttpHandlerModule>,
};
