/**
 * Shared fixtures for the contract tests (test/contract/*): how to create one resource of
 * each collection over HTTP, a valid body for every POST/PATCH route, and which body
 * fields name other records. The contract tests are generated from `routes`
 * (functions/routes.ts); a route this file does not cover makes them FAIL with a message
 * naming the route, so a new route can never be skipped silently.
 *
 * Every request made through `send` / `api` here also asserts that the answer is not a
 * 5xx (API.md §3: "500 never for anything a client sent").
 */
import { expect } from 'vitest';
import { routeKey, routes, type Route } from '#functions/routes.ts';
import { call, type ApiResponse, type Caller, type RequestOptions } from '#test/support/api.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { fanOutEvent } from '#domain/integrations/webhook-deliveries.ts';
import { domainEvent } from '#test/integrations/webhook-support.ts';

export type { Caller } from '#test/support/api.ts';

/** The collections that have stored records a route can address by `{id}`. */
export const COLLECTIONS = ['accounts', 'contacts', 'activities', 'tasks', 'leads', 'orders', 'quotes', 'opportunities', 'pipelines', 'notifications', 'segments', 'suppressions', 'workflows', 'campaigns', 'kb/articles', 'tickets', 'surveys', 'forms', 'webhooks', 'api-keys', 'imports'] as const;
export type Collection = (typeof COLLECTIONS)[number];
/** Collections one level down a namespace (`/v1/kb/articles`): their name is both segments. */
export const NESTED_COLLECTIONS = ['kb/articles'];

type Body = Record<string, unknown>;

/** Ids a body may reference; the caller must be allowed to open them. */
export interface Refs {
  accountId?: string;
  contactId?: string;
  userId?: string;
  /** A second account of the same owner, for bodies that use one up (a merge's `sourceId`). */
  spareAccountId?: string;
  /** A segment of the tenant (campaigns name one). */
  segmentId?: string;
}

export interface Sent<T = any> extends ApiResponse<T> {
  /** `METHOD url`, for assertion messages. */
  req: string;
}

// ---------------------------------------------------------------------------------------
// Requests

/** One request; fails the test on any 5xx, naming the request and the body it got. */
export async function send<T = any>(
  caller: Caller | null,
  method: string,
  url: string,
  body?: unknown,
  opts?: RequestOptions,
): Promise<Sent<T>> {
  const res = await call<T>(caller, method, url, body, opts);
  const req = `${method} ${url}${caller ? ` as ${caller.tenant}/${caller.user} (${caller.role})` : ' (no caller)'}`;
  expect(res.status, `${req} answered ${res.status}: ${res.body.slice(0, 500)}`).toBeLessThan(500);
  return { ...res, req };
}

/** `api(alice).post(...)`: like `as()` of api.ts, with the no-5xx check of `send`. */
export function api(caller: Caller) {
  return {
    get: <T = any>(url: string, opts?: RequestOptions) => send<T>(caller, 'GET', url, undefined, opts),
    post: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => send<T>(caller, 'POST', url, body, opts),
    patch: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => send<T>(caller, 'PATCH', url, body, opts),
    put: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => send<T>(caller, 'PUT', url, body, opts),
    delete: <T = any>(url: string, opts?: RequestOptions) => send<T>(caller, 'DELETE', url, undefined, opts),
  };
}

/** A problem+json answer (API.md §3) with this status and, when given, this code. */
export function expectProblem(res: Sent, status: number, code?: string): void {
  const where = `${res.req} → ${res.status} ${res.body.slice(0, 500)}`;
  expect(res.status, where).toBe(status);
  expect(res.headers['content-type'], `content-type of ${where}`).toMatch(/^application\/problem\+json\b/);
  expect(res.json, where).toBeTypeOf('object');
  for (const field of ['type', 'title', 'detail', 'code'] as const) {
    expect(typeof res.json?.[field], `problem field "${field}" of ${where}`).toBe('string');
    expect(res.json[field].length, `problem field "${field}" of ${where}`).toBeGreaterThan(0);
  }
  expect(res.json.status, `problem field "status" of ${where}`).toBe(status);
  if (code !== undefined) expect(res.json.code, where).toBe(code);
}

/** A 400 validation_failed whose `errors` name `field` (a path segment such as `body.name`). */
export function expectFieldError(res: Sent, field: string): void {
  expectProblem(res, 400, 'validation_failed');
  const errors = res.json.errors as { path: string; message: string }[] | undefined;
  expect(Array.isArray(errors), `${res.req}: errors array in ${res.body}`).toBe(true);
  for (const e of errors!) {
    expect(typeof e.path, `${res.req}: errors[].path`).toBe('string');
    expect(typeof e.message, `${res.req}: errors[].message`).toBe('string');
  }
  const names = (p: string) => p.split(/[.,[\]]/).filter(Boolean);
  expect(
    errors!.some((e) => names(e.path).includes(field)),
    `${res.req}: expected an error naming "${field}", got ${JSON.stringify(errors)}`,
  ).toBe(true);
}

/** The created resource's id; fails loudly with what the API said. */
function createdId(res: Sent, what: string): string {
  if (res.status !== 201 || typeof res.json?.id !== 'string') {
    throw new Error(`seeding ${what}: ${res.req} answered ${res.status} ${res.body.slice(0, 500)}`);
  }
  return res.json.id as string;
}

// ---------------------------------------------------------------------------------------
// Unique values (future duplicate detection must never turn a fixture into a 409)

let counter = 0;
const run = Math.random().toString(36).slice(2, 8);
export function uniq(prefix: string): string {
  return `${prefix} ${run}${(++counter).toString(36)}`;
}
const uniqToken = () => `${run}${(++counter).toString(36)}`;

function need(refs: Refs, key: keyof Refs, route: string): string {
  const v = refs[key];
  if (!v) throw new Error(`validBody['${route}'] needs refs.${key}`);
  return v;
}

// ---------------------------------------------------------------------------------------
// Valid bodies, for every POST / PATCH route

/**
 * A valid body for each POST/PATCH route, keyed by route key. Functions of the ids the
 * body may reference (which the caller must be able to open). PATCH bodies change
 * something that the seeders did not set that way, so a PATCH that wrongly lands shows.
 */
export const validBody: Record<string, (refs: Refs) => Body> = {
  'POST /v1/accounts': () => ({
    name: uniq('Acme 客户'),
    industry: 'Manufacturing',
    tier: 'B',
    tags: ['seed'],
    description: 'seeded by the contract tests',
  }),
  'PATCH /v1/accounts/{id}': () => ({ industry: 'Retail 零售', tags: ['patched'] }),
  // The source is absorbed (gone) after one successful merge: each seedRefs has a spare to give.
  'POST /v1/accounts/{id}/merge': (refs) => ({ sourceId: need(refs, 'spareAccountId', 'POST /v1/accounts/{id}/merge') }),

  'POST /v1/contacts': (refs) => ({
    name: uniq('王小明'),
    email: `c-${uniqToken()}@example.cn`,
    title: 'Buyer',
    accountId: need(refs, 'accountId', 'POST /v1/contacts'),
  }),
  'PATCH /v1/contacts/{id}': () => ({ title: 'CTO 首席技术官', tags: ['patched'] }),

  'POST /v1/activities': (refs) => ({
    type: 'call',
    subject: uniq('首次电话'),
    body: 'talked about the renewal',
    occurredAt: '2026-01-15T08:00:00Z',
    accountId: need(refs, 'accountId', 'POST /v1/activities'),
  }),
  'PATCH /v1/activities/{id}': () => ({ subject: 'Updated subject 更新', body: 'patched body' }),

  'POST /v1/tasks': (refs) => ({
    title: uniq('Send quote 发报价'),
    description: 'before the end of the month',
    dueAt: '2026-12-01T09:00:00Z',
    accountId: need(refs, 'accountId', 'POST /v1/tasks'),
  }),
  'PATCH /v1/tasks/{id}': () => ({ title: 'Updated title 更新', description: 'patched' }),

  'POST /v1/leads': () => ({
    name: uniq('李雷'),
    company: uniq('线索科技'),
    email: `l-${uniqToken()}@example.cn`,
    title: 'Purchasing manager 采购经理',
    source: 'website',
  }),
  'PATCH /v1/leads/{id}': () => ({ status: 'working', source: 'referral 转介绍' }),
  'POST /v1/leads/{id}/convert': (refs) => ({ accountId: need(refs, 'accountId', 'POST /v1/leads/{id}/convert') }),

  'POST /v1/orders': (refs) => ({
    accountId: need(refs, 'accountId', 'POST /v1/orders'),
    name: uniq('年度服务合同'),
    amount: 128000.5,
    currency: 'CNY',
    signedAt: '2026-06-30T08:00:00Z',
    notes: 'seeded by the contract tests',
  }),
  'PATCH /v1/orders/{id}': () => ({ name: 'Renewal 续约合同', notes: 'patched' }),
  'POST /v1/orders/{id}/payments': () => ({
    amount: 1000.25,
    receivedAt: '2026-07-01T02:00:00Z',
    method: 'bank_transfer',
    reference: 'BANK-REF 回款 0001',
    notes: 'first instalment',
  }),

  'POST /v1/opportunities/{id}/quotes': () => ({
    name: uniq('年度报价'),
    lines: [
      { product: 'CRM 标准版 license', quantity: 10, unitPrice: 1999.99, discountPct: 5 },
      { product: 'Implementation 实施', quantity: 2.5, unitPrice: 8000 },
    ],
    validUntil: '2030-12-31',
    notes: 'seeded by the contract tests',
  }),
  'PATCH /v1/quotes/{id}': () => ({ name: 'Revised quote 修订版', notes: 'patched' }),
  'POST /v1/quotes/{id}/send': () => ({ validUntil: '2030-06-30', note: 'sent by email 邮件发送' }),
  'POST /v1/quotes/{id}/accept': () => ({ note: 'signed by the buyer 客户签字' }),
  'POST /v1/quotes/{id}/reject': () => ({ reason: 'price too high 价格过高', note: 'will quote again' }),
  'POST /v1/quotes/{id}/order': () => ({ signedAt: '2026-07-01T00:00:00Z', name: uniq('报价转合同'), notes: 'from the accepted quote' }),

  'POST /v1/opportunities': (refs) => ({
    accountId: need(refs, 'accountId', 'POST /v1/opportunities'),
    ...(refs.contactId ? { contactIds: [refs.contactId] } : {}),
    name: uniq('智能仓储项目'),
    amount: 88000.5,
    currency: 'CNY',
    expectedCloseDate: '2026-11-30',
    forecastCategory: 'bestCase',
    needs: 'warehouse automation 仓储自动化',
    budget: 100000,
    competitors: [{ name: 'Rival 竞品', notes: 'cheaper' }],
  }),
  'PATCH /v1/opportunities/{id}': () => ({ name: 'Renamed deal 改名商机', probability: 35, needs: 'patched' }),
  'POST /v1/pipelines': () => ({
    name: uniq('Renewals 续约流程'),
    description: 'contract renewals 续约',
    stages: [
      { name: 'Contacted 已联系', probability: 20 },
      { name: 'Negotiating 谈判', probability: 60 },
      { name: 'Renewed 已续约', probability: 100, kind: 'won' },
      { name: 'Churned 流失', probability: 0, kind: 'lost' },
    ],
  }),
  'PATCH /v1/pipelines/{id}': () => ({ name: 'Renamed pipeline 改名流程' }),

  'POST /v1/workflows': () => ({
    name: uniq('Website leads 官网线索'),
    trigger: { event: 'lead.created', conditions: { source: 'website' } },
    delay: { hours: 1 },
    actions: [
      { type: 'notify', to: 'owner', message: 'A new website lead 新线索' },
      { type: 'addTag', tag: 'website' },
    ],
  }),
  'PATCH /v1/workflows/{id}': () => ({ name: 'Renamed workflow 改名流程', enabled: false }),

  // The public pool (API.md §6). The rules: the defaults but for two fields, generous caps (so
  // the other rows of a test file can still claim), every field of every type present.
  'PUT /v1/pool/rules': () => ({
    releaseAfterDays: 30,
    releaseIfNotWonDays: 90,
    remindBeforeDays: [3, 1],
    maxAccountsPerRep: 500,
    maxLockedPerRep: 50,
    maxClaimsPerDay: 100,
    reclaimCooldownDays: 7,
    exemptTiers: ['A'],
    exemptWithOpenOpportunity: true,
    timeZone: 'Asia/Shanghai',
  }),
  'POST /v1/pool/{id}/assign': (refs) => ({ userId: need(refs, 'userId', 'POST /v1/pool/{id}/assign') }),
  'POST /v1/accounts/{id}/release': () => ({ reason: 'customer went quiet 客户无回应' }),

  // A target for the caller itself (only an admin may set its own; see the role matrix).
  'PUT /v1/targets/{period}': (refs) => ({ userId: need(refs, 'userId', 'PUT /v1/targets/{period}'), amount: 150000.5, currency: 'CNY' }),

  // Marketing (api/marketing.md). Custom fields: none required, so the other rows' records stay valid.
  'PUT /v1/fields/{entity}': () => ({
    fields: [
      { key: 'pricePreference', label: '价格偏好', type: 'select', options: ['低', '中', '高'], required: false },
      { key: 'budget', label: 'Budget 预算', type: 'number' },
      { key: 'notes', label: 'Notes', type: 'text' },
    ],
  }),
  'POST /v1/suppressions': () => ({ email: `s-${uniqToken()}@example.cn` }),
  'POST /v1/segments': () => ({
    name: uniq('VIP 细分'),
    description: 'seeded by the contract tests',
    entity: 'contacts',
    match: 'all',
    conditions: [
      { field: 'tags', op: 'contains', value: 'vip' },
      { field: 'email', op: 'exists' },
    ],
  }),
  'PATCH /v1/segments/{id}': () => ({ name: 'Renamed segment 改名细分', match: 'any' }),
  // Campaigns: a segment of the caller's tenant (seedRefs makes one), merge tags in every part.
  'POST /v1/campaigns': (refs) => ({
    name: uniq('双十一活动'),
    segmentId: refs.segmentId ?? 'no-segment',
    subject: '{{name}}，您好',
    html: '<p>{{company}}</p><a href="https://shop.example.cn/sale">Sale</a> <a href="{{unsubscribeUrl}}">退订</a>',
    text: '{{name}} {{unsubscribeUrl}}',
    budget: 5000,
  }),
  'PATCH /v1/campaigns/{id}': () => ({ name: 'Renamed campaign 改名活动', budget: 8000.5 }),
  'POST /v1/campaigns/{id}/schedule': () => ({ sendAt: '2099-11-11T00:00:00.000Z' }),
  'PUT /v1/marketing/settings': () => ({ sendRatePerSecond: 20, fromAddress: 'news@example.cn' }),
  // The highest limits: the contract tests send thousands of requests per tenant a minute (test/integrations/rate-limits.test.ts tests low ones).
  'PUT /v1/rate-limits': () => ({ requestsPerMinute: 1_000_000, apiKeyRequestsPerMinute: 1_000_000 }),
  // The public one-click unsubscribe takes a form (`List-Unsubscribe=One-Click`); the fuzz test sends this in every shape.
  'POST /u/{token}': () => ({ 'List-Unsubscribe': 'One-Click' }),
  // NPS surveys (api/service.md): a segment of the caller's tenant (seedRefs makes one).
  'POST /v1/surveys': (refs) => ({ name: uniq('季度 NPS 调查'), segmentId: refs.segmentId ?? 'no-segment', question: '您有多大可能向朋友推荐我们？' }),
  // A survey answer (api/service.md): JSON or a form; tests in test/service/surveys-*.test.ts.
  'POST /s/{token}': () => ({ score: 9, comment: '很好 great' }),

  // Knowledge base (api/service.md): published, so every role reads the seeded articles.
  'POST /v1/kb/articles': () => ({
    title: uniq('如何申请退款 How to request a refund'),
    body: '## 退款流程\n\nOpen **Orders**, choose the order and press *Refund*. 退款将在三个工作日内原路返回。',
    tags: ['billing', '退款'],
    status: 'published',
  }),
  'PATCH /v1/kb/articles/{id}': () => ({ title: 'Refund policy 退款政策 (patched)', tags: ['patched'] }),

  // Service (api/service.md): a ticket on the caller's account when it has one (support creates without).
  'POST /v1/tickets': (refs) => ({
    subject: uniq('无法登录 cannot log in'),
    description: 'seeded by the contract tests',
    priority: 'high',
    type: 'incident',
    channel: 'email',
    tags: ['seed'],
    ...(refs.accountId ? { accountId: refs.accountId } : {}),
  }),
  'PATCH /v1/tickets/{id}': () => ({ priority: 'urgent', tags: ['patched'] }),
  'POST /v1/tickets/{id}/comments': () => ({ body: '您好，我们正在处理 we are on it', public: true }),
  // Outbound webhooks (api/integrations.md): a local receiver address the test runtime accepts
  // (WEBHOOKS_ALLOW_LOOPBACK, as `npm start`) on the discard port, where nothing listens, and an
  // event type no contract test emits, so the seeded webhooks never send anything.
  'POST /v1/webhooks': () => ({ url: `http://127.0.0.1:9/${uniqToken()}`, events: ['ticket.csat_answered'], description: 'seeded by the contract tests 契约测试' }),
  'PATCH /v1/webhooks/{id}': () => ({ description: 'patched 已修改', events: ['survey.answered'] }),
  // API keys (api/integrations.md): a rep key of team east, expiring long after any test.
  'POST /v1/api-keys': () => ({ name: uniq('ERP 同步 key'), role: 'rep', teamId: 'east', expiresAt: '2099-01-01T00:00:00Z' }),

  'PUT /v1/sla/policy': () => ({
    targets: { urgent: { firstResponseMinutes: 30, resolutionMinutes: 240 } },
    businessHours: { timeZone: 'Asia/Shanghai', days: [1, 2, 3, 4, 5, 6], start: '08:30', end: '18:00' },
    holidays: ['2026-10-01'],
    warnBeforeMinutes: 15,
  }),

  // Inbound forms (api/integrations.md): owned by the caller (an admin: the only role that manages forms).
  'POST /v1/forms': (refs) => ({ name: uniq('官网联系表单 Contact us'), source: 'website', ownerId: need(refs, 'userId', 'POST /v1/forms'), tags: ['web'] }),
  'PATCH /v1/forms/{id}': () => ({ name: 'Renamed form 改名表单', source: 'trade fair 展会', tags: ['patched'] }),
  // A submission (signed: without a signature every request is a 401; tests in test/integrations/forms.test.ts; the fuzz test sends this).
  'POST /in/forms/{id}': () => ({ name: uniq('张三'), company: uniq('表单科技'), email: `f-${uniqToken()}@example.cn`, message: '请联系我 please call me' }),
  // CSV import (api/integrations.md): contacts, which every importing role may import; one fresh row.
  'POST /v1/imports': () => ({
    entity: 'contacts',
    csv: `name,email,tags\r\n${uniq('导入联系人')},i-${uniqToken()}@example.cn,seed；imported\r\n`,
    onDuplicate: 'skip',
  }),
  // An upload URL for a large CSV (imported later by its uploadId): contacts, as above.
  'POST /v1/imports/uploads': () => ({ entity: 'contacts' }),
};

/**
 * Body fields of each POST/PATCH route that name another record: what the tenant
 * isolation tests point at another tenant's ids. `{}` when a route's body names none.
 */
export const referenceFields: Record<string, Record<string, 'accounts' | 'contacts' | 'users'>> = {
  'POST /v1/accounts': { ownerId: 'users' },
  'PATCH /v1/accounts/{id}': { ownerId: 'users' },
  'POST /v1/accounts/{id}/merge': { sourceId: 'accounts' },
  'POST /v1/contacts': { accountId: 'accounts', ownerId: 'users' },
  'PATCH /v1/contacts/{id}': { accountId: 'accounts', ownerId: 'users' },
  'POST /v1/activities': { accountId: 'accounts', contactId: 'contacts' },
  'PATCH /v1/activities/{id}': {},
  'POST /v1/tasks': { accountId: 'accounts', contactId: 'contacts', assigneeId: 'users' },
  'PATCH /v1/tasks/{id}': { accountId: 'accounts', contactId: 'contacts', assigneeId: 'users' },
  'POST /v1/leads': { ownerId: 'users' },
  'PATCH /v1/leads/{id}': { ownerId: 'users' },
  'POST /v1/leads/{id}/convert': { accountId: 'accounts' },
  'PUT /v1/targets/{period}': { userId: 'users' },
  'POST /v1/orders': { accountId: 'accounts', ownerId: 'users' },
  'PATCH /v1/orders/{id}': { ownerId: 'users' },
  'POST /v1/orders/{id}/payments': {},
  'POST /v1/opportunities/{id}/quotes': {},
  'PATCH /v1/quotes/{id}': {},
  'POST /v1/quotes/{id}/send': {},
  'POST /v1/quotes/{id}/accept': {},
  'POST /v1/quotes/{id}/reject': {},
  'POST /v1/quotes/{id}/order': { ownerId: 'users' },
  'POST /v1/opportunities': { accountId: 'accounts', ownerId: 'users' },
  'PATCH /v1/opportunities/{id}': { ownerId: 'users' },
  'POST /v1/pipelines': {},
  'PATCH /v1/pipelines/{id}': {},
  'POST /v1/workflows': {},
  'PATCH /v1/workflows/{id}': {},
  'PUT /v1/pool/rules': {},
  'POST /v1/pool/{id}/assign': { userId: 'users' },
  'POST /v1/accounts/{id}/release': {},
  'PUT /v1/fields/{entity}': {},
  'POST /v1/suppressions': {},
  'POST /v1/segments': {},
  'PATCH /v1/segments/{id}': {},
  'POST /v1/campaigns': {},
  'PATCH /v1/campaigns/{id}': {},
  'POST /v1/campaigns/{id}/schedule': {},
  'PUT /v1/marketing/settings': {},
  'PUT /v1/rate-limits': {},
  'POST /v1/kb/articles': {},
  'PATCH /v1/kb/articles/{id}': {},
  'POST /v1/tickets': { accountId: 'accounts', contactId: 'contacts', assigneeId: 'users' },
  'PATCH /v1/tickets/{id}': { assigneeId: 'users' },
  'POST /v1/tickets/{id}/comments': {},
  'PUT /v1/sla/policy': {},
  'POST /v1/surveys': {},
  'POST /v1/forms': { ownerId: 'users' },
  'PATCH /v1/forms/{id}': { ownerId: 'users' },
  'POST /v1/webhooks': {},
  'PATCH /v1/webhooks/{id}': {},
  'POST /v1/api-keys': {},
  'POST /v1/imports': {},
  'POST /v1/imports/uploads': {},
};

/**
 * Fields a create answers once and never again (an API key's `key`): not in the GET of the
 * resource, nor in an Idempotency-Key replay of the create. The generic tests compare without them.
 */
export const SHOWN_ONCE: Record<string, string[]> = { 'api-keys': ['key'] };

/** `body` without the collection's shown-once fields. */
export function withoutShownOnce(collection: string, body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const field of SHOWN_ONCE[collection] ?? []) delete out[field];
  return out;
}

// ---------------------------------------------------------------------------------------
// Seeders, one per collection

export type Seeder = (caller: Caller, refs?: Refs) => Promise<string>;

/**
 * `seed[collection](caller)` creates one resource as `caller` (creating the parent
 * account it needs first, unless `refs` names one the caller may open) and returns its id.
 */
export const seed: Record<Collection, Seeder> = {
  accounts: async (caller) =>
    createdId(await send(caller, 'POST', '/v1/accounts', validBody['POST /v1/accounts']!({})), 'an account'),
  contacts: async (caller, refs = {}) => {
    const accountId = refs.accountId ?? (await seed.accounts(caller));
    return createdId(await send(caller, 'POST', '/v1/contacts', validBody['POST /v1/contacts']!({ accountId })), 'a contact');
  },
  activities: async (caller, refs = {}) => {
    const accountId = refs.accountId ?? (await seed.accounts(caller));
    return createdId(await send(caller, 'POST', '/v1/activities', validBody['POST /v1/activities']!({ accountId })), 'an activity');
  },
  tasks: async (caller, refs = {}) => {
    const accountId = refs.accountId ?? (await seed.accounts(caller));
    return createdId(await send(caller, 'POST', '/v1/tasks', validBody['POST /v1/tasks']!({ accountId })), 'a task');
  },
  leads: async (caller) => createdId(await send(caller, 'POST', '/v1/leads', validBody['POST /v1/leads']!({})), 'a lead'),
  orders: async (caller, refs = {}) => {
    const accountId = refs.accountId ?? (await seed.accounts(caller));
    return createdId(await send(caller, 'POST', '/v1/orders', validBody['POST /v1/orders']!({ accountId })), 'an order');
  },
  opportunities: async (caller, refs = {}) => {
    const accountId = refs.accountId ?? (await seed.accounts(caller));
    return createdId(await send(caller, 'POST', '/v1/opportunities', validBody['POST /v1/opportunities']!({ accountId })), 'an opportunity');
  },
  /** Pipelines are tenant settings that only admins create: made by an admin of the caller's tenant, whoever asks. */
  pipelines: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'pipeline-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/pipelines', validBody['POST /v1/pipelines']!({})), 'a pipeline');
  },
  /** Workflows belong to marketing: made by a marketer of the caller's tenant, whoever asks. */
  workflows: async (caller) => {
    const marketer: Caller = { tenant: caller.tenant, user: 'workflow-marketer', role: 'marketer' };
    return createdId(await send(marketer, 'POST', '/v1/workflows', validBody['POST /v1/workflows']!({})), 'a workflow');
  },
  /**
   * A notification of the caller's: a task assigned to it by a colleague, delivered through the
   * event relay to the `task-notifications` consumer (the only way one comes to exist).
   */
  notifications: async (caller) => {
    expect((await send(caller, 'GET', '/v1/notifications?limit=1')).status).toBe(200); // in the directory
    const colleague: Caller = { tenant: caller.tenant, user: 'notification-sender', role: 'admin' };
    const taskId = createdId(
      await send(colleague, 'POST', '/v1/tasks', { title: uniq('Call back 回电'), dueAt: '2030-01-01T00:00:00Z', assigneeId: caller.user }),
      'a task for a notification',
    );
    for (let attempt = 0; attempt < 20; attempt++) {
      await deliverPending(publisher());
      const mine = await listAll<{ id: string; entityId?: string }>(caller, '/v1/notifications?unread=true');
      const found = mine.find((n) => n.entityId === taskId);
      if (found) return found.id;
    }
    throw new Error(`seeding a notification for ${caller.user}: none arrived for task ${taskId}`);
  },
  /** Marketing records are managed by marketers and admins: made by an admin of the caller's tenant, whoever asks. */
  segments: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'marketing-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/segments', validBody['POST /v1/segments']!({})), 'a segment');
  },
  /** A draft campaign of the caller's tenant, on a new segment, made by its marketing admin (reps may not create one). */
  campaigns: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'marketing-admin', role: 'admin' };
    const segmentId = await seed.segments(caller);
    return createdId(await send(admin, 'POST', '/v1/campaigns', validBody['POST /v1/campaigns']!({ segmentId })), 'a campaign');
  },
  /** A draft NPS survey of the caller's tenant, on a new segment, made by its marketing admin. */
  surveys: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'marketing-admin', role: 'admin' };
    const segmentId = await seed.segments(caller);
    return createdId(await send(admin, 'POST', '/v1/surveys', validBody['POST /v1/surveys']!({ segmentId })), 'a survey');
  },
  /** Forms are integration settings that only admins manage: made by an admin of the caller's tenant, whoever asks. */
  forms: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'forms-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/forms', validBody['POST /v1/forms']!({ userId: admin.user })), 'a form');
  },
  /** API keys are admins' alone: made by an admin of the caller's tenant, whoever asks. */
  'api-keys': async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'keys-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/api-keys', validBody['POST /v1/api-keys']!({})), 'an API key');
  },
  /** A suppression's id is its normalized email address. */
  suppressions: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'marketing-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/suppressions', validBody['POST /v1/suppressions']!({})), 'a suppression');
  },
  /** Articles are written by support (and admins): made by a support user of the caller's tenant, published, whoever asks. */
  'kb/articles': async (caller) => {
    const support: Caller = { tenant: caller.tenant, user: 'kb-support', role: 'support' };
    return createdId(await send(support, 'POST', '/v1/kb/articles', validBody['POST /v1/kb/articles']!({})), 'an article');
  },
  /**
   * A ticket, made by the caller on the account it names (or a new one of its own); support makes it
   * without an account unless given one; marketers may not make tickets: a support user of their tenant does.
   */
  tickets: async (caller, refs = {}) => {
    const creator: Caller = caller.role === 'marketer' ? { tenant: caller.tenant, user: 'ticket-agent', role: 'support' } : caller;
    const accountId = refs.accountId ?? (creator.role === 'support' ? undefined : await seed.accounts(creator));
    return createdId(await send(creator, 'POST', '/v1/tickets', validBody['POST /v1/tickets']!(accountId ? { accountId } : {})), 'a ticket');
  },
  /** Webhooks are tenant settings of admins: made by an admin of the caller's tenant, whoever asks. */
  webhooks: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'webhook-admin', role: 'admin' };
    return createdId(await send(admin, 'POST', '/v1/webhooks', validBody['POST /v1/webhooks']!({})), 'a webhook');
  },
  /** An import of the caller's tenant, started by its admin (the caller may be a role that imports nothing): `202`, not run. */
  imports: async (caller) => {
    const admin: Caller = { tenant: caller.tenant, user: 'import-admin', role: 'admin' };
    const res = await send(admin, 'POST', '/v1/imports', validBody['POST /v1/imports']!({}));
    if (res.status !== 202 || typeof res.json?.id !== 'string') throw new Error(`seeding an import: ${res.req} answered ${res.status} ${res.body.slice(0, 500)}`);
    return res.json.id as string;
  },
  /** A draft quote on a new opportunity of the account. */
  quotes: async (caller, refs = {}) => {
    const opportunityId = await seed.opportunities(caller, refs);
    const body = validBody['POST /v1/opportunities/{id}/quotes']!({});
    const res = await send(caller, 'POST', `/v1/opportunities/${opportunityId}/quotes`, body);
    if (res.status !== 201 || typeof res.json?.id !== 'string') throw new Error(`seeding a quote: ${res.req} answered ${res.status} ${res.body.slice(0, 500)}`);
    return res.json.id as string;
  },
};

/** A quote moved along its statuses by its seeder's caller: what the action routes need to start from. */
async function quoteIn(status: 'sent' | 'accepted', caller: Caller, refs?: Refs): Promise<string> {
  const id = await seed.quotes(caller, refs);
  for (const action of status === 'sent' ? ['send'] : ['send', 'accept']) {
    const res = await send(caller, 'POST', `/v1/quotes/${id}/${action}`, {});
    if (res.status !== 200) throw new Error(`seeding a ${status} quote: ${res.req} answered ${res.status} ${res.body.slice(0, 500)}`);
  }
  return id;
}

/** An account of the caller's tenant in the public pool: created and released by `caller` (an admin when `caller` may not own accounts). */
export async function seedPoolAccount(caller: Caller): Promise<string> {
  const owner: Caller = caller.role === 'support' || caller.role === 'marketer' ? { tenant: caller.tenant, user: 'pool-seeder', role: 'admin' } : caller;
  const id = await seed.accounts(owner);
  const res = await send(owner, 'POST', `/v1/accounts/${id}/release`, validBody['POST /v1/accounts/{id}/release']!({}));
  if (res.status !== 200) throw new Error(`seeding a pool account: ${res.req} answered ${res.status} ${res.body.slice(0, 500)}`);
  return id;
}

/**
 * Path parameters besides `{id}` of the records seeded for routes that name two (a webhook's
 * delivery): `urlOf` fills them in from here, by the `{id}` the seeder answered.
 */
const otherParams = new Map<string, Record<string, string>>();

/** A webhook of the caller's tenant with one delivery (pending: nothing listens at its address); answers the webhook's id. */
async function seedWebhookDelivery(caller: Caller): Promise<string> {
  const id = await seed.webhooks(caller);
  const event = domainEvent(caller.tenant, 'ticket.csat_answered');
  await fanOutEvent(event);
  otherParams.set(id, { deliveryId: event.id });
  return id;
}

/** Routes whose `{id}` must be in a particular state (a quote to accept must have been sent). */
export const routeSeeders: Record<string, Seeder> = {
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': seedWebhookDelivery,
  // A pool route's `{id}` is an account in the pool; `GET /v1/pool` lists one.
  'POST /v1/pool/{id}/claim': seedPoolAccount,
  'POST /v1/pool/{id}/assign': seedPoolAccount,
  'GET /v1/pool': seedPoolAccount,
  'POST /v1/quotes/{id}/accept': (caller, refs) => quoteIn('sent', caller, refs),
  'POST /v1/quotes/{id}/reject': (caller, refs) => quoteIn('sent', caller, refs),
  'POST /v1/quotes/{id}/order': (caller, refs) => quoteIn('accepted', caller, refs),
  // Only a scheduled or sending campaign can be canceled.
  'POST /v1/campaigns/{id}/cancel': async (caller) => {
    const id = await seed.campaigns(caller);
    const admin: Caller = { tenant: caller.tenant, user: 'marketing-admin', role: 'admin' };
    const res = await send(admin, 'POST', `/v1/campaigns/${id}/schedule`, validBody['POST /v1/campaigns/{id}/schedule']!({}));
    if (res.status !== 200) throw new Error(`seeding a scheduled campaign: ${res.req} answered ${res.status} ${res.body.slice(0, 300)}`);
    return id;
  },
};

/** An account and a contact on it, owned by `owner`, for bodies that reference records. */
export async function seedRefs(owner: Caller): Promise<Required<Refs>> {
  const accountId = await seed.accounts(owner);
  const contactId = await seed.contacts(owner, { accountId });
  const spareAccountId = await seed.accounts(owner);
  // Made by the owner when it may (no new user in the tenant's directory), else by the tenant's marketing admin.
  const segmentId =
    owner.role === 'admin' || owner.role === 'marketer'
      ? createdId(await send(owner, 'POST', '/v1/segments', validBody['POST /v1/segments']!({})), 'a segment')
      : await seed.segments(owner);
  return { accountId, contactId, userId: owner.user, spareAccountId, segmentId };
}

// ---------------------------------------------------------------------------------------
// Searches: lists that need a filter (`GET /v1/duplicates` without name/email/phone/domain is a 400)

/** The email `searchQuery` looks for; `seedSearch` gives it to an account and a contact. */
export const SEARCH_PROBE_EMAIL = 'probe@duplicate-search.example.cn';

/** The query each search route is called with by the generated tests (`listUrl`, `urlOf`). */
export const searchQuery: Record<string, string> = {
  'GET /v1/duplicates': `email=${encodeURIComponent(SEARCH_PROBE_EMAIL)}`,
};

/** A list route's URL: its path, plus its search query when it is a search. */
export function listUrl(r: Route): string {
  const q = searchQuery[keyOf(r)];
  return q ? `${r.path}?${q}` : r.path;
}

const searchSeeded = new Map<string, Promise<void>>();

/**
 * Makes `searchQuery` match two records (an account and a contact holding the probe email)
 * in the caller's tenant, once per tenant; `caller` must be allowed to create accounts.
 */
export function seedSearch(caller: Caller): Promise<void> {
  let done = searchSeeded.get(caller.tenant);
  if (!done) {
    done = (async () => {
      const accountId = createdId(await send(caller, 'POST', '/v1/accounts', { name: uniq('Search probe'), email: SEARCH_PROBE_EMAIL }), 'the search probe account');
      createdId(await send(caller, 'POST', '/v1/contacts', { name: uniq('Search probe'), email: SEARCH_PROBE_EMAIL, accountId }), 'the search probe contact');
    })();
    searchSeeded.set(caller.tenant, done);
  }
  return done;
}

// ---------------------------------------------------------------------------------------
// Routes

export const keyOf = (r: Pick<Route, 'method' | 'path'>) => routeKey(r);
export const hasIdParam = (r: Route) => r.path.includes('{id}');
/** GET routes without `{id}` that answer one object, not a list page (a tenant's settings, a report). */
export const SINGLETONS = new Set([
  'GET /v1/pool/rules',
  'GET /v1/dashboard',
  'GET /v1/reports/funnel',
  'GET /v1/forecast',
  'GET /v1/forecast/accuracy',
  'GET /v1/marketing/settings',
  'GET /v1/sla/policy',
  'GET /v1/rate-limits',
  'GET /v1/reports/service',
]);
/**
 * Lists that are a time series of one scope, not records with ids (a forecast's snapshots): the
 * generic list tests key on ids, so their paging, cursors and isolation are tested in test/analytics/.
 */
export const SERIES = new Set(['GET /v1/forecast/snapshots']);
/**
 * Lists of something other than records (the catalog of event types): no ids to seed, leak or
 * key on, so the generated list tests leave them out (test/integrations/webhooks.test.ts pages them).
 */
export const CATALOGS = new Set(['GET /v1/webhooks/event-types']);
/** Fields a create answers and no read ever shows again (a webhook's secret). */
export const CREATE_ONLY_FIELDS: Record<string, string[]> = { webhooks: ['secret'], forms: ['secret'], 'api-keys': ['key'] };
/**
 * Where to read back what a successful action did, when its answer is not the route's record and
 * names no Location (a delivery retried: the webhook's deliveries).
 */
export const ACTION_RESULT: Record<string, (id: string) => string> = {
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': (id) => `/v1/webhooks/${id}/deliveries`,
};
/** POST routes whose success stores nothing the API reads back (an upload URL: the file goes to object storage). */
export const NOTHING_TO_READ_BACK = new Set(['POST /v1/imports/uploads']);
/** GET routes under a record that answer one object, not a sub-list (a segment's member count). */
export const SUBRESOURCE_OBJECTS = new Set(['GET /v1/segments/{id}/count']);
/** Action routes that take no body (a claim, a lock, marking a notification read): sent without one. */
export const BODYLESS = new Set([
  'POST /v1/pool/{id}/claim', 'POST /v1/accounts/{id}/lock', 'POST /v1/accounts/{id}/unlock', 'POST /v1/notifications/{id}/read',
  'POST /v1/campaigns/{id}/send', 'POST /v1/campaigns/{id}/cancel', 'POST /v1/surveys/{id}/send', 'POST /v1/forms/{id}/rotate-secret',
  'POST /v1/webhooks/{id}/rotate-secret', 'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry',
]);
export const isList = (r: Route) =>
  r.method === 'GET' && !r.path.includes('{') && !SINGLETONS.has(keyOf(r)) && !SERIES.has(keyOf(r)) && !CATALOGS.has(keyOf(r));
export const hasBody = (r: Route) => (r.method === 'POST' || r.method === 'PATCH' || r.method === 'PUT') && !BODYLESS.has(keyOf(r));
/**
 * Creates that answer `202 Accepted` (with the resource and its Location): the resource exists at
 * once, its work goes on in the background (a CSV import). Not `isCreate`: no 201, and what they
 * make is not listed as a collection's new record right away.
 */
export const ACCEPTED = new Set(['POST /v1/imports']);
/** Routes that take bodies larger than the API's 256 KB (an exception each makes explicitly: Operation.maxBodyBytes). */
export const BODY_LIMITS: Record<string, number> = { 'POST /v1/imports': 6 * 1024 * 1024 };
export const bodyLimitOf = (r: Route) => BODY_LIMITS[keyOf(r)] ?? 256 * 1024;
export const isCreate = (r: Route) => !ACCEPTED.has(keyOf(r)) && r.method === 'POST' && (/^\/v1\/[^/{}]+$/.test(r.path) || NESTED_COLLECTIONS.some((c) => r.path === `/v1/${c}`));
/** POST routes under a resource that answer 201 all the same: they create something (a payment answers with its order). */
export const CREATED_BY_ACTION = new Set([
  'POST /v1/orders/{id}/payments', 'POST /v1/opportunities/{id}/quotes', 'POST /v1/quotes/{id}/order', 'POST /v1/tickets/{id}/comments',
  // An upload URL (it has no route of its own, so no Location).
  'POST /v1/imports/uploads',
]);
/** The status a successful call of a route with a body answers. */
export const successStatus = (r: Route) => (ACCEPTED.has(keyOf(r)) ? 202 : isCreate(r) || CREATED_BY_ACTION.has(keyOf(r)) ? 201 : 200);

/** Routes whose `{id}` is a record of another collection than their path says: a pool account is an account. */
export const RECORD_COLLECTION: Record<string, string> = { 'POST /v1/pool/{id}/claim': 'accounts', 'POST /v1/pool/{id}/assign': 'accounts' };

/** `/v1/<collection>/...` → `<collection>` (where the route's record is read: RECORD_COLLECTION). */
export function collectionOf(r: Route): string {
  const mapped = RECORD_COLLECTION[keyOf(r)];
  if (mapped) return mapped;
  const nested = NESTED_COLLECTIONS.find((c) => r.path === `/v1/${c}` || r.path.startsWith(`/v1/${c}/`));
  if (nested) return nested;
  const m = /^\/v1\/([^/{}]+)/.exec(r.path);
  if (!m) throw new Error(`route ${keyOf(r)}: path does not start with /v1/<collection>`);
  return m[1]!;
}

const isCollection = (c: string): c is Collection => (COLLECTIONS as readonly string[]).includes(c);

/** The seeder for a route's `{id}`; throws naming the route when there is none. */
export function seederFor(r: Route): Seeder {
  const special = routeSeeders[keyOf(r)];
  if (special) return special;
  const c = collectionOf(r);
  if (!isCollection(c)) {
    throw new Error(`route ${keyOf(r)} has no seeder: add seed['${c}'] to test/support/fixtures.ts`);
  }
  return seed[c];
}

/** The valid body of a POST/PATCH route; throws naming the route when there is none. */
export function bodyFor(r: Route): (refs: Refs) => Body {
  const b = validBody[keyOf(r)];
  if (!b) throw new Error(`route ${keyOf(r)} has no valid body: add validBody['${keyOf(r)}'] to test/support/fixtures.ts`);
  return b;
}

/** The reference fields of a POST/PATCH route; throws naming the route when they are not declared. */
export function referencesOf(r: Route): Record<string, 'accounts' | 'contacts' | 'users'> {
  const refs = referenceFields[keyOf(r)];
  if (!refs) throw new Error(`route ${keyOf(r)} has no referenceFields entry in test/support/fixtures.ts`);
  return refs;
}

/** The month that `{period}` routes (targets) are called with. */
export const PERIOD = '2026-07';
/** The entity that `{entity}` routes (custom fields) are called with. */
export const FIELDS_ENTITY = 'contacts';
/** The file that `{file}` routes (CSV exports) are called with. */
export const EXPORT_FILE = 'contacts.csv';

/** The route's URL with `{id}` (and `{period}`) filled in. */
export function urlOf(r: Route, id?: string): string {
  if (!hasIdParam(r)) return (isList(r) ? listUrl(r) : r.path).replace('{period}', PERIOD).replace('{entity}', FIELDS_ENTITY).replace('{file}', EXPORT_FILE);
  if (!id) throw new Error(`route ${keyOf(r)} needs an id`);
  // A second parameter comes from the seeder of the record (otherParams); for an id seeded by no one, any id: it is missing too.
  const more = otherParams.get(id) ?? {};
  return r.path
    .replace('{id}', encodeURIComponent(id))
    .replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(more[name] ?? '01JZZZZZZZZZZZZZZZZZZZZZZZ'));
}

/** Every route of the table, for generated tests. */
export const allRoutes: readonly Route[] = routes;
/**
 * The routes of the API proper: every route but the public ones (`/u/…`, `/t/…`, `/s/…`, `/in/forms/…`), which have no
 * identity, no roles and no JSON bodies; they prove themselves by a signed token in the path
 * (their tests: test/marketing/dispatch.test.ts "public routes"; the fuzz test takes them too).
 */
export const apiRoutes: readonly Route[] = routes.filter((r) => !r.public);

/** Routes missing a seeder or valid body or reference declaration: what the completeness tests report. */
export function uncoveredRoutes(): string[] {
  const missing: string[] = [];
  for (const r of apiRoutes) {
    if (hasIdParam(r)) {
      try {
        seederFor(r);
      } catch (err) {
        missing.push((err as Error).message);
      }
    }
    if (hasBody(r)) {
      if (!validBody[keyOf(r)]) missing.push(`route ${keyOf(r)} has no valid body`);
      if (!referenceFields[keyOf(r)]) missing.push(`route ${keyOf(r)} has no referenceFields entry`);
    }
  }
  return missing;
}

// ---------------------------------------------------------------------------------------
// Reading state back

/** Every item of a list, walking its cursors (limit 100). */
export async function listAll<T = any>(caller: Caller, url: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const sep = url.includes('?') ? '&' : '?';
    const res: Sent = await send(caller, 'GET', `${url}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new Error(`listing ${url}: ${res.req} answered ${res.status} ${res.body.slice(0, 300)}`);
    items.push(...(res.json.items as T[]));
    cursor = res.json.nextCursor as string | null;
    if (!cursor) return items;
  }
  throw new Error(`listing ${url}: more than 1000 pages`);
}

/** Ids of every record of a collection that `caller` lists (an admin lists the whole tenant). */
export async function idsOf(caller: Caller, collection: string): Promise<string[]> {
  return (await listAll<{ id: string }>(caller, `/v1/${collection}`)).map((x) => x.id).sort();
}

/** `GET /v1/<collection>/{id}` as `caller`: the record, or undefined on 404. */
export async function fetchRecord(caller: Caller, collection: string, id: string): Promise<Record<string, any> | undefined> {
  const res = await send(caller, 'GET', `/v1/${collection}/${encodeURIComponent(id)}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`reading ${collection}/${id}: ${res.req} answered ${res.status} ${res.body.slice(0, 300)}`);
  return res.json;
}
