/**
 * Injected faults against the write routes (issue 11 point 3), shared by the tests
 * (test/faults/write-routes-*.test.ts: one fault per route) and the bench (bench/faults.ts:
 * every fault kind at every call of every route).
 *
 * One case: two tenants seeded alike. The twin runs the request with no fault, which shows what
 * the request does (its answer, its calls, the change it makes to the tenant's items). The other
 * runs it with a fault at one of those calls; its answer must be the twin's (the SDK's retries won)
 * or a 503 problem+json `unavailable` with Retry-After, and the tenant's items must then be as
 * before (nothing) or changed as the twin's (the whole effect). A retry without the fault, as the
 * 503 asks, must then answer as the twin and leave the whole effect, once.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { routes, type Route } from '#functions/routes.ts';
import { call, type RequestOptions } from '#test/support/api.ts';
import { signedHeaders } from '#domain/integrations/standard-webhooks.ts';
import { dynamoFaults, type FaultKind, type FaultPlan } from '#test/support/faults.ts';
import { bodyFor, collectionOf, hasBody, hasIdParam, keyOf, seed, seederFor, urlOf, validBody, type Caller, type Refs } from '#test/support/fixtures.ts';
import { isRateLimitPartition } from '#domain/integrations/rate-limits.ts';
import { runCampaignDispatch } from '#domain/marketing/dispatch.ts';
import { sendCsatInvitation } from '#domain/service/surveys-csat.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { linkIn, mailbox } from '#test/marketing/support.ts';

/** Every route that writes: POST, PUT, PATCH, DELETE of the route table. */
export const writeRoutes: readonly Route[] = routes.filter((r) => r.method !== 'GET');
/** The write routes with a fault case (every one of the API, and the public ones PUBLIC_CASES knows how to call), those `also` keeps. */
export const faultableRoutes = (also: (r: Route) => boolean = () => true): Route[] => writeRoutes.filter((r) => (!r.public || PUBLIC_CASES[keyOf(r)]) && also(r));

/**
 * Routes whose use case is documented as steps each safe to repeat (a merge is too big for one
 * transaction: domain/accounts/merge.ts): interrupted, they may leave their steps' work, and the
 * same request again finishes it. For these, what a fault leaves is no partial write as long as
 * the retry then ends with exactly the whole effect.
 */
export const RESUMABLE = new Set(['POST /v1/accounts/{id}/merge']);

/** The DynamoDB operations that write. */
export const WRITE_OPS = ['TransactWriteItems', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'];

type Item = Record<string, unknown>;

/** Every item of a tenant: keyed by its tenant prefix, or naming the tenant (a form's public pointer). The test's own table: a Scan is fine. */
export async function tenantItems(tenant: string): Promise<Map<string, string>> {
  const items = new Map<string, string>();
  let start: Item | undefined;
  do {
    const out = await db.send(
      new ScanCommand({
        TableName: tableName(),
        FilterExpression: 'begins_with(PK, :t) OR tenantId = :id',
        ExpressionAttributeValues: { ':t': `T#${tenant}#`, ':id': tenant },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of out.Items ?? []) {
      // The rate limiter's counters count every request, faulted or not, and a new minute is a new item.
      if (isRateLimitPartition(item.PK as string)) continue;
      items.set(`${item.PK}|${item.SK}`, JSON.stringify(item));
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * What changed between two snapshots, as a sorted list of `added|removed|changed:<kind>` where the
 * kind is the item's `entityType` (or its key's label): two tenants' changes compare without their ids.
 */
export function changeShape(before: Map<string, string>, after: Map<string, string>): string[] {
  const kind = (key: string, json: string) => {
    const item = JSON.parse(json) as Item;
    if (typeof item.entityType === 'string') return item.entityType;
    const [pk = '', sk = ''] = key.split('|');
    const label = (s: string) => s.split('#').filter((x) => /^[A-Z][A-Z_]*$/.test(x)).join('#');
    return `${label(pk)}/${label(sk)}`;
  };
  const shape: string[] = [];
  for (const [k, v] of after) {
    const was = before.get(k);
    if (was === undefined) shape.push(`added:${kind(k, v)}`);
    else if (was !== v) shape.push(`changed:${kind(k, v)}`);
  }
  for (const [k, v] of before) if (!after.has(k)) shape.push(`removed:${kind(k, v)}`);
  return shape.sort();
}

/** The keys that changed between two snapshots (`added|removed|changed:<PK>|<SK>`), for a failure's message. */
export function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of after) if (before.get(k) !== v) out.push(`${before.has(k) ? 'changed' : 'added'}:${k}`);
  for (const k of before.keys()) if (!after.has(k)) out.push(`removed:${k}`);
  return out.sort();
}

export interface Prepared {
  /** Whose items the request changes. */
  tenant: string;
  /** Null for a public route (it proves itself by a signature). */
  caller: Caller | null;
  opts?: RequestOptions;
  method: string;
  url: string;
  body: unknown;
}

/**
 * A tenant seeded for the route, and the valid request to make (as the role matrix builds them):
 * the tenant's admin acts on a record of rep alice's (an admin may not reclaim its own released
 * account at once), with references of its own.
 */
export async function prepare(route: Route, tenant: string): Promise<Prepared> {
  const publicCase = PUBLIC_CASES[keyOf(route)];
  if (publicCase) return publicCase(tenant);
  const admin: Caller = { tenant, user: 'root', role: 'admin' };
  const alice: Caller = { tenant, user: 'alice', role: 'rep', team: 'east' };
  // What a tenant's and a user's first requests write (the users directory, the tenant's rules
  // registry, its default pipeline) happens now, not in the request under test.
  for (const c of [admin, alice]) await call(c, 'GET', '/v1/tasks');
  for (const path of ['/v1/pipelines', '/v1/pool/rules', '/v1/reports/funnel']) await call(admin, 'GET', path);
  const [refs, id] = await Promise.all([
    hasBody(route) ? refsFor(route, admin) : undefined,
    hasIdParam(route) ? seederFor(route)(alice) : undefined,
  ]);
  const body = hasBody(route) ? bodyFor(route)(refs!) : undefined;
  // A user's notifications are its own alone (no one else may open them, not even an admin).
  const caller = collectionOf(route) === 'notifications' ? alice : admin;
  return { tenant, caller, method: route.method, url: urlOf(route, id), body };
}

/** Only the references the route's valid body names (a probe reads which), made by `who`: a case seeds what it needs. */
async function refsFor(route: Route, who: Caller): Promise<Refs> {
  const used = new Set<string>();
  const probe = new Proxy({}, { get: (_, k) => (used.add(String(k)), 'probe') });
  bodyFor(route)(probe as Refs);
  const refs: Refs = {};
  if (used.has('userId')) refs.userId = who.user;
  if (used.has('accountId') || used.has('contactId')) refs.accountId = await seed.accounts(who);
  if (used.has('contactId')) refs.contactId = await seed.contacts(who, { accountId: refs.accountId! });
  if (used.has('spareAccountId')) refs.spareAccountId = await seed.accounts(who);
  if (used.has('segmentId')) refs.segmentId = await seed.segments(who);
  return refs;
}

let messages = 0;

/**
 * The campaign-dispatch job, one run at a time: twins are prepared at once, and a run that found
 * the other's campaign leased would return before it was sent. A run sends every campaign due.
 */
let dispatching: Promise<unknown> = Promise.resolve();
function dispatchSerially(): Promise<unknown> {
  const run = dispatching.then(() => runCampaignDispatch({ sleep: async () => undefined }));
  dispatching = run.catch(() => undefined);
  return run;
}

/** A page's form posted by a client that asks for JSON: a failure is then problem+json (a browser gets the same status and Retry-After as a page). */
const formPost = (fields: Record<string, string>): RequestOptions => ({
  raw: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
});

/** A created resource's id, or the seeding's failure named. */
function created(res: Answer, what: string): string {
  if (res.status !== 201) throw new Error(`${what} for the fault case: ${res.status} ${res.body.slice(0, 200)}`);
  return String(res.json.id);
}

/** Public write routes, which prove themselves by a signature instead of a token: how to make a genuine request of each. */
export const PUBLIC_CASES: Record<string, (tenant: string) => Promise<Prepared>> = {
  // A submission to an inbound form, signed with the form's secret (Standard Webhooks).
  'POST /in/forms/{id}': async (tenant) => {
    const admin: Caller = { tenant, user: 'root', role: 'admin' };
    await call(admin, 'GET', '/v1/tasks');
    for (const path of ['/v1/pipelines', '/v1/pool/rules', '/v1/reports/funnel']) await call(admin, 'GET', path);
    const form = await call(admin, 'POST', '/v1/forms', validBody['POST /v1/forms']!({ userId: admin.user }));
    if (form.status !== 201) throw new Error(`a form for the fault case: ${form.status} ${form.body.slice(0, 200)}`);
    const raw = JSON.stringify(validBody['POST /in/forms/{id}']!({}));
    const signed = signedHeaders([form.json.secret as string], `msg_faults_${++messages}_${tenant}`, new Date(), raw);
    return { tenant, caller: null, method: 'POST', url: `/in/forms/${form.json.id}`, body: undefined, opts: { raw, headers: { 'content-type': 'application/json', ...signed } } };
  },
  // RFC 8058 one-click from a campaign mail's List-Unsubscribe link: a contact in a segment, the campaign sent to it.
  'POST /u/{token}': async (tenant) => {
    const admin: Caller = { tenant, user: 'root', role: 'admin' };
    const email = `fan-${tenant}@example.cn`;
    created(await call(admin, 'POST', '/v1/contacts', { name: '范先生', email, tags: ['vip'] }), 'a contact');
    const segmentId = created(await call(admin, 'POST', '/v1/segments', validBody['POST /v1/segments']!({})), 'a segment');
    const campaignId = created(await call(admin, 'POST', '/v1/campaigns', validBody['POST /v1/campaigns']!({ segmentId })), 'a campaign');
    const sent = await call(admin, 'POST', `/v1/campaigns/${campaignId}/send`);
    if (sent.status !== 200) throw new Error(`sending the campaign for the fault case: ${sent.status} ${sent.body.slice(0, 200)}`);
    await dispatchSerially();
    const [mail] = await mailbox(tenant, `&campaignId=${campaignId}`);
    if (!mail) throw new Error(`no campaign mail for the fault case of ${tenant}`);
    return { tenant, caller: null, method: 'POST', url: linkIn(mail.headers['List-Unsubscribe'], '/u/'), body: undefined, opts: formPost({ 'List-Unsubscribe': 'One-Click' }) };
  },
  // A CSAT answer from the invitation mailed when a ticket is first solved (the consumer given the solve's event).
  'POST /s/{token}': async (tenant) => {
    const admin: Caller = { tenant, user: 'root', role: 'admin' };
    const sam: Caller = { tenant, user: 'sam', role: 'support' };
    for (const c of [admin, sam]) await call(c, 'GET', '/v1/notifications');
    const email = `lin-${tenant}@example.cn`;
    const accountId = created(await call(admin, 'POST', '/v1/accounts', { name: `满意度 ${tenant}` }), 'an account');
    const contactId = created(await call(admin, 'POST', '/v1/contacts', { name: '林女士', email, accountId }), 'a contact');
    const ticketId = created(await call(sam, 'POST', '/v1/tickets', { subject: '无法登录', contactId }), 'a ticket');
    const solved = await call(sam, 'PATCH', `/v1/tickets/${ticketId}`, { status: 'solved' });
    if (solved.status !== 200) throw new Error(`solving the ticket for the fault case: ${solved.status} ${solved.body.slice(0, 200)}`);
    const event = [...(await tenantItems(tenant)).values()].map((json) => JSON.parse(json) as Item).find((i) => i.entityType === 'OUTBOX' && (i.event as DomainEvent).type === 'ticket.solved')?.event;
    if (!event || (await sendCsatInvitation(event as DomainEvent)) !== 'sent') throw new Error(`no CSAT invitation for the fault case of ${tenant}`);
    const [mail] = await mailbox(tenant, `&to=${encodeURIComponent(email)}`);
    if (!mail) throw new Error(`no CSAT mail for the fault case of ${tenant}`);
    return { tenant, caller: null, method: 'POST', url: linkIn(mail.html, '/s/'), body: undefined, opts: formPost({ score: '4', comment: '很好 great' }) };
  },
};

/** The public routes whose proof is a token mailed to someone: their own file (test/faults/public-tokens.test.ts) faults them at each write. */
export const TOKEN_ROUTES = new Set(['POST /u/{token}', 'POST /s/{token}']);

/** The twin (no fault) and the tenant under test, seeded alike, at once. */
export async function prepareTwins(route: Route, tenant: string): Promise<{ twin: Prepared; main: Prepared }> {
  const [twin, main] = await Promise.all([prepare(route, `${tenant}-twin`), prepare(route, tenant)]);
  return { twin, main };
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

export const send = (p: Prepared): Promise<Answer> => call(p.caller, p.method, p.url, p.body, p.opts);

export interface Reference {
  status: number;
  /** The operations the request made, attempt by attempt, in order. */
  ops: string[];
  shape: string[];
}

/** The twin's run: no fault, every call counted. */
export async function reference(p: Prepared): Promise<Reference> {
  const faults = dynamoFaults();
  const before = await tenantItems(p.tenant);
  faults.countCalls();
  const res = await send(p);
  const ops = [...faults.log];
  faults.disarm();
  if (res.status >= 400) throw new Error(`the twin's ${p.method} ${p.url} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return { status: res.status, ops, shape: changeShape(before, await tenantItems(p.tenant)) };
}

/** A fault plan aimed at the `index`-th call (0-based) of the twin's run: that operation's occurrence. */
export function planAt(ref: Reference, index: number, kind: FaultKind, times?: number): FaultPlan {
  const op = ref.ops[index]!;
  const at = ref.ops.slice(0, index + 1).filter((o) => o === op).length;
  return { kind, at, operations: [op], ...(times !== undefined ? { times } : {}) };
}

/** Calls a kind can hit: a conflict only a transaction's. */
export function callsFor(ref: Reference, kind: FaultKind): number[] {
  return ref.ops.flatMap((op, i) => (kind !== 'conflict' || op === 'TransactWriteItems' ? [i] : []));
}

export interface Outcome {
  label: string;
  status: number;
  injected: number;
  /** Problems found: a 5xx other than 503 unavailable, a partial write, a retry that did not finish the job. */
  problems: string[];
  partial: boolean;
  fiveHundred: boolean;
}

/**
 * Runs the prepared request with the fault, then checks it (answer, items), then retries it with
 * no fault and checks the whole effect is there, once.
 */
export async function faulted(p: Prepared, ref: Reference, plan: FaultPlan, label: string, resumable = false): Promise<Outcome> {
  const faults = dynamoFaults();
  const tenant = p.tenant;
  const before = await tenantItems(tenant);
  faults.arm(plan);
  let res: Answer;
  try {
    res = await send(p);
  } finally {
    faults.disarm();
  }
  const injected = faults.injected;
  const problems: string[] = [];
  let partial = false;
  let fiveHundred = false;
  const what = `${label}: ${p.method} ${p.url} → ${res.status} ${res.body.slice(0, 200)}`;
  const shape = changeShape(before, await tenantItems(tenant));
  const succeeded = res.status === ref.status;
  if (!succeeded) {
    const unavailable =
      res.status === 503 &&
      /^application\/problem\+json/.test(res.headers['content-type'] ?? '') &&
      res.json?.code === 'unavailable' &&
      Number(res.headers['retry-after']) > 0;
    // A transaction that stays contended is the documented 409 (retry it), as under a real race.
    const contended = plan.kind === 'conflict' && res.status === 409 && res.json?.code === 'concurrent_update';
    if (!unavailable && !contended) problems.push(`${what}: neither the twin's ${ref.status} nor 503 unavailable with Retry-After`);
    if (res.status >= 500 && res.status !== 503) fiveHundred = true;
    if (res.status === 503 && res.json?.code !== 'unavailable') fiveHundred = true;
    if (shape.length > 0 && !same(shape, ref.shape) && !resumable) {
      partial = true;
      problems.push(`${what}: a partial write ${JSON.stringify(shape)} (the whole effect: ${JSON.stringify(ref.shape)})`);
    }
  } else if (!same(shape, ref.shape)) {
    partial = true;
    problems.push(`${what}: succeeded with ${JSON.stringify(shape)}, not the whole effect ${JSON.stringify(ref.shape)}`);
  }
  if (!succeeded && !partial) {
    // The client retries as told: the whole effect, once.
    const again = await send(p);
    const total = changeShape(before, await tenantItems(tenant));
    const finished = again.status === ref.status && same(total, ref.shape);
    if (again.status !== ref.status) problems.push(`${what}; the retry → ${again.status} ${again.body.slice(0, 200)}, not ${ref.status}`);
    else if (!finished) problems.push(`${what}; after the retry ${JSON.stringify(total)}, not ${JSON.stringify(ref.shape)}`);
    // A resumable route's steps count as a partial write only when the retry does not finish them.
    if (resumable && shape.length > 0 && !same(shape, ref.shape) && !finished) partial = true;
  }
  return { label, status: res.status, injected, problems, partial, fiveHundred };
}

const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export { keyOf };
