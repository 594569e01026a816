/**
 * The one route table. The CDK API stack (infra/api-stack.ts) and the local runtime both read it,
 * so the cloud API and `npm start` can never serve different routes.
 * Each route names the HTTP function (one Lambda per resource group) and the
 * operation inside that function's handler (`functions/http/<fn>.ts`).
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route {
  method: HttpMethod;
  path: string;
  fn: HttpFunctionName;
  /**
   * No bearer token: no authorizer in the cloud, no token check in local/router.ts.
   * Only for routes that prove themselves by a signed token in the path (unsubscribe,
   * tracking, surveys) or a signature of their body (inbound forms), served by the `public` function, and for the
   * API's own reference (the OpenAPI document and the /docs page), served by `docs`.
   */
  public?: true;
}

/** DynamoDB actions a function may use; the stack grants exactly these on the table and its indexes. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:ConditionCheckItem'
  | 'dynamodb:BatchWriteItem';

const READ: TableAction[] = ['dynamodb:GetItem', 'dynamodb:Query'];
const WRITE: TableAction[] = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem'];

/**
 * Every HTTP function: its entry file is functions/http/<name>.ts and it exports `handler`.
 * Every function with an identity needs at least GetItem (its tenant's rate limits, cached a minute)
 * and UpdateItem (the users directory, a key's lastUsedAt, the rate-limit counters' leases).
 */
export const httpFunctions = {
  accounts: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  contacts: { tableActions: [...READ, ...WRITE] },
  activities: { tableActions: [...READ, ...WRITE] },
  tasks: { tableActions: [...READ, ...WRITE] },
  users: { tableActions: [...READ, 'dynamodb:UpdateItem'] },
  // Claims, assignments, releases and locks read the account and the rules in one BatchGetItem.
  pool: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  notifications: { tableActions: [...READ, 'dynamodb:UpdateItem'] },
  // The users directory write of every request, and the search's two BatchGetItems; the rate limits (GetItem).
  duplicates: { tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'] },
  leads: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  quotes: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'] },
  orders: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'] },
  targets: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem'] },
  pipelines: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] },
  opportunities: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  // Reads aggregate rows; writes only the users directory, the tenant's rules registry and,
  // on a tenant's very first request, its default pipeline (the funnel's default).
  analytics: { tableActions: [...READ, 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'] },
  // Marketing audience (api/marketing.md): field definitions, the suppression list, segments.
  fields: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem'] },
  suppressions: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] },
  // Members and counts read a page of contacts and their accounts in one BatchGetItem.
  segments: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem'] },
  // Workflows: one partition of the tenant's workflows plus their trigger-index copies (one transaction), runs (Query),
  // the directory check of named users (GetItem).
  workflows: { tableActions: [...READ, ...WRITE] },
  // Campaigns (CRUD, actions, recipients) and the marketing settings. The campaign and its
  // stats are one BatchGetItem; a change is one transaction (Put + outbox Put).
  campaigns: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  // The public token routes (unsubscribe, open pixel, click redirect, surveys): no identity. They read the
  // campaign and recipient (BatchGetItem), write the recipient, its counter and the outbox in one
  // transaction, and the suppression list.
  public: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'], marketing: true },
  // Inbound forms (public, signed): the form's pointer (GetItem, outside any tenant: infra/api-stack.ts),
  // the form and the receipt, then the duplicate guards (BatchGetItems), the owner's directory entry
  // (GetItem), one transaction (lead, note, guards, receipt, outbox; a ConditionCheck of a matched record).
  // `secrets: 'open'`: a form's sealed signing secret (KMS Decrypt, domain/secrets/envelope.ts).
  intake: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'], secrets: 'open' },
  // Inbound forms (api/integrations.md), admin only: the form and its public pointer in one transaction
  // (Put / Delete), the directory and campaign checks of what a form names (GetItem), the list (Query).
  // `sharedKeys`: the public pointer `FORM#<id>` lies outside the tenant (domain/table/tenant-scope.ts).
  forms: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], sharedKeys: ['formPointer'], secrets: 'seal' },
  // Knowledge base: an article's two items and its event (one transaction); reads by BatchGetItem
  // (article + body; a search page's articles, and postings checked by key).
  kb: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  // NPS surveys (domain/service/surveys-nps.ts): the survey and its stats (BatchGetItem), the segment check;
  // and the service report (domain/service/service-report.ts: one BatchGetItem of its rows).
  surveys: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  // Tickets (api/service.md): a create reads policy, counter, account, contact and assignee in one BatchGetItem;
  // lists of reps and managers read each page's accounts in one BatchGetItem. The SLA policy routes live here too.
  tickets: { tableActions: [...READ, ...WRITE, 'dynamodb:BatchGetItem'] },
  // The OpenAPI document and the reference page (functions/http/docs.ts): no table access; it reads
  // the document and the renderer's files from the stack's S3 assets (functions/openapi/assets.ts).
  docs: { tableActions: [], docsAssets: true },
  // Outbound webhooks (api/integrations.md): one partition of the tenant's webhooks (Get, Query, conditional
  // Put / Delete), deliveries (Query); a manual retry claims (Update), sends, and records the outcome
  // (Update; in a transaction with an Idempotency-Key) and, on a 410, disables the webhook (Update).
  // It waits for the receiver (up to 10 s), hence its longer timeout.
  // `secrets: 'seal'`: seals and opens signing secrets (KMS GenerateDataKey and Decrypt, domain/secrets/envelope.ts).
  webhooks: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], timeoutSeconds: 25, secrets: 'seal' },
  // API keys (api/integrations.md): a create or delete is one transaction of the record, its lookup
  // item and the event (Put / Delete); reads by GetItem and the byType Query; UpdateItem, as in every
  // function with an identity: the users directory and a key caller's lastUsedAt. Also the tenant's
  // rate limits (`/v1/rate-limits`: GetItem, a conditional Put).
  // `sharedKeys`: the lookup item `APIKEY#<hash>` lies outside the tenant (domain/table/tenant-scope.ts).
  'api-keys': { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], sharedKeys: ['apiKeyLookup'] },
  // CSV imports and exports (api/integrations.md): an import's row chunks (BatchWriteItem), the import and its
  // event (one transaction), the custom field definitions (GetItem); exports page through the list use cases
  // (Query, and the pool rules and a page's records by GetItem / BatchGetItem). `importUploads`: the uploads
  // bucket (presigns PUTs, reads the uploaded file back; writes a large export and presigns its GET;
  // infra/api-stack.ts). UpdateItem: the users directory, a key caller's lastUsedAt and the rate-limit
  // counters, as in every function with an identity.
  imports: { tableActions: [...READ, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem'], importUploads: true },
} satisfies Record<
  string,
  {
    tableActions: TableAction[];
    marketing?: boolean;
    docsAssets?: boolean;
    timeoutSeconds?: number;
    maxBodyBytes?: number;
    importUploads?: boolean;
    /** Keys outside any tenant its requests touch in a tenant's scope (domain/table/tenant-scope.ts SHARED_KEY_PREFIXES). */
    sharedKeys?: ('apiKeyLookup' | 'formPointer')[];
    /** Per-tenant signing secrets under the KMS secrets key: seals (and opens) them, or only opens them. */
    secrets?: 'seal' | 'open';
  }
>;

export type HttpFunctionName = keyof typeof httpFunctions;

export const routes: Route[] = [
  { method: 'POST', path: '/v1/accounts', fn: 'accounts' },
  { method: 'GET', path: '/v1/accounts', fn: 'accounts' },
  { method: 'GET', path: '/v1/accounts/{id}', fn: 'accounts' },
  { method: 'PATCH', path: '/v1/accounts/{id}', fn: 'accounts' },
  { method: 'DELETE', path: '/v1/accounts/{id}', fn: 'accounts' },
  { method: 'GET', path: '/v1/accounts/{id}/360', fn: 'accounts' },
  { method: 'POST', path: '/v1/accounts/{id}/merge', fn: 'accounts' },
  { method: 'GET', path: '/v1/duplicates', fn: 'duplicates' },

  { method: 'POST', path: '/v1/contacts', fn: 'contacts' },
  { method: 'GET', path: '/v1/contacts', fn: 'contacts' },
  { method: 'GET', path: '/v1/contacts/{id}', fn: 'contacts' },
  { method: 'PATCH', path: '/v1/contacts/{id}', fn: 'contacts' },
  { method: 'DELETE', path: '/v1/contacts/{id}', fn: 'contacts' },

  { method: 'POST', path: '/v1/activities', fn: 'activities' },
  { method: 'GET', path: '/v1/activities', fn: 'activities' },
  { method: 'GET', path: '/v1/activities/{id}', fn: 'activities' },
  { method: 'PATCH', path: '/v1/activities/{id}', fn: 'activities' },
  { method: 'DELETE', path: '/v1/activities/{id}', fn: 'activities' },

  { method: 'POST', path: '/v1/tasks', fn: 'tasks' },
  { method: 'GET', path: '/v1/tasks', fn: 'tasks' },
  { method: 'GET', path: '/v1/tasks/{id}', fn: 'tasks' },
  { method: 'PATCH', path: '/v1/tasks/{id}', fn: 'tasks' },
  { method: 'DELETE', path: '/v1/tasks/{id}', fn: 'tasks' },

  { method: 'GET', path: '/v1/users', fn: 'users' },

  { method: 'GET', path: '/v1/pool', fn: 'pool' },
  { method: 'GET', path: '/v1/pool/rules', fn: 'pool' },
  { method: 'PUT', path: '/v1/pool/rules', fn: 'pool' },
  { method: 'POST', path: '/v1/pool/{id}/claim', fn: 'pool' },
  { method: 'POST', path: '/v1/pool/{id}/assign', fn: 'pool' },
  { method: 'POST', path: '/v1/accounts/{id}/release', fn: 'pool' },
  { method: 'POST', path: '/v1/accounts/{id}/lock', fn: 'pool' },
  { method: 'POST', path: '/v1/accounts/{id}/unlock', fn: 'pool' },

  { method: 'GET', path: '/v1/notifications', fn: 'notifications' },
  { method: 'GET', path: '/v1/notifications/{id}', fn: 'notifications' },
  { method: 'POST', path: '/v1/notifications/{id}/read', fn: 'notifications' },

  { method: 'POST', path: '/v1/leads', fn: 'leads' },
  { method: 'GET', path: '/v1/leads', fn: 'leads' },
  { method: 'GET', path: '/v1/leads/{id}', fn: 'leads' },
  { method: 'PATCH', path: '/v1/leads/{id}', fn: 'leads' },
  { method: 'DELETE', path: '/v1/leads/{id}', fn: 'leads' },
  { method: 'POST', path: '/v1/leads/{id}/convert', fn: 'leads' },

  { method: 'POST', path: '/v1/opportunities/{id}/quotes', fn: 'quotes' },
  { method: 'GET', path: '/v1/opportunities/{id}/quotes', fn: 'quotes' },
  { method: 'GET', path: '/v1/quotes/{id}', fn: 'quotes' },
  { method: 'PATCH', path: '/v1/quotes/{id}', fn: 'quotes' },
  { method: 'POST', path: '/v1/quotes/{id}/send', fn: 'quotes' },
  { method: 'POST', path: '/v1/quotes/{id}/accept', fn: 'quotes' },
  { method: 'POST', path: '/v1/quotes/{id}/reject', fn: 'quotes' },
  { method: 'POST', path: '/v1/quotes/{id}/order', fn: 'quotes' },

  { method: 'POST', path: '/v1/orders', fn: 'orders' },
  { method: 'GET', path: '/v1/orders', fn: 'orders' },
  { method: 'GET', path: '/v1/orders/{id}', fn: 'orders' },
  { method: 'PATCH', path: '/v1/orders/{id}', fn: 'orders' },
  { method: 'POST', path: '/v1/orders/{id}/payments', fn: 'orders' },
  { method: 'GET', path: '/v1/orders/{id}/payments', fn: 'orders' },

  { method: 'PUT', path: '/v1/targets/{period}', fn: 'targets' },
  { method: 'GET', path: '/v1/targets/{period}', fn: 'targets' },

  { method: 'GET', path: '/v1/pipelines', fn: 'pipelines' },
  { method: 'POST', path: '/v1/pipelines', fn: 'pipelines' },
  { method: 'GET', path: '/v1/pipelines/{id}', fn: 'pipelines' },
  { method: 'PATCH', path: '/v1/pipelines/{id}', fn: 'pipelines' },
  { method: 'DELETE', path: '/v1/pipelines/{id}', fn: 'pipelines' },

  { method: 'POST', path: '/v1/opportunities', fn: 'opportunities' },
  { method: 'GET', path: '/v1/opportunities', fn: 'opportunities' },
  { method: 'GET', path: '/v1/opportunities/{id}', fn: 'opportunities' },
  { method: 'PATCH', path: '/v1/opportunities/{id}', fn: 'opportunities' },
  { method: 'DELETE', path: '/v1/opportunities/{id}', fn: 'opportunities' },
  { method: 'GET', path: '/v1/opportunities/{id}/history', fn: 'opportunities' },

  { method: 'GET', path: '/v1/dashboard', fn: 'analytics' },
  { method: 'GET', path: '/v1/reports/funnel', fn: 'analytics' },
  { method: 'GET', path: '/v1/forecast', fn: 'analytics' },
  { method: 'GET', path: '/v1/forecast/snapshots', fn: 'analytics' },
  { method: 'GET', path: '/v1/forecast/accuracy', fn: 'analytics' },

  { method: 'GET', path: '/v1/fields/{entity}', fn: 'fields' },
  { method: 'PUT', path: '/v1/fields/{entity}', fn: 'fields' },

  // `{id}` of a suppression is its normalized email address (domain/marketing/suppressions.ts).
  { method: 'GET', path: '/v1/suppressions', fn: 'suppressions' },
  { method: 'POST', path: '/v1/suppressions', fn: 'suppressions' },
  { method: 'GET', path: '/v1/suppressions/{id}', fn: 'suppressions' },
  { method: 'DELETE', path: '/v1/suppressions/{id}', fn: 'suppressions' },

  { method: 'POST', path: '/v1/segments', fn: 'segments' },
  { method: 'GET', path: '/v1/segments', fn: 'segments' },
  { method: 'GET', path: '/v1/segments/{id}', fn: 'segments' },
  { method: 'PATCH', path: '/v1/segments/{id}', fn: 'segments' },
  { method: 'DELETE', path: '/v1/segments/{id}', fn: 'segments' },
  { method: 'GET', path: '/v1/segments/{id}/members', fn: 'segments' },
  { method: 'GET', path: '/v1/segments/{id}/count', fn: 'segments' },
  { method: 'POST', path: '/v1/workflows', fn: 'workflows' },
  { method: 'GET', path: '/v1/workflows', fn: 'workflows' },
  { method: 'GET', path: '/v1/workflows/{id}', fn: 'workflows' },
  { method: 'PATCH', path: '/v1/workflows/{id}', fn: 'workflows' },
  { method: 'DELETE', path: '/v1/workflows/{id}', fn: 'workflows' },
  { method: 'GET', path: '/v1/workflows/{id}/runs', fn: 'workflows' },

  { method: 'GET', path: '/v1/marketing/settings', fn: 'campaigns' },
  { method: 'PUT', path: '/v1/marketing/settings', fn: 'campaigns' },
  { method: 'POST', path: '/v1/campaigns', fn: 'campaigns' },
  { method: 'GET', path: '/v1/campaigns', fn: 'campaigns' },
  { method: 'GET', path: '/v1/campaigns/{id}', fn: 'campaigns' },
  { method: 'PATCH', path: '/v1/campaigns/{id}', fn: 'campaigns' },
  { method: 'DELETE', path: '/v1/campaigns/{id}', fn: 'campaigns' },
  { method: 'POST', path: '/v1/campaigns/{id}/schedule', fn: 'campaigns' },
  { method: 'POST', path: '/v1/campaigns/{id}/send', fn: 'campaigns' },
  { method: 'POST', path: '/v1/campaigns/{id}/cancel', fn: 'campaigns' },
  { method: 'GET', path: '/v1/campaigns/{id}/recipients', fn: 'campaigns' },

  { method: 'GET', path: '/u/{token}', fn: 'public', public: true },
  { method: 'POST', path: '/u/{token}', fn: 'public', public: true },
  { method: 'GET', path: '/s/{token}', fn: 'public', public: true },
  { method: 'POST', path: '/s/{token}', fn: 'public', public: true },
  { method: 'GET', path: '/t/o/{token}', fn: 'public', public: true },
  { method: 'GET', path: '/t/c/{token}', fn: 'public', public: true },
  { method: 'POST', path: '/v1/surveys', fn: 'surveys' },
  { method: 'GET', path: '/v1/surveys', fn: 'surveys' },
  { method: 'GET', path: '/v1/surveys/{id}', fn: 'surveys' },
  { method: 'POST', path: '/v1/surveys/{id}/send', fn: 'surveys' },
  { method: 'GET', path: '/v1/reports/service', fn: 'surveys' },
  { method: 'POST', path: '/v1/kb/articles', fn: 'kb' },
  { method: 'GET', path: '/v1/kb/articles', fn: 'kb' },
  { method: 'GET', path: '/v1/kb/articles/{id}', fn: 'kb' },
  { method: 'PATCH', path: '/v1/kb/articles/{id}', fn: 'kb' },
  { method: 'DELETE', path: '/v1/kb/articles/{id}', fn: 'kb' },

  { method: 'POST', path: '/v1/tickets', fn: 'tickets' },
  { method: 'GET', path: '/v1/tickets', fn: 'tickets' },
  { method: 'GET', path: '/v1/tickets/{id}', fn: 'tickets' },
  { method: 'PATCH', path: '/v1/tickets/{id}', fn: 'tickets' },
  { method: 'POST', path: '/v1/tickets/{id}/comments', fn: 'tickets' },
  { method: 'GET', path: '/v1/tickets/{id}/comments', fn: 'tickets' },
  { method: 'GET', path: '/v1/tickets/{id}/suggestions', fn: 'tickets' },
  { method: 'GET', path: '/v1/sla/policy', fn: 'tickets' },
  { method: 'PUT', path: '/v1/sla/policy', fn: 'tickets' },

  { method: 'POST', path: '/v1/forms', fn: 'forms' },
  { method: 'GET', path: '/v1/forms', fn: 'forms' },
  { method: 'GET', path: '/v1/forms/{id}', fn: 'forms' },
  { method: 'PATCH', path: '/v1/forms/{id}', fn: 'forms' },
  { method: 'DELETE', path: '/v1/forms/{id}', fn: 'forms' },
  { method: 'POST', path: '/v1/forms/{id}/rotate-secret', fn: 'forms' },
  // Signed by the form's secret (Standard Webhooks), not by a token: the `intake` function.
  { method: 'POST', path: '/in/forms/{id}', fn: 'intake', public: true },
  // The API's reference: the document describes every route of this table (test/docs/openapi.test.ts).
  { method: 'GET', path: '/v1/openapi.json', fn: 'docs', public: true },
  { method: 'GET', path: '/docs', fn: 'docs', public: true },
  { method: 'GET', path: '/docs/{asset}', fn: 'docs', public: true },
  // Before `/v1/webhooks/{id}`: the local router matches in this order (API Gateway prefers literal segments anyway).
  { method: 'GET', path: '/v1/webhooks/event-types', fn: 'webhooks' },
  { method: 'POST', path: '/v1/webhooks', fn: 'webhooks' },
  { method: 'GET', path: '/v1/webhooks', fn: 'webhooks' },
  { method: 'GET', path: '/v1/webhooks/{id}', fn: 'webhooks' },
  { method: 'PATCH', path: '/v1/webhooks/{id}', fn: 'webhooks' },
  { method: 'DELETE', path: '/v1/webhooks/{id}', fn: 'webhooks' },
  { method: 'POST', path: '/v1/webhooks/{id}/rotate-secret', fn: 'webhooks' },
  { method: 'GET', path: '/v1/webhooks/{id}/deliveries', fn: 'webhooks' },
  { method: 'POST', path: '/v1/webhooks/{id}/deliveries/{deliveryId}/retry', fn: 'webhooks' },
  { method: 'POST', path: '/v1/api-keys', fn: 'api-keys' },
  { method: 'GET', path: '/v1/api-keys', fn: 'api-keys' },
  { method: 'GET', path: '/v1/api-keys/{id}', fn: 'api-keys' },
  { method: 'DELETE', path: '/v1/api-keys/{id}', fn: 'api-keys' },
  // The tenant's rate limits (functions/middleware/rate-limit.ts enforces them on every route).
  { method: 'GET', path: '/v1/rate-limits', fn: 'api-keys' },
  { method: 'PUT', path: '/v1/rate-limits', fn: 'api-keys' },
  { method: 'POST', path: '/v1/imports', fn: 'imports' },
  { method: 'POST', path: '/v1/imports/uploads', fn: 'imports' },
  { method: 'GET', path: '/v1/imports', fn: 'imports' },
  { method: 'GET', path: '/v1/imports/{id}', fn: 'imports' },
  // `{file}` is `accounts.csv`, `contacts.csv` or `leads.csv`: API Gateway takes a parameter only as a whole path segment.
  { method: 'GET', path: '/v1/exports/{file}', fn: 'imports' },
];

export const routeKey = (r: Pick<Route, 'method' | 'path'>) => `${r.method} ${r.path}`;
