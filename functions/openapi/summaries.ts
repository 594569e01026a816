/**
 * Names for the document, from the route alone: each operation's `operationId` and one-line
 * `summary`, and the tag of its resource group. REST paths say what an operation does
 * (`POST /v1/quotes/{id}/send` sends a quote), so deriving keeps every route named without a
 * second table; the words below are the vocabulary, and `SUMMARIES` (`OPERATION_IDS`) phrases
 * (names) the few routes a rule would say badly. An operation's own `summary`/`operationId` wins over both.
 */
import type { HttpFunctionName, Route } from '#functions/routes.ts';

interface Noun {
  one: string;
  many: string;
}
const noun = (one: string, many = `${one}s`): Noun => ({ one, many });

/** Path words that name a collection (or a list), with how to say one and many. */
const NOUNS: Record<string, Noun> = {
  accounts: noun('account'),
  activities: noun('activity', 'activities'),
  'api-keys': noun('API key'),
  articles: noun('knowledge-base article'),
  campaigns: noun('campaign'),
  comments: noun('comment'),
  contacts: noun('contact'),
  deliveries: noun('delivery', 'deliveries'),
  duplicates: noun('possible duplicate'),
  'event-types': noun('event type'),
  fields: noun('custom field'),
  forms: noun('form'),
  history: noun('stage change', 'stage history'),
  imports: noun('CSV import'),
  leads: noun('lead'),
  members: noun('member'),
  notifications: noun('notification'),
  opportunities: noun('opportunity', 'opportunities'),
  orders: noun('order'),
  payments: noun('payment'),
  pipelines: noun('pipeline'),
  pool: noun('pool account'),
  quotes: noun('quote'),
  recipients: noun('recipient'),
  runs: noun('run'),
  segments: noun('segment'),
  snapshots: noun('forecast snapshot'),
  suggestions: noun('suggested article'),
  suppressions: noun('suppressed address', 'suppressed addresses'),
  surveys: noun('survey'),
  targets: noun('target'),
  tasks: noun('task'),
  tickets: noun('ticket'),
  users: noun('user'),
  webhooks: noun('webhook'),
  workflows: noun('workflow'),
};

/** Path words (or pairs) that name one thing: a setting, a report. */
const THINGS: Record<string, string> = {
  '360': 'Customer 360',
  count: 'member count',
  dashboard: 'dashboard',
  forecast: 'forecast',
  'forecast/accuracy': 'forecast accuracy',
  'marketing/settings': 'marketing settings',
  'pool/rules': 'pool rules',
  'rate-limits': 'rate limits',
  'reports/funnel': 'funnel report',
  'reports/service': 'service report',
  'sla/policy': 'SLA policy',
};

/** How to say an action (`POST …/{id}/<verb>`); `{it}` is the record. Default: "<Verb> {it}". */
const ACTIONS: Record<string, string> = {
  merge: 'Merge another account into {it}',
  read: 'Mark {it} read',
  order: 'Turn {it} into an order',
  release: 'Release {it} to the pool',
  convert: 'Convert {it} into an account, a contact and an opportunity',
  'rotate-secret': 'Rotate the signing secret of {it} (the old one signs 24 h more)',
};

/** Path parameters other than ids, as words. */
const KEYS: Record<string, string> = { period: 'a month', entity: 'a record type' };

/** Routes a rule phrases badly. */
const SUMMARIES: Record<string, string> = {
  'GET /v1/duplicates': 'Find possible duplicates by name, email, phone or domain',
  'PUT /v1/targets/{period}': 'Set the target of a user or a team for a month',
  'GET /v1/targets/{period}': 'List the targets of a month',
  'PUT /v1/fields/{entity}': 'Replace the custom field definitions of a record type',
  'GET /v1/fields/{entity}': 'List the custom field definitions of a record type',
  'POST /v1/suppressions': 'Suppress an address',
  'DELETE /v1/suppressions/{id}': 'Remove an address from the suppression list',
  'GET /v1/tickets/{id}/suggestions': 'Suggest knowledge-base articles for a ticket',
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': 'Attempt a delivery of a webhook again, now',
  'POST /v1/imports/uploads': 'Get a URL to upload a large CSV to, for an import by its uploadId',
  'GET /v1/exports/{file}': 'Export the records the caller may see as CSV (accounts.csv, contacts.csv, leads.csv)',
};

/** …and the ids it derives badly (the definitions of a record type are replaced as a whole). */
const OPERATION_IDS: Record<string, string> = {
  'PUT /v1/fields/{entity}': 'replaceCustomFields',
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': 'retryWebhookDelivery',
  'GET /v1/exports/{file}': 'exportCsv',
  'POST /v1/imports/uploads': 'createImportUpload',
};

const article = (phrase: string) => (/^[aeio]/i.test(phrase) ? `an ${phrase}` : `a ${phrase}`);
const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** "knowledge-base article" → "KnowledgeBaseArticle". */
const pascal = (phrase: string) =>
  phrase
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => capital(w.toLowerCase()))
    .join('');
const camel = (...words: string[]) => {
  const p = words.map(pascal).join('');
  return p.charAt(0).toLowerCase() + p.slice(1);
};

const VERB_OF_METHOD = { GET: 'get', POST: 'create', PUT: 'replace', PATCH: 'update', DELETE: 'delete' } as const;

export function describeRoute(route: Pick<Route, 'method' | 'path'>): { operationId: string; summary: string } {
  const key = `${route.method} ${route.path}`;
  const derived = derive(route);
  return { operationId: OPERATION_IDS[key] ?? derived.operationId, summary: SUMMARIES[key] ?? derived.summary };
}

function derive({ method, path }: Pick<Route, 'method' | 'path'>): { operationId: string; summary: string } {
  const segments = path.split('/').filter(Boolean);
  const parts = segments[0] === 'v1' ? segments.slice(1) : segments;
  const isParam = (s: string | undefined) => s !== undefined && /^\{\w+\}$/.test(s);
  const last = parts.at(-1)!;
  // The record a deeper path hangs under: `/opportunities/{id}/quotes` → opportunity.
  const parentIndex = parts.findIndex((p, i) => NOUNS[p] && parts[i + 1] === '{id}' && i + 1 < parts.length - 1);
  const parent = parentIndex >= 0 ? NOUNS[parts[parentIndex]!]!.one : undefined;
  const ofParent = parent ? ` of ${article(parent)}` : '';

  // `/<things>/{id}`: one record.
  if (last === '{id}') {
    const thing = NOUNS[parts.at(-2)!] ?? noun(parts.at(-2)!);
    const verb = VERB_OF_METHOD[method];
    const said = method === 'GET' ? 'Get' : method === 'PUT' ? 'Replace' : capital(verb);
    return { operationId: camel(verb, thing.one), summary: `${said} ${article(thing.one)}` };
  }
  // `/<things>/{key}`: the records of a key (a month's targets).
  if (isParam(last)) {
    const thing = NOUNS[parts.at(-2)!] ?? noun(parts.at(-2)!);
    const by = KEYS[last.slice(1, -1)] ?? last.slice(1, -1);
    if (method === 'GET') return { operationId: camel('list', thing.many), summary: `List the ${thing.many} of ${by}` };
    return { operationId: camel(method === 'PUT' ? 'set' : VERB_OF_METHOD[method], thing.one), summary: `${method === 'PUT' ? 'Set' : capital(VERB_OF_METHOD[method])} ${article(thing.one)} for ${by}` };
  }
  // `/<things>/{id}/<verb>`: an action on a record.
  if (method === 'POST' && parts.at(-2) === '{id}' && !NOUNS[last]) {
    const thing = NOUNS[parts.at(-3)!] ?? noun(parts.at(-3)!);
    const phrase = (ACTIONS[last] ?? `${capital(last)} {it}`).replace('{it}', article(thing.one));
    return { operationId: camel(last, thing.one), summary: phrase };
  }
  // `/<things>` or `/<record>/{id}/<things>`: a list, and creating one of it.
  const things = NOUNS[last];
  if (things) {
    if (method === 'GET') return { operationId: camel('list', parent ?? '', things.many), summary: `List ${parent ? `the ${things.many}` : things.many}${ofParent}` };
    if (method === 'POST') return { operationId: camel('create', parent ?? '', things.one), summary: `${parent ? 'Add' : 'Create'} ${article(things.one)}${parent ? ` to ${article(parent)}` : ''}` };
  }
  // A single thing: a setting, a report, a record's view.
  const words = parts.filter((p, i) => !isParam(p) && i !== parentIndex);
  const name = THINGS[words.join('/')] ?? THINGS[last] ?? words.join(' ');
  const verb = method === 'GET' ? 'get' : method === 'PUT' ? 'replace' : method === 'POST' ? 'post' : VERB_OF_METHOD[method];
  return { operationId: camel(verb, parent ?? '', name), summary: `${capital(verb)} the ${name}${ofParent}` };
}

// ---------------------------------------------------------------------------------------
// Tags: one per resource group (HTTP function)

const TAG_OF: Partial<Record<HttpFunctionName, { name: string; description: string }>> = {
  accounts: { name: 'Accounts', description: 'Customers (客户): companies or people we sell to, their Customer 360, merging duplicates.' },
  duplicates: { name: 'Duplicates', description: 'Duplicate search (查重/撞单) over accounts, contacts and leads.' },
  contacts: { name: 'Contacts', description: 'People at accounts (联系人).' },
  activities: { name: 'Activities', description: 'Follow-ups (跟进记录): calls, meetings, emails, visits, notes.' },
  tasks: { name: 'Tasks', description: 'To-dos with a due time and an assignee.' },
  users: { name: 'Users', description: "The tenant's users, as their tokens introduced them." },
  pool: { name: 'Public pool', description: 'The public pool (公海): its rules, claims, assignments, releases and locks.' },
  notifications: { name: 'Notifications', description: "The caller's own notifications." },
  leads: { name: 'Leads', description: 'Prospects (潜在客户) and their conversion.' },
  quotes: { name: 'Quotes', description: 'Quotes (报价单) on opportunities, with server-computed totals.' },
  orders: { name: 'Orders', description: 'Orders (订单/合同) and their payments (回款).' },
  targets: { name: 'Targets', description: 'Monthly sales targets (目标) of users and teams.' },
  pipelines: { name: 'Pipelines', description: 'Sales pipelines (销售阶段) and their stages.' },
  opportunities: { name: 'Opportunities', description: 'Deals (商机) moving through a pipeline, with their stage history.' },
  analytics: { name: 'Analytics', description: 'Dashboard (仪表盘), funnel (销售漏斗) and forecast (销售预测).' },
  fields: { name: 'Custom fields', description: 'Custom fields (客户画像) of accounts, contacts and leads.' },
  suppressions: { name: 'Suppressions', description: 'Addresses no campaign, survey or workflow email may reach.' },
  segments: { name: 'Segments', description: 'Audiences defined by conditions on contacts, leads and accounts.' },
  workflows: { name: 'Workflows', description: 'Automations triggered by events.' },
  campaigns: { name: 'Campaigns', description: 'Email campaigns with tracking and unsubscribe, and the marketing settings.' },
  public: { name: 'Public links', description: 'Links in emails, opened with no token: each proves itself by the signed token in its path.' },
  kb: { name: 'Knowledge base', description: 'Articles (知识库) with full-text search, Chinese included.' },
  surveys: { name: 'Surveys', description: 'NPS surveys and the service report.' },
  tickets: { name: 'Tickets', description: 'Support tickets (工单) with SLA clocks, comments and the SLA policy.' },
  forms: { name: 'Forms', description: 'Inbound web forms: signed submissions (Standard Webhooks) become leads.' },
  webhooks: { name: 'Webhooks', description: 'Outbound webhooks: signed deliveries of events, retried for 72 hours, and their delivery log.' },
  imports: { name: 'Import and export', description: 'CSV import in the background (UTF-8, GB18030, Chinese headers, duplicates) and CSV export.' },
  'api-keys': { name: 'API keys', description: 'Keys for integrations: a bearer key acting with its role and team, shown once, stored hashed; and the tenant\'s rate limits.' },
  docs: { name: 'Reference', description: 'This document.' },
};

/** Functions whose routes are listed under another function's tag: a form's submissions with its forms. */
const LISTED_WITH: Partial<Record<HttpFunctionName, HttpFunctionName>> = { intake: 'forms' };

export const tagOf = (route: Pick<Route, 'fn'>): string => TAG_OF[LISTED_WITH[route.fn] ?? route.fn]?.name ?? route.fn;

/** Every described tag, in the order a reader meets them. */
export const TAGS: { name: string; description: string }[] = Object.values(TAG_OF).filter((t) => t !== undefined);
