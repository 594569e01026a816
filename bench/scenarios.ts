/**
 * The operations the benchmark measures, driven through the local router exactly as a
 * client would call the API (real tokens, API Gateway v2 events, the middleware chain),
 * so everything a request costs in DynamoDB is counted: identity, idempotency, the use
 * case and its transaction.
 *
 * Every caller is warmed up first: its first request writes the users directory once
 * per container, which is reported on its own (`users.directory.first_request.*`) and
 * kept out of the per-operation figures. Events stay in the outbox: delivering them is
 * the outbox relay's work (another function), not the request's.
 *
 * A scenario that fails (a route not there yet, an unexpected status) is reported and
 * the run carries on; operations that need its result are reported as skipped.
 */
import type { ApiResponse, Caller, RequestOptions } from '#test/support/api.ts';
import { describeOperations, type DynamoMeter, type Usage } from './dynamo-meter.ts';
import { analyticsScenarios } from './analytics.ts';
import { kbScenarios } from './kb.ts';
import { poolScenarios } from './pool.ts';
import { campaignScenarios } from './campaigns.ts';
import { durationScenarios } from './durations.ts';
import { segmentScenarios } from './segments.ts';
import { workflowScenarios } from './workflows.ts';
import { ticketScenarios } from './tickets.ts';
import { formScenarios } from './forms.ts';
import { webhookScenarios } from './webhooks.ts';
import { apiKeyScenarios } from './apikeys.ts';
import { importScenarios } from './imports.ts';
import { fuzzScenarios } from './fuzz.ts';
import { loadScenarios } from './load.ts';
import { rateLimitScenarios } from './ratelimit.ts';
import { faultScenarios } from './faults.ts';

type Api = typeof import('#test/support/api.ts');

/** How a bench part measures one operation (`runScenarios`' `measure`), and calls one unmeasured. */
export type Measure = (
  name: string,
  who: Caller,
  method: string,
  url: string,
  expected: number,
  body?: unknown,
  opts?: RequestOptions & { label?: string; note?: string },
) => Promise<ApiResponse | undefined>;
export type Call = (who: Caller, method: string, url: string, body?: unknown, opts?: RequestOptions) => Promise<ApiResponse>;

export interface Measured {
  /** Figure prefix: `accounts.create` → `accounts.create.requests`. */
  name: string;
  /** What was called, e.g. `POST /v1/accounts (Idempotency-Key)`. */
  call: string;
  usage?: Usage;
  /** Why there is no figure. */
  error?: string;
  /** Said next to the figure. */
  note?: string;
}

export interface ScenarioReport {
  operations: Measured[];
  /** Flat figures for results.json (operations and the directory's first-request cost). */
  figures: Record<string, number>;
  notes: string[];
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const pad = (n: number, width = 4) => String(n).padStart(width, '0');

/** Figures of one measured operation. */
export function usageFigures(name: string, u: Usage): Record<string, number> {
  return {
    [`${name}.requests`]: u.requests,
    [`${name}.rcu`]: round2(u.rcu),
    [`${name}.wcu`]: round2(u.wcu),
    [`${name}.gsi_wcu`]: round2(u.gsiWcu),
  };
}

export async function runScenarios(meter: DynamoMeter, api: Api, tenant: string): Promise<ScenarioReport> {
  const operations: Measured[] = [];
  const figures: Record<string, number> = {};
  const notes: string[] = [];

  const alice: Caller = { tenant, user: 'alice', role: 'rep', team: 'east' };
  const bob: Caller = { tenant, user: 'bob', role: 'rep', team: 'east' };
  const mia: Caller = { tenant, user: 'mia', role: 'manager', team: 'east' };
  const root: Caller = { tenant, user: 'root', role: 'admin' };

  /** Calls the API unmeasured (fixtures); answers the response or throws with a readable reason. */
  async function call(who: Caller, method: string, url: string, body?: unknown, opts?: RequestOptions): Promise<ApiResponse> {
    try {
      return await api.call(who, method, url, body, opts);
    } catch (err) {
      throw new Error(explain(err));
    }
  }

  /**
   * Measures one request. Answers the response when it had the expected status; else
   * records why there is no figure and answers undefined.
   */
  async function measure(
    name: string,
    who: Caller,
    method: string,
    url: string,
    expected: number,
    body?: unknown,
    opts?: RequestOptions & { label?: string; note?: string },
  ): Promise<ApiResponse | undefined> {
    const route = `${method} ${describeUrl(url)}`;
    const entry: Measured = { name, call: opts?.label ? `${route} ${opts.label}` : route, ...(opts?.note ? { note: opts.note } : {}) };
    operations.push(entry);
    const mark = meter.mark();
    let res: ApiResponse;
    try {
      res = await api.call(who, method, url, body, opts);
    } catch (err) {
      entry.error = explain(err);
      return undefined;
    }
    const usage = meter.usageSince(mark);
    if (res.status !== expected) {
      const j = res.json as { code?: string; detail?: string } | undefined;
      entry.error = `HTTP ${res.status}${j?.code ? ` ${j.code}` : ''}${j?.detail ? `: ${j.detail}` : ''} (expected ${expected})` +
        (res.status >= 500 ? '; rerun with LOG_LEVEL=ERROR to see the handler log' : '');
      return undefined;
    }
    entry.usage = usage;
    Object.assign(figures, usageFigures(name, usage));
    if (process.env.BENCH_DEBUG) {
      const records = meter.records.slice(mark);
      process.stderr.write(`bench: ${name}: ${JSON.stringify(records)}\n`);
    }
    if (usage.errors.length) notes.push(`${name}: DynamoDB errors during the request: ${usage.errors.join('; ')}`);
    return res;
  }

  function skipped(name: string, callText: string, needs: string): void {
    operations.push({ name, call: callText, error: `skipped: needs ${needs}` });
  }

  const idOf = (res: ApiResponse | undefined): string | undefined => (res?.json as { id?: string } | undefined)?.id;

  // ---- warm-up: each caller's first request records it in the users directory -------------

  for (const who of [alice, bob, mia, root]) {
    const first = meter.mark();
    const res1 = await call(who, 'GET', '/v1/accounts?limit=1');
    const firstUsage = meter.usageSince(first);
    const warm = meter.mark();
    const res2 = await call(who, 'GET', '/v1/accounts?limit=1');
    const warmUsage = meter.usageSince(warm);
    if (res1.status !== 200 || res2.status !== 200) throw new Error(`warm-up GET /v1/accounts as ${who.user} answered ${res1.status}/${res2.status}`);
    if (who === alice) {
      figures['users.directory.first_request.requests'] = firstUsage.requests - warmUsage.requests;
      figures['users.directory.first_request.wcu'] = round2(firstUsage.wcu - warmUsage.wcu);
      figures['users.directory.first_request.gsi_wcu'] = round2(firstUsage.gsiWcu - warmUsage.gsiWcu);
      notes.push(
        `users directory: a user's first request in a container costs ${firstUsage.requests - warmUsage.requests} extra request(s) ` +
          `(${describeOperations(firstUsage.byOperation)} vs ${describeOperations(warmUsage.byOperation)} warm); excluded from the operations above. ` +
          'In the cloud each function has its own containers, so every function pays it once per user and container.',
      );
    }
  }

  // ---- the pool rules every account response renders `releaseAt` with -----------------------
  // A container reads them once and keeps them POOL_RULES_CACHE_SECONDS (domain/pool/rules.ts;
  // 60 by default, an hour here so that no figure below depends on when the copy expires). The
  // first read of a tenant's rules in a container is reported on its own, like the directory's.
  process.env.POOL_RULES_CACHE_SECONDS ??= '3600';
  {
    const mark = meter.mark();
    const res = await call(root, 'GET', '/v1/pool/rules');
    const u = meter.usageSince(mark);
    if (res.status === 200) {
      figures['pool.rules.first_read.requests'] = u.requests;
      notes.push(
        `pool rules: the first read in a container for a tenant costs ${u.requests} request(s) (${describeOperations(u.byOperation)}; ` +
          'the PutItem only the very first time for the tenant: it registers it with the pool-release job); afterwards account responses use the container\'s copy.',
      );
    } else notes.push(`pool rules: GET /v1/pool/rules answered ${res.status}`);
  }

  // ---- accounts ---------------------------------------------------------------------------

  let seq = 0;
  const accountBody = (i = ++seq) => ({
    name: `Bench Account ${pad(i)} 有限公司`,
    domain: `bench-${pad(i)}.com.cn`,
    email: `sales${pad(i)}@bench-${pad(i)}.com.cn`,
    phone: `+86 138 0000 ${pad(i)}`,
    industry: 'Manufacturing',
    tier: 'B',
    tags: ['bench', 'east-china'],
    address: `No. ${i} Century Avenue, Pudong, Shanghai`,
    description: 'A mid-sized manufacturer of industrial sensors; first contact at a trade fair, interested in the annual plan. '.repeat(2).trim(),
  });

  const created = await measure('accounts.create', alice, 'POST', '/v1/accounts', 201, accountBody());
  const accountId = idOf(created);

  // A realistic first page for the lists: the rep holds 30 accounts.
  for (let i = 0; i < 29; i++) {
    const r = await call(alice, 'POST', '/v1/accounts', accountBody());
    if (r.status !== 201) throw new Error(`seeding accounts: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  }

  const key = `bench-${tenant}-1`;
  const idempotentBody = accountBody();
  const first = await measure('accounts.create.idempotent', alice, 'POST', '/v1/accounts', 201, idempotentBody, {
    headers: { 'idempotency-key': key },
    label: '(Idempotency-Key, first)',
  });
  const replay = await measure('accounts.create.replay', alice, 'POST', '/v1/accounts', 201, idempotentBody, {
    headers: { 'idempotency-key': key },
    label: '(Idempotency-Key, repeated)',
  });
  if (first && replay && idOf(first) !== idOf(replay)) notes.push('accounts.create.replay: the repeated request created a second account (ids differ)');

  await measure('accounts.create.for_other', mia, 'POST', '/v1/accounts', 201, { ...accountBody(), ownerId: 'alice' }, {
    label: '(manager, ownerId: alice)',
  });

  if (accountId) {
    await measure('accounts.get', alice, 'GET', `/v1/accounts/${accountId}`, 200);
  } else skipped('accounts.get', 'GET /v1/accounts/{id}', 'accounts.create');
  await measure('accounts.list', alice, 'GET', '/v1/accounts', 200, undefined, { label: '(rep, own)' });
  await measure('accounts.list.manager', mia, 'GET', '/v1/accounts', 200, undefined, { label: '(manager, team)' });
  await measure('accounts.list.admin', root, 'GET', '/v1/accounts', 200, undefined, { label: '(admin, tenant)' });
  await measure('accounts.list.search', alice, 'GET', '/v1/accounts?q=bench%20account%2000&tier=B', 200, undefined, {
    label: '(name prefix + tier)',
  });
  if (accountId) {
    await measure('accounts.patch', alice, 'PATCH', `/v1/accounts/${accountId}`, 200, { tier: 'A', tags: ['bench', 'vip'] }, {
      headers: { 'if-match': '"1"' },
      label: '(If-Match)',
    });
  } else skipped('accounts.patch', 'PATCH /v1/accounts/{id}', 'accounts.create');
  const doomed = idOf(await call(alice, 'POST', '/v1/accounts', accountBody()));
  if (doomed) {
    await measure('accounts.delete', alice, 'DELETE', `/v1/accounts/${doomed}`, 204, undefined, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
  } else skipped('accounts.delete', 'DELETE /v1/accounts/{id}', 'an account to delete');

  // ---- Customer 360 fixture: an account with 20 contacts, 50 activities and 10 tasks ---------

  const fixtureId = idOf(await call(alice, 'POST', '/v1/accounts', accountBody()));
  if (!fixtureId) throw new Error('could not create the Customer 360 account');

  const contactBody = (i: number) => ({
    name: `联系人 ${pad(i, 2)} Bench`,
    accountId: fixtureId,
    email: `contact${pad(i, 2)}.${tenant}@bench-contacts.com.cn`,
    phone: `+86 139 1111 ${pad(i)}`,
    title: 'Procurement Manager',
    tags: ['decision-maker'],
  });
  const activityBody = (i: number) => ({
    type: 'call',
    subject: `Follow-up call ${i}: pricing for the annual plan`,
    accountId: fixtureId,
    body: 'Discussed volume pricing and delivery schedule; they want a revised quote by Friday and a site visit next month.',
  });
  const taskBody = (i: number) => ({
    title: `Send revised quote ${i}`,
    dueAt: new Date(Date.now() + (i + 1) * 86_400_000).toISOString(),
    accountId: fixtureId,
  });

  const made = { contacts: [] as string[], activities: [] as string[], tasks: [] as string[] };
  const fixtureErrors: string[] = [];
  const kinds = [
    { kind: 'contacts', n: 20, body: contactBody },
    { kind: 'activities', n: 50, body: activityBody },
    { kind: 'tasks', n: 10, body: taskBody },
  ] as const;
  for (const { kind, n, body } of kinds) {
    // The first one of each kind is the measured create.
    const res = await measure(`${kind}.create`, alice, 'POST', `/v1/${kind}`, 201, body(1));
    const id = idOf(res);
    if (!id) {
      fixtureErrors.push(`${kind}: ${operations.at(-1)?.error ?? 'no id'}`);
      continue;
    }
    made[kind].push(id);
    for (let i = 2; i <= n; i++) {
      let r: ApiResponse;
      try {
        r = await call(alice, 'POST', `/v1/${kind}`, body(i));
      } catch (err) {
        fixtureErrors.push(`${kind} #${i}: ${(err as Error).message}`);
        break;
      }
      if (r.status !== 201) {
        fixtureErrors.push(`${kind} #${i}: HTTP ${r.status} ${r.body.slice(0, 160)}`);
        break;
      }
      made[kind].push(idOf(r)!);
    }
  }
  const quoteBody = (i: number) => ({
    name: `Bench quote ${i} 报价单`,
    lines: [
      { product: 'Sensor dashboard licence 传感器看板', quantity: 25, unitPrice: 1999.99, discountPct: 12.5 },
      { product: 'On-site implementation 实施', description: 'Two engineers, two and a half days on site.', quantity: 2.5, unitPrice: 8000 },
      { product: 'Annual support 年度支持', quantity: 1, unitPrice: 36000, discountPct: 5 },
    ],
    validUntil: '2030-12-31',
    notes: 'Prices include VAT; delivery within 30 days of the order.',
  });
  // Issue 3: 5 orders (each with a payment) and 5 quotes in the fixture account's collection (quotes: below,
  // on an opportunity of the account). Created unmeasured; what they cost is measured in the sales section.
  const fixtureSales = { orders: [] as string[], quotes: [] as string[], errors: [] as string[] };
  for (let i = 1; i <= 5; i++) {
    try {
      const o = await call(alice, 'POST', '/v1/orders', { accountId: fixtureId, name: `Bench contract ${i} 合同`, amount: 100000 + i * 1000.5, signedAt: `2026-0${i}-15T02:00:00Z`, notes: 'Annual plan, paid in instalments.' });
      if (o.status !== 201) throw new Error(`HTTP ${o.status} ${o.body.slice(0, 160)}`);
      const p = await call(alice, 'POST', `/v1/orders/${idOf(o)}/payments`, { amount: 30000, method: 'bank_transfer', reference: `BENCH-${i}` });
      if (p.status !== 201) throw new Error(`payment: HTTP ${p.status} ${p.body.slice(0, 160)}`);
      fixtureSales.orders.push(idOf(o)!);
    } catch (err) {
      fixtureSales.errors.push(`order #${i}: ${(err as Error).message}`);
      break;
    }
  }
  // Issue 3: 10 opportunities in the fixture account's collection (rank 2), across the default
  // pipeline's stages, two of them closed. The first is the measured create.
  const fixtureOpportunities: string[] = [];
  const fixtureStages = (await call(alice, 'GET', '/v1/pipelines')).json as { items: { stages: { id: string; kind: string }[] }[] };
  const defaultStages = fixtureStages.items[0]?.stages ?? [];
  const opportunityBody = (i: number) => {
    const stage = defaultStages[i % defaultStages.length];
    return {
      accountId: fixtureId,
      contactIds: made.contacts.slice(0, 2),
      name: `Bench deal ${pad(i, 2)} 智能仓储`,
      amount: 150000 + i * 1000.25,
      expectedCloseDate: `2026-${pad((i % 12) + 1, 2)}-28`,
      ...(stage ? { stageId: stage.id } : {}),
      ...(stage?.kind === 'lost' ? { lostReason: 'Budget moved to next year 预算延期' } : {}),
      needs: 'Warehouse automation for three sites, phased over two years.',
      budget: 200000,
      competitors: [{ name: 'Rival Systems 竞品', notes: 'cheaper licence, weaker support' }],
    };
  };
  {
    const res = await measure('opportunities.create', alice, 'POST', '/v1/opportunities', 201, opportunityBody(1), {
      label: '(in a stage, with contacts)',
      note: 'one BatchGetItem (account, stage, contacts), then ONE TransactWriteItems: the opportunity, the stage count, the account count, the first history entry, the event',
    });
    const first = idOf(res);
    if (first) {
      fixtureOpportunities.push(first);
      for (let i = 2; i <= 10; i++) {
        const r = await call(alice, 'POST', '/v1/opportunities', opportunityBody(i));
        if (r.status !== 201) {
          fixtureErrors.push(`opportunities #${i}: HTTP ${r.status} ${r.body.slice(0, 160)}`);
          break;
        }
        fixtureOpportunities.push(idOf(r)!);
      }
    } else fixtureErrors.push(`opportunities: ${operations.at(-1)?.error ?? 'no id'}`);
  }
  const complete = made.contacts.length === 20 && made.activities.length === 50 && made.tasks.length === 10 && fixtureOpportunities.length === 10;
  const fixtureNote = `account with ${made.contacts.length} contacts, ${made.activities.length} activities, ${made.tasks.length} open tasks, ${fixtureOpportunities.length} opportunities, ${fixtureSales.orders.length} orders`;
  if (!complete) notes.push(`Customer 360 fixture incomplete (${fixtureNote}): ${fixtureErrors.join('; ')}`);
  // The 5 quotes hang off an opportunity of the account: one the fixture already has, else one made for them.
  try {
    const listed = await call(alice, 'GET', `/v1/opportunities?accountId=${fixtureId}&limit=1`);
    let quoteOpportunity = listed.status === 200 ? (listed.json as { items: { id: string }[] }).items[0]?.id : undefined;
    if (!quoteOpportunity) {
      const o = await call(alice, 'POST', '/v1/opportunities', { accountId: fixtureId, name: 'Bench quote opportunity', amount: 300000, expectedCloseDate: '2027-06-30' });
      if (o.status !== 201) throw new Error(`opportunity: HTTP ${o.status} ${o.body.slice(0, 160)}`);
      quoteOpportunity = idOf(o);
      notes.push('Customer 360 fixture: the quotes are on an opportunity made for them (the fixture had none)');
    }
    for (let i = 1; i <= 5; i++) {
      const q = await call(alice, 'POST', `/v1/opportunities/${quoteOpportunity}/quotes`, quoteBody(i));
      if (q.status !== 201) throw new Error(`quote #${i}: HTTP ${q.status} ${q.body.slice(0, 160)}`);
      fixtureSales.quotes.push(idOf(q)!);
    }
  } catch (err) {
    fixtureSales.errors.push(`quotes: ${(err as Error).message}`);
  }
  const c360 = await measure('accounts.360', alice, 'GET', `/v1/accounts/${fixtureId}/360`, 200, undefined, {
    note: complete ? fixtureNote : `INCOMPLETE FIXTURE: ${fixtureNote}`,
  });
  if (c360) {
    const v = c360.json as { contacts?: unknown[]; activities?: unknown[]; tasks?: unknown[] };
    const got = [v.contacts?.length ?? 0, v.activities?.length ?? 0, v.tasks?.length ?? 0];
    const want = [made.contacts.length, Math.min(made.activities.length, 50), made.tasks.length];
    if (got.join() !== want.join()) {
      notes.push(`accounts.360 answered ${got[0]} contacts, ${got[1]} activities, ${got[2]} tasks; the fixture holds ${want.join(', ')}`);
    }
  }
  figures['accounts.360.fixture.contacts'] = made.contacts.length;
  figures['accounts.360.fixture.activities'] = made.activities.length;
  figures['accounts.360.fixture.tasks'] = made.tasks.length;
  figures['accounts.360.fixture.orders'] = fixtureSales.orders.length;
  figures['accounts.360.fixture.opportunities'] = fixtureOpportunities.length;
  if (c360) {
    const n = ((c360.json as { opportunities?: unknown[] }).opportunities ?? []).length;
    if (n !== fixtureOpportunities.length) notes.push(`accounts.360 answered ${n} opportunities; the fixture holds ${fixtureOpportunities.length}`);
  }
  figures['accounts.360.fixture.quotes'] = fixtureSales.quotes.length;
  if (fixtureSales.errors.length || fixtureSales.orders.length !== 5 || fixtureSales.quotes.length !== 5) {
    notes.push(`Customer 360 fixture: ${fixtureSales.orders.length} of 5 orders, ${fixtureSales.quotes.length} of 5 quotes; ${fixtureSales.errors.join('; ')}`);
  }
  if (c360) {
    const v = c360.json as { orders?: unknown[]; quotes?: unknown[] };
    if ((v.orders?.length ?? 0) !== fixtureSales.orders.length || (v.quotes?.length ?? 0) !== fixtureSales.quotes.length) {
      notes.push(`accounts.360 answered ${v.orders?.length ?? 0} orders and ${v.quotes?.length ?? 0} quotes; the fixture holds ${fixtureSales.orders.length} and ${fixtureSales.quotes.length}`);
    }
  }

  // ---- contacts ---------------------------------------------------------------------------

  const contactId = made.contacts[0];
  if (contactId) {
    await measure('contacts.get', alice, 'GET', `/v1/contacts/${contactId}`, 200);
    await measure('contacts.list', alice, 'GET', '/v1/contacts', 200, undefined, { label: '(rep, own)' });
    await measure('contacts.list.account', alice, 'GET', `/v1/contacts?accountId=${fixtureId}`, 200, undefined, { label: '(accountId)' });
    await measure('contacts.patch', alice, 'PATCH', `/v1/contacts/${contactId}`, 200, { title: 'Head of Procurement' }, {
      headers: { 'if-match': '"1"' },
      label: '(If-Match)',
    });
    const extra = idOf(await call(alice, 'POST', '/v1/contacts', { name: 'Bench Leaving Contact', accountId: accountId ?? fixtureId }));
    if (extra) await measure('contacts.delete', alice, 'DELETE', `/v1/contacts/${extra}`, 204, undefined, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
    else skipped('contacts.delete', 'DELETE /v1/contacts/{id}', 'a contact to delete');
  } else {
    for (const n of ['contacts.get', 'contacts.list', 'contacts.list.account', 'contacts.patch', 'contacts.delete']) skipped(n, 'contacts', 'contacts.create');
  }

  // ---- activities -------------------------------------------------------------------------

  const activityId = made.activities[0];
  if (activityId) {
    await measure('activities.get', alice, 'GET', `/v1/activities/${activityId}`, 200);
    await measure('activities.list', alice, 'GET', '/v1/activities', 200, undefined, { label: '(rep, own)' });
    await measure('activities.list.account', alice, 'GET', `/v1/activities?accountId=${fixtureId}`, 200, undefined, { label: '(accountId)' });
    await measure('activities.patch', alice, 'PATCH', `/v1/activities/${activityId}`, 200, { body: 'Revised: they want the quote by Thursday.' }, {
      headers: { 'if-match': '"1"' },
      label: '(If-Match)',
    });
    const extra = idOf(await call(alice, 'POST', '/v1/activities', { type: 'note', subject: 'Bench note to delete', accountId: accountId ?? fixtureId }));
    if (extra) await measure('activities.delete', alice, 'DELETE', `/v1/activities/${extra}`, 204, undefined, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
    else skipped('activities.delete', 'DELETE /v1/activities/{id}', 'an activity to delete');
  } else {
    for (const n of ['activities.get', 'activities.list', 'activities.list.account', 'activities.patch', 'activities.delete']) skipped(n, 'activities', 'activities.create');
  }

  // ---- tasks ------------------------------------------------------------------------------

  const taskId = made.tasks[0];
  if (taskId) {
    await measure('tasks.create.assign_other', mia, 'POST', '/v1/tasks', 201, { ...taskBody(99), assigneeId: 'alice' }, {
      label: '(manager, assigneeId: alice)',
    });
    await measure('tasks.get', alice, 'GET', `/v1/tasks/${taskId}`, 200);
    await measure('tasks.list', alice, 'GET', '/v1/tasks', 200, undefined, { label: '(rep, own)' });
    const before = encodeURIComponent(new Date(Date.now() + 5 * 86_400_000).toISOString());
    await measure('tasks.list.due', alice, 'GET', `/v1/tasks?assigneeId=me&status=open&dueBefore=${before}`, 200, undefined, {
      label: '(me, open, dueBefore)',
    });
    await measure('tasks.patch', alice, 'PATCH', `/v1/tasks/${taskId}`, 200, { status: 'done' }, { headers: { 'if-match': '"1"' }, label: '(done, If-Match)' });
    const extra = idOf(await call(alice, 'POST', '/v1/tasks', { title: 'Bench task to delete', dueAt: new Date(Date.now() + 86_400_000).toISOString() }));
    if (extra) await measure('tasks.delete', alice, 'DELETE', `/v1/tasks/${extra}`, 204, undefined, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
    else skipped('tasks.delete', 'DELETE /v1/tasks/{id}', 'a task to delete');
  } else {
    for (const n of ['tasks.create.assign_other', 'tasks.get', 'tasks.list', 'tasks.list.due', 'tasks.patch', 'tasks.delete']) skipped(n, 'tasks', 'tasks.create');
  }

  // ---- leads and conversion ---------------------------------------------------------------

  const leadBody = (i: number) => ({
    name: `线索 ${pad(i)} Bench`,
    company: `Bench Lead Company ${pad(i)} 有限公司`,
    email: `lead${pad(i)}.${tenant}@bench-leads.com.cn`,
    phone: `+86 137 2222 ${pad(i)}`,
    title: 'IT Director',
    source: 'trade fair',
    description: 'Met at the Shanghai industrial automation fair; asked for a demo of the sensor dashboard.',
  });
  const createdLead = await measure('leads.create', alice, 'POST', '/v1/leads', 201, leadBody(1));
  const leadIds = [idOf(createdLead)];
  for (let i = 2; i <= 30; i++) leadIds.push(idOf(await call(alice, 'POST', '/v1/leads', leadBody(i))));
  const [leadA, leadB, leadC] = leadIds;
  if (leadA) {
    await measure('leads.get', alice, 'GET', `/v1/leads/${leadA}`, 200);
    await measure('leads.patch', alice, 'PATCH', `/v1/leads/${leadA}`, 200, { status: 'qualified' }, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
  } else for (const n of ['leads.get', 'leads.patch']) skipped(n, 'leads', 'leads.create');
  await measure('leads.list', alice, 'GET', '/v1/leads', 200, undefined, { label: '(rep, own)' });
  await measure('leads.list.status', root, 'GET', '/v1/leads?status=new', 200, undefined, { label: '(admin, status partition)' });

  /** Figures of a conversion: its requests, and that the writes are one transaction (and its size). */
  const convertFigures = (name: string, res: ApiResponse | undefined) => {
    const op = operations.find((o) => o.name === name);
    if (!res || !op?.usage) return;
    const transactions = op.usage.calls.filter((c) => c.startsWith('TransactWriteItems'));
    figures[`${name}.transactions`] = transactions.length;
    figures[`${name}.transaction_items`] = Number(/\[(\d+)\]/.exec(transactions[0] ?? '')?.[1] ?? 0);
    const writes = op.usage.calls.filter((c) => !/^(GetItem|BatchGetItem|Query)/.test(c));
    if (writes.length !== 1) notes.push(`${name}: expected one write request (the transaction), saw ${op.usage.calls.join(', ')}`);
  };
  const convertNote =
    'a conversion reads the lead (one GetItem; with accountId one BatchGetItem of the lead and the account) and writes ' +
    'everything in ONE TransactWriteItems; a transaction cannot read, so 2 requests is the floor';
  if (leadA) {
    const res = await measure('leads.convert', alice, 'POST', `/v1/leads/${leadA}/convert`, 200, {}, { label: '(new account + contact)', note: convertNote });
    convertFigures('leads.convert', res);
  } else skipped('leads.convert', 'POST /v1/leads/{id}/convert', 'leads.create');
  if (leadB && accountId) {
    const res = await measure('leads.convert.into_account', alice, 'POST', `/v1/leads/${leadB}/convert`, 200, { accountId }, { label: '(accountId)' });
    convertFigures('leads.convert.into_account', res);
  } else skipped('leads.convert.into_account', 'POST /v1/leads/{id}/convert', 'leads.create and accounts.create');
  if (leadC) {
    const res = await measure(
      'leads.convert.with_opportunity',
      alice,
      'POST',
      `/v1/leads/${leadC}/convert`,
      200,
      { opportunity: { name: 'Sensor dashboard, annual plan', amount: 128000.5, expectedCloseDate: '2027-03-31' } },
      { label: '(new account + contact + opportunity)', note: 'the opportunity reads its pipeline (one GetItem) before the transaction' },
    );
    convertFigures('leads.convert.with_opportunity', res);
  } else skipped('leads.convert.with_opportunity', 'POST /v1/leads/{id}/convert', 'leads.create');
  const leadD = leadIds[3];
  if (leadD) {
    const key = { 'idempotency-key': `bench-convert-${tenant}` };
    const first = await measure('leads.convert.idempotent', alice, 'POST', `/v1/leads/${leadD}/convert`, 200, {}, { headers: key, label: '(Idempotency-Key, first)' });
    convertFigures('leads.convert.idempotent', first);
    await measure('leads.convert.replay', alice, 'POST', `/v1/leads/${leadD}/convert`, 200, {}, { headers: key, label: '(Idempotency-Key, repeated)' });
  } else for (const n of ['leads.convert.idempotent', 'leads.convert.replay']) skipped(n, 'POST /v1/leads/{id}/convert', 'leads.create');

  // ---- pipelines and opportunities (issue 3) ---------------------------------------------------

  await measure('pipelines.list', alice, 'GET', '/v1/pipelines', 200, undefined, { label: '(one Query of the tenant\'s pipelines partition)' });
  const benchPipeline = await measure('pipelines.create', root, 'POST', '/v1/pipelines', 201, {
    name: 'Bench renewals 续约',
    stages: [
      { name: 'Contacted 已联系', probability: 20 },
      { name: 'Negotiating 谈判', probability: 60 },
      { name: 'Renewed 已续约', probability: 100, kind: 'won' },
      { name: 'Churned 流失', probability: 0, kind: 'lost' },
    ],
  }, { label: '(admin, 4 stages)' });
  const benchPipelineJson = benchPipeline?.json as { id: string; stages: { id: string; name: string; probability: number; kind: string }[] } | undefined;
  if (benchPipelineJson) {
    await measure('pipelines.get', alice, 'GET', `/v1/pipelines/${benchPipelineJson.id}`, 200);
    const [contacted, negotiating, renewed, churned] = benchPipelineJson.stages;
    await measure('pipelines.patch', root, 'PATCH', `/v1/pipelines/${benchPipelineJson.id}`, 200, {
      stages: [{ name: 'Qualified 已确认', probability: 10 }, contacted, { ...negotiating, probability: 65 }, renewed, churned],
    }, { headers: { 'if-match': '"1"' }, label: '(admin: add a stage, re-weight one, If-Match)' });
  } else for (const n of ['pipelines.get', 'pipelines.patch']) skipped(n, 'pipelines', 'pipelines.create');

  const oppAccountId = accountId ?? fixtureId;
  const moving = await call(alice, 'POST', '/v1/opportunities', { accountId: oppAccountId, name: 'Bench moving deal 推进中', amount: 480000.5, expectedCloseDate: '2026-12-15' });
  const movingId = moving.status === 201 ? idOf(moving) : undefined;
  const stageNamed = (kind: string, i = 0) => defaultStages.filter((st) => st.kind === kind)[i]?.id;
  if (movingId) {
    const moveNote = 'one BatchGetItem (the opportunity and the target stage), then ONE TransactWriteItems: the opportunity, both stage counts, both history entries, the events';
    await measure('opportunities.get', alice, 'GET', `/v1/opportunities/${movingId}`, 200);
    await measure('opportunities.move', alice, 'PATCH', `/v1/opportunities/${movingId}`, 200, { stageId: stageNamed('open', 1) }, {
      headers: { 'if-match': '"1"' },
      label: '(stageId, If-Match)',
      note: moveNote,
    });
    await measure('opportunities.move.won', alice, 'PATCH', `/v1/opportunities/${movingId}`, 200, { stageId: stageNamed('won') }, {
      label: '(to a won stage: + the account\'s open count, opportunity.won)',
    });
    await measure('opportunities.move.reopen', mia, 'PATCH', `/v1/opportunities/${movingId}`, 200, { stageId: stageNamed('open', 2), probability: 60 }, {
      label: "(manager, reopen with a probability)",
    });
    await measure('opportunities.patch', alice, 'PATCH', `/v1/opportunities/${movingId}`, 200, { amount: 495000, forecastCategory: 'commit' }, { label: '(no stage change)' });
    await measure('opportunities.history', alice, 'GET', `/v1/opportunities/${movingId}/history`, 200);
    await measure('activities.create.opportunity', alice, 'POST', '/v1/activities', 201, { type: 'meeting', subject: 'Bench demo 方案演示', opportunityId: movingId }, {
      label: "(opportunityId: its account's follow-up and the opportunity's lastActivityAt)",
    });
    await measure('activities.list.opportunity', alice, 'GET', `/v1/activities?opportunityId=${movingId}`, 200);
    const doomedOpp = await call(alice, 'POST', '/v1/opportunities', { accountId: oppAccountId, name: 'Bench doomed deal', amount: 1, expectedCloseDate: '2026-12-15' });
    if (doomedOpp.status === 201) {
      await measure('opportunities.delete', alice, 'DELETE', `/v1/opportunities/${idOf(doomedOpp)}`, 204, undefined, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
    } else skipped('opportunities.delete', 'DELETE /v1/opportunities/{id}', 'an opportunity to delete');
  } else {
    for (const n of ['opportunities.get', 'opportunities.move', 'opportunities.move.won', 'opportunities.move.reopen', 'opportunities.patch', 'opportunities.history', 'activities.create.opportunity', 'activities.list.opportunity', 'opportunities.delete']) {
      skipped(n, 'opportunities', `an opportunity (POST /v1/opportunities answered ${moving.status})`);
    }
  }
  await measure('opportunities.list', alice, 'GET', '/v1/opportunities', 200, undefined, { label: '(rep, own)' });
  await measure('opportunities.list.open', mia, 'GET', '/v1/opportunities?status=open&closeFrom=2026-01-01&closeTo=2026-12-31', 200, undefined, { label: '(manager, team, status + close dates: one key range)' });
  await measure('opportunities.list.close', root, 'GET', '/v1/opportunities?closeFrom=2026-06-01&closeTo=2026-12-31', 200, undefined, { label: '(admin, close dates: the open/won/lost ranges in turn)' });
  if (stageNamed('open')) {
    await measure('opportunities.list.stage', root, 'GET', `/v1/opportunities?stageId=${stageNamed('open')}`, 200, undefined, { label: "(admin, the pipeline's board: the stage item, then one key range)" });
  } else skipped('opportunities.list.stage', 'GET /v1/opportunities?stageId=', 'the default pipeline');
  await measure('opportunities.list.account', alice, 'GET', `/v1/opportunities?accountId=${fixtureId}`, 200, undefined, { label: "(accountId: the account's collection)" });

  // ---- quotes (issue 3) -------------------------------------------------------------------------

  const quoteOpp = await call(alice, 'POST', '/v1/opportunities', { accountId: accountId ?? fixtureId, name: 'Bench quoted deal', amount: 300000, expectedCloseDate: '2027-06-30' });
  const quoteOppId = quoteOpp.status === 201 ? idOf(quoteOpp) : undefined;
  if (quoteOppId) {
    const quoteNote = 'reads the opportunity (one GetItem), then ONE TransactWriteItems: the quote, a check that the opportunity is still on its account, the event';
    const q = await measure('quotes.create', alice, 'POST', `/v1/opportunities/${quoteOppId}/quotes`, 201, quoteBody(1), { note: quoteNote });
    const quoteId = idOf(q);
    for (let i = 2; i <= 10; i++) await call(alice, 'POST', `/v1/opportunities/${quoteOppId}/quotes`, quoteBody(i));
    await measure('quotes.list', alice, 'GET', `/v1/opportunities/${quoteOppId}/quotes`, 200);
    if (quoteId) {
      await measure('quotes.get', alice, 'GET', `/v1/quotes/${quoteId}`, 200);
      await measure('quotes.patch', alice, 'PATCH', `/v1/quotes/${quoteId}`, 200, { notes: 'Revised delivery terms.' }, { headers: { 'if-match': '"1"' }, label: '(If-Match)' });
      await measure('quotes.send', alice, 'POST', `/v1/quotes/${quoteId}/send`, 200, { note: 'Sent by email' });
      await measure('quotes.accept', mia, 'POST', `/v1/quotes/${quoteId}/accept`, 200, {}, { label: "(manager, a rep's quote)" });
      await measure('quotes.order', alice, 'POST', `/v1/quotes/${quoteId}/order`, 201, { signedAt: '2026-07-01T00:00:00Z' }, { label: '(accepted quote → order)' });
    } else {
      for (const n of ['quotes.get', 'quotes.patch', 'quotes.send', 'quotes.accept', 'quotes.order']) skipped(n, 'quotes', 'quotes.create');
    }
  } else {
    for (const n of ['quotes.create', 'quotes.list', 'quotes.get', 'quotes.patch', 'quotes.send', 'quotes.accept', 'quotes.order']) {
      skipped(n, 'quotes', `an opportunity (POST /v1/opportunities answered ${quoteOpp.status})`);
    }
  }

  // ---- orders, payments, targets (issue 3) ----------------------------------------------------

  const orderAccountId = accountId ?? fixtureId;
  const orderBody = (i: number) => ({
    accountId: orderAccountId,
    name: `Bench framework contract ${pad(i)} 框架合同`,
    amount: 256000.5,
    currency: 'CNY',
    signedAt: '2026-06-30T08:00:00Z',
    notes: 'Three instalments: 30 % on signing, 40 % on delivery, 30 % on acceptance.',
  });
  const createdOrder = await measure('orders.create', alice, 'POST', '/v1/orders', 201, orderBody(1));
  const orderId = idOf(createdOrder);
  if (orderId) {
    await measure('orders.get', alice, 'GET', `/v1/orders/${orderId}`, 200);
    const paymentNote = 'reads the order (one GetItem), then ONE TransactWriteItems: the order\'s totals guarded by outstanding >= amount, the payment, the event';
    await measure('orders.payment', alice, 'POST', `/v1/orders/${orderId}/payments`, 201, { amount: 76800.15, method: 'bank_transfer', reference: 'BENCH-PAY-1' }, { note: paymentNote });
    await measure('orders.payment.idempotent', alice, 'POST', `/v1/orders/${orderId}/payments`, 201, { amount: 1000 }, {
      headers: { 'idempotency-key': `bench-pay-${tenant}` },
      label: '(Idempotency-Key, first)',
    });
    await measure('orders.payment.replay', alice, 'POST', `/v1/orders/${orderId}/payments`, 201, { amount: 1000 }, {
      headers: { 'idempotency-key': `bench-pay-${tenant}` },
      label: '(Idempotency-Key, repeated)',
    });
    await measure('orders.payment.manager', mia, 'POST', `/v1/orders/${orderId}/payments`, 201, { amount: 0.01 }, { label: "(manager, on a rep's order)" });
    await measure('orders.payments.list', alice, 'GET', `/v1/orders/${orderId}/payments`, 200);
    await measure('orders.patch', alice, 'PATCH', `/v1/orders/${orderId}`, 200, { notes: 'Second instalment invoiced.' }, { headers: { 'if-match': '"4"' }, label: '(If-Match)' });
  } else {
    for (const n of ['orders.get', 'orders.payment', 'orders.payment.idempotent', 'orders.payment.replay', 'orders.payment.manager', 'orders.payments.list', 'orders.patch']) {
      skipped(n, 'orders', 'orders.create');
    }
  }
  for (let i = 2; i <= 30; i++) await call(alice, 'POST', '/v1/orders', orderBody(i));
  await measure('orders.list', alice, 'GET', '/v1/orders', 200, undefined, { label: '(rep, own)' });
  await measure('orders.list.manager', mia, 'GET', '/v1/orders?paymentStatus=unpaid', 200, undefined, { label: '(manager, team, paymentStatus)' });
  await measure('orders.list.account', alice, 'GET', `/v1/orders?accountId=${orderAccountId}`, 200, undefined, { label: '(accountId)' });

  await measure('targets.put', mia, 'PUT', '/v1/targets/2026-07', 200, { userId: 'alice', amount: 500000 }, { label: "(manager, a rep's)" });
  await measure('targets.put.same', mia, 'PUT', '/v1/targets/2026-07', 200, { userId: 'alice', amount: 500000 }, { label: '(the same again: no write)' });
  await measure('targets.put.team', root, 'PUT', '/v1/targets/2026-07', 200, { teamId: 'east', amount: 2000000 }, { label: '(admin, a team)' });
  await measure('targets.list', mia, 'GET', '/v1/targets/2026-07', 200, undefined, { label: '(manager, team)' });

  // ---- users ------------------------------------------------------------------------------

  await measure('users.list', mia, 'GET', '/v1/users', 200, undefined, { label: '(manager)' });
  await measure('users.list.admin', root, 'GET', '/v1/users', 200, undefined, { label: '(admin)' });

  // ---- duplicates and merge ---------------------------------------------------------------

  // One customer looked up by all four keys, as another rep, written the way a rep would type them:
  // the first bench account holds them all.
  const probe = accountBody(1);
  const search = new URLSearchParams({ name: 'BENCH ACCOUNT 0001', email: probe.email.toUpperCase(), phone: probe.phone.replace(/^\+86 /, ''), domain: `https://www.${probe.domain}/about` });
  await measure('duplicates.check', bob, 'GET', `/v1/duplicates?${search}`, 200, undefined, { label: '(name, email, phone, domain)' });

  // A merge of an account with 200 children (50 contacts, 100 activities, 50 tasks): requests per child.
  const MERGE_CHILDREN = { contacts: 50, activities: 100, tasks: 50 };
  const mergeTarget = idOf(await call(alice, 'POST', '/v1/accounts', accountBody()));
  const mergeSource = idOf(await call(alice, 'POST', '/v1/accounts', accountBody()));
  const mergeErrors: string[] = [];
  let mergeChildren = 0;
  if (mergeTarget && mergeSource) {
    const childBody = {
      contacts: (i: number) => ({ name: `合并联系人 ${pad(i)}`, accountId: mergeSource, email: `merge${pad(i)}.${tenant}@bench-merge.com.cn`, phone: `+86 135 3333 ${pad(i)}`, title: 'Engineer' }),
      activities: (i: number) => ({ type: 'call', subject: `Merge follow-up ${i}`, accountId: mergeSource, body: 'Discussed the renewal and the second site; waiting for their budget approval.' }),
      tasks: (i: number) => ({ title: `Merge task ${i}`, dueAt: new Date(Date.now() + (i + 1) * 86_400_000).toISOString(), accountId: mergeSource }),
    };
    for (const kind of ['contacts', 'activities', 'tasks'] as const) {
      for (let i = 1; i <= MERGE_CHILDREN[kind]; i++) {
        const r = await call(alice, 'POST', `/v1/${kind}`, childBody[kind](i));
        if (r.status !== 201) {
          mergeErrors.push(`${kind} #${i}: HTTP ${r.status} ${r.body.slice(0, 160)}`);
          break;
        }
        mergeChildren++;
      }
    }
    const mark = meter.mark();
    let res: ApiResponse | undefined;
    try {
      res = await api.call(mia, 'POST', `/v1/accounts/${mergeTarget}/merge`, { sourceId: mergeSource });
    } catch (err) {
      mergeErrors.push(`merge: ${explain(err)}`);
    }
    const usage = meter.usageSince(mark);
    if (res && res.status !== 200) mergeErrors.push(`merge: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    if (res?.status === 200 && mergeChildren > 0) {
      figures['accounts.merge.children'] = mergeChildren;
      figures['accounts.merge.requests'] = usage.requests;
      figures['accounts.merge.requests_per_child'] = round2(usage.requests / mergeChildren);
      figures['accounts.merge.rcu'] = round2(usage.rcu);
      figures['accounts.merge.wcu'] = round2(usage.wcu);
      figures['accounts.merge.gsi_wcu'] = round2(usage.gsiWcu);
      notes.push(
        `accounts.merge: ${usage.requests} DynamoDB requests to merge an account with ${mergeChildren} children ` +
          `(${describeOperations(usage.byOperation)}): ${round2(usage.requests / mergeChildren)} per child; ` +
          `${round2(usage.wcu)} WCU (each child is an Update and its outbox event, in transactions of 25 children).`,
      );
    }
  } else mergeErrors.push('could not create the two accounts');
  if (mergeErrors.length) notes.push(`accounts.merge: no figure: ${mergeErrors.join('; ')}`);

  // ---- the public pool and notifications (issue 4): bench/pool.ts ---------------------------
  await poolScenarios({ measure, call, meter, figures, notes, people: { alice, bob, mia, root } });

  // ---- analytics: dashboard, funnel, forecast, the nightly job, the backtest (issue 7): bench/analytics.ts
  await analyticsScenarios({ measure, call, meter, figures, notes });

  // ---- campaigns: the campaign-dispatch job over 10,000 recipients (issue 8): bench/campaigns.ts
  try {
    // Unmetered: its figures are provider calls, double sends and wall time, and the meter's
    // side reads of every write would only slow the timed run down.
    await meter.unmetered(() => campaignScenarios({ call, figures, notes, tenant }));
  } catch (err) {
    notes.push(`campaign.10k: no figures: ${explain(err)}`);
  }
  // ---- marketing audience: segment members over 10,000 contacts (issue 8): bench/segments.ts
  await segmentScenarios({ call, meter, figures, notes });
  // ---- marketing workflows: requests per event per matching workflow (issue 8 point 7): bench/workflows.ts
  await workflowScenarios({ call, meter, figures, notes, tenant });
  // ---- knowledge-base search over 10,000 articles, a two-term query; ticket suggestions (issue 9 point 4): bench/kb.ts
  await kbScenarios({ call, meter, figures, notes });
  // ---- tickets and the sla-escalation job (issue 9): bench/tickets.ts
  await ticketScenarios({ call, meter, figures, notes });
  // ---- inbound forms: one signed submission (issue 10 point 3): bench/forms.ts
  await formScenarios({ call, meter, figures, notes });
  // ---- handler durations for the cost model (issue 11 point 10): bench/durations.ts
  await durationScenarios({ call, meter, figures, notes });
  // ---- outbound webhooks: the consumer's requests for one event with 10 subscriptions (issue 10 point 4): bench/webhooks.ts
  await webhookScenarios({ call, meter, figures, notes });
  // ---- API keys: the authorizer's requests for a key, cold and warm (issue 10 point 2): bench/apikeys.ts
  await apiKeyScenarios({ call, meter, figures, notes });
  // ---- CSV import of 10,000 account rows, 5 % duplicates (issue 10 point 5): bench/imports.ts
  await importScenarios({ call, meter, figures, notes });
  // ---- fuzzing every route, 20,000 requests, a random seed (issue 11 point 2): bench/fuzz.ts. Unmetered: its figures are answers.
  await meter.unmetered(() => fuzzScenarios({ call, figures, notes }));
  // ---- load held: autocannon against npm start, its own server and table (issue 11 point 4): bench/load.ts
  await loadScenarios({ figures, notes });
  // ---- rate limits: the limiter's capacity per request (issue 11 point 7): bench/ratelimit.ts
  await rateLimitScenarios({ call, meter, figures, notes });
  // ---- Injected DynamoDB faults at the calls of every write route (issue 11 point 3): bench/faults.ts
  await faultScenarios({ call, meter, figures, notes });

  return { operations, figures, notes };
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** `/v1/accounts/01J…/360?accountId=01J…` → `/v1/accounts/{id}/360?accountId={id}`; long values elided. */
function describeUrl(url: string): string {
  const [path = '', query] = url.split('?');
  const shownPath = path.split('/').map((seg) => (ULID.test(seg) ? '{id}' : seg)).join('/');
  if (!query) return shownPath;
  const params = [...new URLSearchParams(query)].map(([k, v]) => `${k}=${ULID.test(v) ? '{id}' : v.length > 16 ? '…' : v}`);
  return `${shownPath}?${params.join('&')}`;
}

/** A thrown error as one line; a handler module that does not exist yet says so. */
function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { url?: string };
  if (e?.code === 'ERR_MODULE_NOT_FOUND') {
    const m = /Cannot find module '([^']+)'/.exec(e.message);
    return `route not there yet: ${m ? m[1]!.replace(/^.*\/(functions\/)/, '$1') : e.message}`;
  }
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.split('\n')[0]!;
}
