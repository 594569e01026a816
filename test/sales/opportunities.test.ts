/**
 * Opportunities (API.md §5 "opportunities", issue 3 point 4): stage rules, stage history,
 * the derived `stalled` status, filters, visibility, the account's exact open-opportunity
 * count, events, activities and Customer 360. Through the HTTP API with real tokens,
 * against DynamoDB Local; races with real concurrent requests.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'opps';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

type Stage = { id: string; name: string; probability: number; kind: 'open' | 'won' | 'lost' };
let stages: Stage[];
const stage = (name: string) => stages.find((s) => s.name === name)!;
let pipelineId: string;

async function newAccount(owner: Caller, extra: Record<string, unknown> = {}) {
  const res = await api(owner).post('/v1/accounts', { name: uniq('商机客户'), ...extra });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

async function newOpportunity(owner: Caller, accountId: string, extra: Record<string, unknown> = {}) {
  const res = await api(owner).post('/v1/opportunities', { accountId, name: uniq('年度订阅'), amount: 120000, expectedCloseDate: '2026-09-30', ...extra });
  expect(res.status, res.body).toBe(201);
  return res.json as Record<string, any> & { id: string; version: number };
}

const account = async (id: string) => (await api(root).get(`/v1/accounts/${id}`)).json;
const stageCount = async (tenant: string, stageId: string) =>
  Number((await db.send(new GetCommand({ TableName: tableName(), Key: { PK: `T#${tenant}#STAGE#${stageId}`, SK: 'STAGE' } }))).Item?.opportunityCount ?? 0);
const ids = (xs: Record<string, any>[]) => xs.map((x) => x.id as string).sort();
const history = async (caller: Caller, id: string) => listAll(caller, `/v1/opportunities/${id}/history`);

/** Every event still in the outbox of this file's table, for one tenant. */
async function events(tenant = T): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: 'byDue',
          KeyConditionExpression: 'duePk = :p',
          ExpressionAttributeValues: { ':p': outboxDuePartition(shard) },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      out.push(...(page.Items ?? []).map((i) => parseEvent(i.event)).filter((e) => e.tenantId === tenant));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

beforeAll(async () => {
  // Every caller in the users directory (assignments need it); the default pipeline.
  for (const c of [alice, bob, wes, mia, max, root, sam, mark]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  const list = await api(root).get('/v1/pipelines');
  pipelineId = list.json.items[0].id;
  stages = list.json.items[0].stages;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('create', () => {
  it('defaults: the default pipeline\'s first stage and its probability, open, CNY, pipeline forecast; history starts', async () => {
    const accountId = await newAccount(alice);
    const res = await api(alice).post('/v1/opportunities', {
      accountId,
      name: '  智能仓储项目  ',
      amount: 1234567.89,
      expectedCloseDate: '2026-12-31',
      needs: '仓储自动化，三期',
      budget: 1500000,
      competitors: [{ name: '竞品甲', notes: '价格低' }, { name: 'Rival B' }],
    });
    expect(res.status, res.body).toBe(201);
    expect(res.headers.location).toBe(`/v1/opportunities/${res.json.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.json).toMatchObject({
      accountId,
      contactIds: [],
      name: '智能仓储项目',
      amount: 1234567.89,
      currency: 'CNY',
      pipelineId,
      stageId: stages[0]!.id,
      probability: 10,
      status: 'open',
      expectedCloseDate: '2026-12-31',
      closedAt: null,
      forecastCategory: 'pipeline',
      needs: '仓储自动化，三期',
      budget: 1500000,
      competitors: [{ name: '竞品甲', notes: '价格低' }, { name: 'Rival B' }],
      ownerId: 'alice',
      lastActivityAt: null,
      version: 1,
    });
    for (const internal of ['amountMinor', 'budgetMinor', 'historyCount', 'ownerTeamId', 'PK', 'typePk', 'duePk']) expect(res.json).not.toHaveProperty(internal);
    expect((await api(alice).get(`/v1/opportunities/${res.json.id}`)).json).toEqual(res.json);
    const h = await history(alice, res.json.id);
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ fromStageId: null, toStageId: stages[0]!.id, byUserId: 'alice', at: res.json.createdAt, leftAt: null });
  });

  it('validates: amounts with at most 2 decimals, required fields, strict bodies, server-owned fields, dates, currency', async () => {
    const accountId = await newAccount(alice);
    const base = { accountId, name: 'x', amount: 10, expectedCloseDate: '2026-09-30' };
    const post = (body: unknown) => api(alice).post('/v1/opportunities', body);
    expectFieldError(await post({ ...base, amount: 10.005 }), 'amount');
    expectFieldError(await post({ ...base, amount: -1 }), 'amount');
    expectFieldError(await post({ ...base, amount: '10' }), 'amount');
    expectFieldError(await post({ ...base, budget: 0.001 }), 'budget');
    for (const field of ['accountId', 'name', 'amount', 'expectedCloseDate']) {
      const { [field]: _drop, ...rest } = base as Record<string, unknown>;
      expectFieldError(await post(rest), field);
    }
    for (const owned of [{ status: 'won' }, { closedAt: '2026-01-01T00:00:00Z' }, { id: 'x' }, { version: 2 }, { lastStageChangeAt: '2026-01-01T00:00:00Z' }, { stalled: true }]) {
      expectProblem(await post({ ...base, ...owned }), 400, 'validation_failed');
    }
    expectFieldError(await post({ ...base, expectedCloseDate: '2026-13-01' }), 'expectedCloseDate');
    expectFieldError(await post({ ...base, currency: 'XYZ' }), 'currency');
    expectFieldError(await post({ ...base, probability: 101 }), 'probability');
    expectFieldError(await post({ ...base, lostReason: 'not lost' }), 'lostReason');
    expectFieldError(await post({ ...base, forecastCategory: 'closed' }), 'forecastCategory');
    expectFieldError(await post({ ...base, competitors: [{ name: 'A', extra: 1 }] }), 'competitors');
    expect((await post({ ...base, currency: 'usd', forecastCategory: 'commit', probability: 33 })).json).toMatchObject({ currency: 'USD', forecastCategory: 'commit', probability: 33 });
  });

  it('needs an account the caller may open, outside the pool, and contacts on that account', async () => {
    const mine = await newAccount(alice);
    const bobs = await newAccount(bob);
    const base = { name: 'x', amount: 10, expectedCloseDate: '2026-09-30' };
    expectFieldError(await api(alice).post('/v1/opportunities', { ...base, accountId: bobs }), 'accountId');
    expectFieldError(await api(alice).post('/v1/opportunities', { ...base, accountId: 'NOSUCHACCOUNT' }), 'accountId');
    const contact = await api(alice).post('/v1/contacts', { name: uniq('联系人'), accountId: mine });
    const elsewhere = await api(bob).post('/v1/contacts', { name: uniq('联系人'), accountId: bobs });
    const otherOfMine = await api(alice).post('/v1/contacts', { name: uniq('联系人'), accountId: await newAccount(alice) });
    expectFieldError(await api(alice).post('/v1/opportunities', { ...base, accountId: mine, contactIds: [elsewhere.json.id] }), 'contactIds');
    expectFieldError(await api(alice).post('/v1/opportunities', { ...base, accountId: mine, contactIds: [otherOfMine.json.id] }), 'contactIds');
    const ok = await api(alice).post('/v1/opportunities', { ...base, accountId: mine, contactIds: [contact.json.id, contact.json.id] });
    expect(ok.status, ok.body).toBe(201);
    expect(ok.json.contactIds).toEqual([contact.json.id]);
    // PATCH checks them the same way, alone or with a move (one read either way).
    expectFieldError(await api(alice).patch(`/v1/opportunities/${ok.json.id}`, { contactIds: [elsewhere.json.id] }), 'contactIds');
    const second = await api(alice).post('/v1/contacts', { name: uniq('联系人'), accountId: mine });
    const both = await api(alice).patch(`/v1/opportunities/${ok.json.id}`, { contactIds: [second.json.id, contact.json.id], stageId: stage('需求确认').id });
    expect(both.status, both.body).toBe(200);
    expect(both.json).toMatchObject({ contactIds: [second.json.id, contact.json.id], stageId: stage('需求确认').id });
    expect((await api(alice).patch(`/v1/opportunities/${ok.json.id}`, { contactIds: [] })).json.contactIds).toEqual([]);
    // A manager may open its team's accounts and create there, for itself or the rep.
    const forAlice = await api(mia).post('/v1/opportunities', { ...base, accountId: mine, ownerId: 'alice' });
    expect(forAlice.status, forAlice.body).toBe(201);
    expect(forAlice.json.ownerId).toBe('alice');
    // Owners are sales users; a rep gives nothing away; a manager stays within its team.
    expectFieldError(await api(root).post('/v1/opportunities', { ...base, accountId: mine, ownerId: 'sam' }), 'ownerId');
    expectProblem(await api(alice).post('/v1/opportunities', { ...base, accountId: mine, ownerId: 'bob' }), 403, 'forbidden');
    expectProblem(await api(mia).post('/v1/opportunities', { ...base, accountId: mine, ownerId: 'wes' }), 403, 'forbidden');
  });

  it('is idempotent with Idempotency-Key: the same id again, one opportunity, one count', async () => {
    const accountId = await newAccount(alice);
    const body = { accountId, name: 'Retry me', amount: 99.99, expectedCloseDate: '2026-09-30' };
    const headers = { 'idempotency-key': uniq('key').replace(/\W/g, '') };
    const [a, b] = [await api(alice).post('/v1/opportunities', body, { headers }), await api(alice).post('/v1/opportunities', body, { headers })];
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.json.id).toBe(a.json.id);
    expect(await listAll(alice, `/v1/opportunities?accountId=${accountId}`)).toHaveLength(1);
    expect((await account(accountId)).openOpportunityCount).toBe(1);
  });
});

describe('stage rules', () => {
  it('a stage change takes the stage\'s probability unless the same request sets one', async () => {
    const o = await newOpportunity(alice, await newAccount(alice));
    const moved = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('方案报价').id });
    expect(moved.json).toMatchObject({ stageId: stage('方案报价').id, probability: 50, version: 2 });
    const set = await api(alice).patch(`/v1/opportunities/${o.id}`, { probability: 65 });
    expect(set.json).toMatchObject({ stageId: stage('方案报价').id, probability: 65 });
    const both = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('谈判审批').id, probability: 80 });
    expect(both.json.probability).toBe(80);
    const reset = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('需求确认').id });
    expect(reset.json.probability).toBe(25);
    // The same stage again is no stage change.
    const same = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('需求确认').id, probability: 30 });
    expect(same.json.probability).toBe(30);
    expect((await history(alice, o.id)).map((e) => e.toStageId)).toEqual([stages[0]!.id, stage('方案报价').id, stage('谈判审批').id, stage('需求确认').id]);
  });

  it('won closes it (status, closedAt, closed forecast); lost needs a lostReason; only an open stage reopens it', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    expect((await account(accountId)).openOpportunityCount).toBe(1);

    const won = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('赢单').id });
    expect(won.status, won.body).toBe(200);
    expect(won.json).toMatchObject({ status: 'won', probability: 100, forecastCategory: 'closed' });
    expect(typeof won.json.closedAt).toBe('string');
    expect(await account(accountId)).toMatchObject({ openOpportunityCount: 0, wonOpportunityCount: 1 });
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { forecastCategory: 'commit' }), 'forecastCategory');
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { lostReason: 'no' }), 'lostReason');

    // Won → lost without a reason: 400, and nothing changed.
    const noReason = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('输单').id });
    expectFieldError(noReason, 'lostReason');
    expect((await api(alice).get(`/v1/opportunities/${o.id}`)).json).toEqual(won.json);

    const lost = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('输单').id, lostReason: '预算取消' });
    expect(lost.json).toMatchObject({ status: 'lost', lostReason: '预算取消', forecastCategory: 'omitted', probability: 0 });
    expect(lost.json.closedAt >= won.json.closedAt).toBe(true);
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { lostReason: null }), 'lostReason');
    const reason = await api(alice).patch(`/v1/opportunities/${o.id}`, { lostReason: '选了竞品' }, { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(reason.json).toMatchObject({ status: 'lost', lostReason: '选了竞品' });
    expect(await account(accountId)).toMatchObject({ openOpportunityCount: 0, wonOpportunityCount: 0 });

    const reopened = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('需求确认').id });
    expect(reopened.json).toMatchObject({ status: 'open', closedAt: null, forecastCategory: 'pipeline', probability: 25 });
    expect(reopened.json).not.toHaveProperty('lostReason');
    expect((await account(accountId)).openOpportunityCount).toBe(1);

    const h = await history(alice, o.id);
    expect(h.map((e) => [e.fromStageId, e.toStageId, e.status])).toEqual([
      [null, stages[0]!.id, 'open'],
      [stages[0]!.id, stage('赢单').id, 'won'],
      [stage('赢单').id, stage('输单').id, 'lost'],
      [stage('输单').id, stage('需求确认').id, 'open'],
    ]);
    expect(h[2].lostReason).toBe('预算取消');
    // Each entry left when the next began; the time in each stage is in the entries.
    for (let i = 0; i < h.length - 1; i++) {
      expect(h[i].leftAt).toBe(h[i + 1].at);
      expect(h[i].secondsInStage).toBe(Math.floor((Date.parse(h[i].leftAt) - Date.parse(h[i].at)) / 1000));
    }
    expect(h.at(-1).leftAt).toBeNull();
    expect(h.every((e) => e.byUserId === 'alice')).toBe(true);
  });

  it('created directly in a closed stage: closed at once, lost needs its reason, the account count unchanged', async () => {
    const accountId = await newAccount(alice);
    const won = await newOpportunity(alice, accountId, { stageId: stage('赢单').id });
    expect(won).toMatchObject({ status: 'won', forecastCategory: 'closed' });
    expect(typeof won.closedAt).toBe('string');
    expectFieldError(await api(alice).post('/v1/opportunities', { accountId, name: 'x', amount: 1, expectedCloseDate: '2026-09-30', stageId: stage('输单').id }), 'lostReason');
    expect((await account(accountId)).openOpportunityCount ?? 0).toBe(0);
    expect((await account(accountId)).wonOpportunityCount).toBe(1);
  });

  it('moves to another pipeline only when the pipeline is named; pipelineId alone takes its first stage', async () => {
    const other = await api(root).post('/v1/pipelines', {
      name: uniq('Projects'),
      stages: [{ name: 'Scoping', probability: 15 }, { name: 'Signed', probability: 100, kind: 'won' }, { name: 'Dropped', probability: 0, kind: 'lost' }],
    });
    const [scoping, signed] = other.json.stages;
    const o = await newOpportunity(alice, await newAccount(alice));
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: signed.id }), 'stageId');
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { pipelineId, stageId: signed.id }), 'stageId');
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: 'NOSUCHSTAGE' }), 'stageId');
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { pipelineId: 'NOSUCHPIPELINE' }), 'pipelineId');
    const moved = await api(alice).patch(`/v1/opportunities/${o.id}`, { pipelineId: other.json.id });
    expect(moved.json).toMatchObject({ pipelineId: other.json.id, stageId: scoping.id, probability: 15 });
    const won = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: signed.id });
    expect(won.json.status).toBe('won');
    expect(await stageCount(T, scoping.id)).toBe(0);
    expect(await stageCount(T, signed.id)).toBe(1);
    expect((await history(alice, o.id)).map((e) => e.pipelineId)).toEqual([pipelineId, other.json.id, other.json.id]);
  });

  it('two concurrent moves with the same If-Match: one lands, the other is a 412', async () => {
    const o = await newOpportunity(alice, await newAccount(alice));
    const [a, b] = await Promise.all([
      api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('需求确认').id }, { headers: { 'if-match': '"1"' } }),
      api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('赢单').id }, { headers: { 'if-match': '"1"' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const loser = a.status === 412 ? a : b;
    expectProblem(loser, 412, 'version_mismatch');
    const winner = a.status === 200 ? a : b;
    const now = (await api(alice).get(`/v1/opportunities/${o.id}`)).json;
    expect(now.stageId).toBe(winner.json.stageId);
    expect(now.version).toBe(2);
    expect(await history(alice, o.id)).toHaveLength(2);
  });

  it('concurrent moves without If-Match all land, in some order: the history chain and the account count agree', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId, { pipelineId: undefined });
    const targets = [stage('需求确认'), stage('赢单'), stage('方案报价'), stage('谈判审批'), stage('输单')];
    const results = await Promise.all(
      targets.map((s) => api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: s.id, ...(s.kind === 'lost' ? { lostReason: 'race' } : {}) })),
    );
    for (const r of results) expect(r.status, r.body).toBe(200);
    const now = (await api(alice).get(`/v1/opportunities/${o.id}`)).json;
    const h = await history(alice, o.id);
    expect(h).toHaveLength(1 + targets.length);
    expect(h.at(-1).toStageId).toBe(now.stageId);
    for (let i = 1; i < h.length; i++) expect(h[i].fromStageId).toBe(h[i - 1].toStageId);
    expect((await account(accountId)).openOpportunityCount).toBe(now.status === 'open' ? 1 : 0);
  });
});

describe('the account\'s open-opportunity count', () => {
  it('stays exact under concurrent creates, closes and an account PATCH', async () => {
    const accountId = await newAccount(alice);
    const created = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api(alice).post('/v1/opportunities', { accountId, name: `Parallel ${i}`, amount: 100 + i, expectedCloseDate: '2026-09-30' }),
      ).concat([api(alice).patch(`/v1/accounts/${accountId}`, { industry: 'Logistics 物流' }) as any]),
    );
    for (const r of created) expect([200, 201], r.body).toContain(r.status);
    let a = await account(accountId);
    expect(a.openOpportunityCount).toBe(10);
    expect(a.industry).toBe('Logistics 物流');
    const ids = created.filter((r) => r.status === 201).map((r) => r.json.id as string);
    await Promise.all([
      ...ids.slice(0, 4).map((id) => api(alice).patch(`/v1/opportunities/${id}`, { stageId: stage('赢单').id })),
      ...ids.slice(4, 6).map((id) => api(alice).patch(`/v1/opportunities/${id}`, { stageId: stage('输单').id, lostReason: 'x' })),
      ...ids.slice(6, 7).map((id) => api(alice).delete(`/v1/opportunities/${id}`)),
      api(alice).patch(`/v1/accounts/${accountId}`, { tier: 'A' }),
    ]);
    a = await account(accountId);
    expect(a.openOpportunityCount).toBe(3);
    expect(a.wonOpportunityCount).toBe(4);
    expect(a.tier).toBe('A');
    const open = await listAll(alice, `/v1/opportunities?accountId=${accountId}&status=open`);
    expect(open).toHaveLength(3);
    // The count is server-owned.
    expectFieldError(await api(alice).patch(`/v1/accounts/${accountId}`, { openOpportunityCount: 0 }), 'openOpportunityCount');
  });

  it('every stage\'s count equals the opportunities in it after concurrent creates, moves and deletes', async () => {
    const p = (await api(root).post('/v1/pipelines', {
      name: uniq('Counted'),
      stages: [{ name: 'A', probability: 10 }, { name: 'B', probability: 40 }, { name: 'W', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }],
    })).json;
    const accountId = await newAccount(alice);
    const made = await Promise.all(Array.from({ length: 8 }, (_, i) => api(alice).post('/v1/opportunities', { accountId, name: `Counted ${i}`, amount: 1, expectedCloseDate: '2026-09-30', pipelineId: p.id })));
    const oppIds = made.map((r) => r.json.id as string);
    const target = (i: number) => p.stages[i % 4];
    await Promise.all([
      ...oppIds.slice(0, 6).map((id: string, i: number) =>
        api(alice).patch(`/v1/opportunities/${id}`, { stageId: target(i + 1).id, ...(target(i + 1).kind === 'lost' ? { lostReason: 'x' } : {}) }),
      ),
      ...oppIds.slice(0, 3).map((id: string) => api(alice).patch(`/v1/opportunities/${id}`, { stageId: p.stages[1].id })),
      api(alice).delete(`/v1/opportunities/${oppIds[7]}`),
    ]);
    const listed = await listAll(root, `/v1/opportunities?pipelineId=${p.id}`);
    expect(listed).toHaveLength(7);
    for (const st of p.stages) expect(await stageCount(T, st.id), st.name).toBe(listed.filter((o) => o.stageId === st.id).length);
    expect((await account(accountId)).openOpportunityCount).toBe(listed.filter((o) => o.status === 'open').length);
  });

  it('an opportunity cannot be added to an account in the pool (409 account_in_pool)', async () => {
    const accountId = await newAccount(alice);
    // Put the account in the pool the way the pool will: no owner, poolStatus pool.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await db.send(new UpdateCommand({ TableName: tableName(), Key: { PK: `T#${T}#ACCOUNT#${accountId}`, SK: 'ACCOUNT' }, UpdateExpression: 'SET poolStatus = :p', ExpressionAttributeValues: { ':p': 'pool' } }));
    expectProblem(await api(alice).post('/v1/opportunities', { accountId, name: 'x', amount: 1, expectedCloseDate: '2026-09-30' }), 409, 'account_in_pool');
  });
});

describe('visibility', () => {
  it('owner, its manager and admins; another rep or another team\'s manager: 404; support and marketers: 403 everywhere', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    for (const c of [alice, mia, root]) expect((await api(c).get(`/v1/opportunities/${o.id}`)).status).toBe(200);
    for (const c of [bob, wes, max]) {
      expectProblem(await api(c).get(`/v1/opportunities/${o.id}`), 404, 'not_found');
      expectProblem(await api(c).patch(`/v1/opportunities/${o.id}`, { name: 'x' }), 404, 'not_found');
      expectProblem(await api(c).delete(`/v1/opportunities/${o.id}`), 404, 'not_found');
      expectProblem(await api(c).get(`/v1/opportunities/${o.id}/history`), 404, 'not_found');
      expect((await listAll(c, '/v1/opportunities')).map((x) => x.id)).not.toContain(o.id);
    }
    for (const c of [sam, mark]) {
      expectProblem(await api(c).get(`/v1/opportunities/${o.id}`), 403, 'forbidden');
      expectProblem(await api(c).get('/v1/opportunities'), 403, 'forbidden');
      expectProblem(await api(c).post('/v1/opportunities', { accountId, name: 'x', amount: 1, expectedCloseDate: '2026-09-30' }), 403, 'forbidden');
      expectProblem(await api(c).patch(`/v1/opportunities/${o.id}`, { name: 'x' }), 403, 'forbidden');
      expectProblem(await api(c).delete(`/v1/opportunities/${o.id}`), 403, 'forbidden');
      expectProblem(await api(c).get(`/v1/opportunities/${o.id}/history`), 403, 'forbidden');
      // Customer 360 (they read accounts) shows them no opportunities.
      const c360 = await api(c).get(`/v1/accounts/${accountId}/360`);
      expect(c360.status).toBe(200);
      expect(c360.json.opportunities).toEqual([]);
    }
    // Another tenant's admin sees nothing.
    expectProblem(await api({ tenant: 'opps-other', user: 'root', role: 'admin' }).get(`/v1/opportunities/${o.id}`), 404, 'not_found');
  });

  it('reassignment: managers within their team, admins anywhere; reps 403; the new owner\'s lists follow', async () => {
    const o = await newOpportunity(alice, await newAccount(alice));
    expectProblem(await api(alice).patch(`/v1/opportunities/${o.id}`, { ownerId: 'bob' }), 403, 'forbidden');
    expectProblem(await api(mia).patch(`/v1/opportunities/${o.id}`, { ownerId: 'wes' }), 403, 'forbidden');
    const toBob = await api(mia).patch(`/v1/opportunities/${o.id}`, { ownerId: 'bob' });
    expect(toBob.json.ownerId).toBe('bob');
    expect((await api(bob).get(`/v1/opportunities/${o.id}`)).status).toBe(200);
    expect((await api(alice).get(`/v1/opportunities/${o.id}`)).status).toBe(404);
    expect((await listAll(bob, '/v1/opportunities')).map((x) => x.id)).toContain(o.id);
    const toWes = await api(root).patch(`/v1/opportunities/${o.id}`, { ownerId: 'wes' });
    expect(toWes.json.ownerId).toBe('wes');
    expect((await api(max).get(`/v1/opportunities/${o.id}`)).status).toBe(200);
    expect((await api(mia).get(`/v1/opportunities/${o.id}`)).status).toBe(404);
  });
});

describe('lists and filters', () => {
  const tenant = 'opps-lists';
  const r1: Caller = { tenant, user: 'r1', role: 'rep', team: 't1' };
  const r2: Caller = { tenant, user: 'r2', role: 'rep', team: 't1' };
  const r3: Caller = { tenant, user: 'r3', role: 'rep', team: 't2' };
  const m1: Caller = { tenant, user: 'm1', role: 'manager', team: 't1' };
  const adm: Caller = { tenant, user: 'adm', role: 'admin' };
  let s: Stage[];
  let second: { id: string; stages: Stage[] };
  const made: Record<string, any>[] = [];
  let acc1: string;

  beforeAll(async () => {
    for (const c of [r1, r2, r3, m1, adm]) await api(c).get('/v1/tasks');
    s = (await api(adm).get('/v1/pipelines')).json.items[0].stages;
    second = (await api(adm).post('/v1/pipelines', { name: 'Second', stages: [{ name: 'A', probability: 10 }, { name: 'W', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }] })).json;
    acc1 = await newAccount(r1);
    const acc2 = await newAccount(r2);
    const acc3 = await newAccount(r3);
    const plan: [Caller, string, string, Record<string, unknown>][] = [
      [r1, acc1, '2026-07-10', {}],
      [r1, acc1, '2026-08-15', { stageId: s[2]!.id }],
      [r1, acc1, '2026-08-20', { stageId: s[4]!.id }],
      [r1, acc1, '2026-09-01', { stageId: s[5]!.id, lostReason: 'price' }],
      [r2, acc2, '2026-08-01', {}],
      [r2, acc2, '2026-10-01', { pipelineId: second.id }],
      [r3, acc3, '2026-08-16', { stageId: s[2]!.id }],
      [r3, acc3, '2026-12-24', { pipelineId: second.id, stageId: second.stages[1]!.id }],
    ];
    for (const [who, acc, close, extra] of plan) made.push(await newOpportunity(who, acc, { expectedCloseDate: close, ...extra }));
  });

  const expected = (pred: (o: Record<string, any>) => boolean) => ids(made.filter(pred));

  it('each role lists what it may see; ownerId (and me) names a partition', async () => {
    expect(ids(await listAll(r1, '/v1/opportunities'))).toEqual(expected((o) => o.ownerId === 'r1'));
    expect(ids(await listAll(m1, '/v1/opportunities'))).toEqual(expected((o) => ['r1', 'r2'].includes(o.ownerId)));
    expect(ids(await listAll(adm, '/v1/opportunities'))).toEqual(expected(() => true));
    expect(ids(await listAll(adm, '/v1/opportunities?ownerId=r3'))).toEqual(expected((o) => o.ownerId === 'r3'));
    expect(ids(await listAll(r2, '/v1/opportunities?ownerId=me'))).toEqual(expected((o) => o.ownerId === 'r2'));
    expect(await listAll(r1, '/v1/opportunities?ownerId=r3')).toEqual([]);
    expect(ids(await listAll(m1, '/v1/opportunities?ownerId=r2'))).toEqual(expected((o) => o.ownerId === 'r2'));
  });

  it('status, closeFrom/closeTo, pipelineId, stageId, accountId: every combination returns exactly the matches', async () => {
    const cases: [string, (o: Record<string, any>) => boolean][] = [
      ['status=open', (o) => o.status === 'open'],
      ['status=won', (o) => o.status === 'won'],
      ['status=lost', (o) => o.status === 'lost'],
      ['status=stalled', () => false],
      ['closeFrom=2026-08-01&closeTo=2026-08-31', (o) => o.expectedCloseDate >= '2026-08-01' && o.expectedCloseDate <= '2026-08-31'],
      ['closeFrom=2026-08-16', (o) => o.expectedCloseDate >= '2026-08-16'],
      ['closeTo=2026-08-15', (o) => o.expectedCloseDate <= '2026-08-15'],
      ['status=open&closeFrom=2026-08-01&closeTo=2026-08-31', (o) => o.status === 'open' && o.expectedCloseDate >= '2026-08-01' && o.expectedCloseDate <= '2026-08-31'],
      [`pipelineId=${second.id}`, (o) => o.pipelineId === second.id],
      [`pipelineId=${second.id}&status=won`, (o) => o.pipelineId === second.id && o.status === 'won'],
      [`stageId=${s[2]!.id}`, (o) => o.stageId === s[2]!.id],
      [`stageId=${s[2]!.id}&closeFrom=2026-08-16`, (o) => o.stageId === s[2]!.id && o.expectedCloseDate >= '2026-08-16'],
      [`stageId=${s[2]!.id}&status=won`, () => false],
      [`stageId=${s[2]!.id}&pipelineId=${second.id}`, () => false],
      [`accountId=${acc1}`, (o) => o.accountId === acc1],
      [`accountId=${acc1}&status=open`, (o) => o.accountId === acc1 && o.status === 'open'],
      [`accountId=${acc1}&closeFrom=2026-08-16&closeTo=2026-08-31`, (o) => o.accountId === acc1 && o.expectedCloseDate >= '2026-08-16' && o.expectedCloseDate <= '2026-08-31'],
      ['stageId=NOSUCHSTAGE', () => false],
      ['closeFrom=2026-09-01&closeTo=2026-08-01', () => false],
    ];
    for (const [q, pred] of cases) {
      expect(ids(await listAll(adm, `/v1/opportunities?${q}`)), `admin ${q}`).toEqual(expected(pred));
      expect(ids(await listAll(m1, `/v1/opportunities?${q}`)), `manager ${q}`).toEqual(expected((o) => ['r1', 'r2'].includes(o.ownerId) && pred(o)));
      expect(ids(await listAll(r1, `/v1/opportunities?${q}`)), `rep ${q}`).toEqual(expected((o) => o.ownerId === 'r1' && pred(o)));
    }
    // Each item reads the status it was filtered by.
    for (const st of ['open', 'won', 'lost']) for (const o of await listAll(adm, `/v1/opportunities?status=${st}`)) expect(o.status).toBe(st);
    // Another rep's account is not a filter a rep may use.
    expectFieldError(await api(r2).get(`/v1/opportunities?accountId=${acc1}`), 'accountId');
    expectFieldError(await api(r1).get('/v1/opportunities?status=closed'), 'status');
    expectFieldError(await api(r1).get('/v1/opportunities?closeFrom=2026-8-1'), 'closeFrom');
  });

  it('pages of one walk every match exactly once, across the open/won/lost ranges of a date filter', async () => {
    for (const q of ['closeFrom=2026-01-01', '', `pipelineId=${pipelineIdOf()}`]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 50; i++) {
        const res: any = await api(adm).get(`/v1/opportunities?limit=1&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(res.status, res.body).toBe(200);
        expect(res.json.items.length).toBeLessThanOrEqual(1);
        seen.push(...res.json.items.map((x: any) => x.id));
        cursor = res.json.nextCursor;
        if (!cursor) break;
      }
      expect(seen.length, q).toBe(new Set(seen).size);
      expect(seen.sort(), q).toEqual(ids(made.filter((o) => (q.startsWith('pipelineId') ? o.pipelineId === pipelineIdOf() : true))));
    }
    // A cursor of one filter is refused for another.
    const first = await api(adm).get('/v1/opportunities?limit=1&closeFrom=2026-01-01');
    expectProblem(await api(adm).get(`/v1/opportunities?limit=1&closeFrom=2026-01-02&cursor=${encodeURIComponent(first.json.nextCursor)}`), 400, 'invalid_cursor');
  });

  const pipelineIdOf = () => made[0]!.pipelineId as string;
});

describe('stalled', () => {
  it('reads stalled after 30 days without a stage change or activity; an activity or a move makes it open again; filters agree', async () => {
    const accountId = await newAccount(alice);
    const a = await newOpportunity(alice, accountId, { expectedCloseDate: '2027-01-15' });
    const b = await newOpportunity(alice, accountId, { expectedCloseDate: '2027-01-16' });
    const c = await newOpportunity(alice, accountId, { expectedCloseDate: '2027-01-17', stageId: stage('赢单').id });
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(start + 29 * 86_400_000);
    expect((await api(alice).get(`/v1/opportunities/${a.id}`)).json.status).toBe('open');
    vi.setSystemTime(start + 31 * 86_400_000);
    expect((await api(alice).get(`/v1/opportunities/${a.id}`)).json.status).toBe('stalled');
    expect((await api(alice).get(`/v1/opportunities/${c.id}`)).json.status).toBe('won');
    const byStatus = async (st: string) => ids(await listAll(alice, `/v1/opportunities?accountId=${accountId}&status=${st}`));
    const mine = async (st: string) => ids((await listAll(alice, `/v1/opportunities?status=${st}&closeFrom=2027-01-15&closeTo=2027-01-17`)));
    expect(await byStatus('stalled')).toEqual(ids([a, b]));
    expect(await byStatus('open')).toEqual([]);
    expect(await mine('stalled')).toEqual(ids([a, b]));
    // An activity on `a` (now) and a move of `b` make both open again.
    const act = await api(alice).post('/v1/activities', { type: 'call', subject: '回访', opportunityId: a.id });
    expect(act.status, act.body).toBe(201);
    expect(act.json.accountId).toBe(accountId);
    const moved = await api(alice).patch(`/v1/opportunities/${b.id}`, { stageId: stage('需求确认').id });
    expect(moved.json.status).toBe('open');
    const got = (await api(alice).get(`/v1/opportunities/${a.id}`)).json;
    expect(got.status).toBe('open');
    expect(got.lastActivityAt).toBe(act.json.occurredAt);
    expect(await byStatus('open')).toEqual(ids([a, b]));
    expect(await byStatus('stalled')).toEqual([]);
    expect(await mine('open')).toEqual(ids([a, b]));
    // Customer 360 derives it the same way.
    vi.setSystemTime(start + 62 * 86_400_000);
    const c360 = await api(alice).get(`/v1/accounts/${accountId}/360`);
    expect(c360.json.opportunities.filter((o: any) => o.status === 'stalled').map((o: any) => o.id).sort()).toEqual(ids([a, b]));
    // Still open for the account's count (stalled opportunities stay open).
    expect((await account(accountId)).openOpportunityCount).toBe(2);
  });
});

describe('activities and tasks on opportunities', () => {
  it('links an activity through its opportunity: account, follow-up clock, lastActivityAt (version + 1), the opportunityId filter', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    const act = await api(alice).post('/v1/activities', { type: 'meeting', subject: '方案演示', opportunityId: o.id, occurredAt });
    expect(act.status, act.body).toBe(201);
    expect(act.json).toMatchObject({ accountId, opportunityId: o.id });
    const after = (await api(alice).get(`/v1/opportunities/${o.id}`)).json;
    expect(after).toMatchObject({ lastActivityAt: occurredAt, version: 2 });
    expect((await account(accountId)).lastFollowUpAt).toBe(occurredAt);
    // An older activity does not move it back.
    await api(alice).post('/v1/activities', { type: 'note', subject: 'older', opportunityId: o.id, occurredAt: '2020-01-01T00:00:00.000Z' });
    expect((await api(alice).get(`/v1/opportunities/${o.id}`)).json.lastActivityAt).toBe(occurredAt);
    const other = await newOpportunity(alice, accountId);
    await api(alice).post('/v1/activities', { type: 'call', subject: 'other deal', opportunityId: other.id });
    const listed = await listAll(alice, `/v1/activities?opportunityId=${o.id}`);
    expect(listed.map((a) => a.subject).sort()).toEqual(['older', '方案演示']);
    expect(await listAll(mia, `/v1/activities?opportunityId=${o.id}`)).toHaveLength(2);
    expectFieldError(await api(bob).get(`/v1/activities?opportunityId=${o.id}`), 'opportunityId');
    // Links must agree; an opportunity the caller may not open is a 400.
    expectFieldError(await api(alice).post('/v1/activities', { type: 'call', subject: 'x', opportunityId: o.id, accountId: await newAccount(alice) }), 'opportunityId');
    expectFieldError(await api(bob).post('/v1/activities', { type: 'call', subject: 'x', opportunityId: o.id }), 'opportunityId');
    expectFieldError(await api(sam).post('/v1/activities', { type: 'call', subject: 'x', opportunityId: o.id }), 'opportunityId');
  });

  it('a task on an opportunity takes its account', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    const task = await api(alice).post('/v1/tasks', { title: '发报价', dueAt: '2026-10-01T09:00:00Z', opportunityId: o.id });
    expect(task.status, task.body).toBe(201);
    expect(task.json).toMatchObject({ opportunityId: o.id, accountId });
    expectFieldError(await api(bob).post('/v1/tasks', { title: 'x', dueAt: '2026-10-01T09:00:00Z', opportunityId: o.id }), 'opportunityId');
  });
});

describe('Customer 360 and delete', () => {
  it('360 shows the account\'s opportunities as clients see them (one Query), each only to whoever may open it', async () => {
    const accountId = await newAccount(alice);
    const o1 = await newOpportunity(alice, accountId, { amount: 19.99 });
    const o2 = await newOpportunity(alice, accountId, { stageId: stage('赢单').id });
    const o3 = await newOpportunity(mia, accountId, { ownerId: 'bob' });
    const mine = await api(alice).get(`/v1/accounts/${accountId}/360`);
    expect(mine.status).toBe(200);
    expect(mine.json.opportunities.map((o: any) => o.id).sort()).toEqual(ids([o1, o2]));
    const one = mine.json.opportunities.find((o: any) => o.id === o1.id);
    expect(one).toEqual((await api(alice).get(`/v1/opportunities/${o1.id}`)).json);
    expect(one.amount).toBe(19.99);
    expect(one).not.toHaveProperty('amountMinor');
    expect((await api(mia).get(`/v1/accounts/${accountId}/360`)).json.opportunities.map((o: any) => o.id).sort()).toEqual(ids([o1, o2, o3]));
  });

  it('delete: 204, then 404; the stage and account counts go down; its history goes', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId, { stageId: stage('需求确认').id });
    const before = await stageCount(T, stage('需求确认').id);
    expect((await account(accountId)).openOpportunityCount).toBe(1);
    expectProblem(await api(alice).delete(`/v1/opportunities/${o.id}`, { headers: { 'if-match': '"7"' } }), 412, 'version_mismatch');
    expect((await api(alice).delete(`/v1/opportunities/${o.id}`, { headers: { 'if-match': '"1"' } })).status).toBe(204);
    expectProblem(await api(alice).get(`/v1/opportunities/${o.id}`), 404, 'not_found');
    expectProblem(await api(alice).get(`/v1/opportunities/${o.id}/history`), 404, 'not_found');
    expect(await stageCount(T, stage('需求确认').id)).toBe(before - 1);
    expect((await account(accountId)).openOpportunityCount).toBe(0);
    const left = await db.send(new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': `T#${T}#OPPORTUNITY#${o.id}` } }));
    expect(left.Items).toEqual([]);
  });

  it('one with quotes is not deleted (409 opportunity_has_quotes); accountId is not a PATCH field', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    const quote = await api(alice).post(`/v1/opportunities/${o.id}/quotes`, { lines: [{ product: 'Licence', quantity: 1, unitPrice: 100 }] });
    expect(quote.status, quote.body).toBe(201);
    expectProblem(await api(alice).delete(`/v1/opportunities/${o.id}`), 409, 'opportunity_has_quotes');
    expect((await api(alice).get(`/v1/opportunities/${o.id}`)).status).toBe(200);
    expect((await account(accountId)).openOpportunityCount).toBe(1);
    expectFieldError(await api(alice).patch(`/v1/opportunities/${o.id}`, { accountId: await newAccount(alice) }), 'accountId');
  });

  it('an opportunity whose account was deleted can still be changed and deleted', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId);
    expect((await api(alice).delete(`/v1/accounts/${accountId}`)).status).toBe(204);
    const won = await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('赢单').id });
    expect(won.status, won.body).toBe(200);
    expect((await api(alice).delete(`/v1/opportunities/${o.id}`)).status).toBe(204);
    // No phantom account item was made by a count update.
    expectProblem(await api(root).get(`/v1/accounts/${accountId}`), 404, 'not_found');
  });
});

describe('events', () => {
  it('created, updated, stageChanged, won, lost, deleted: in the outbox, valid against the catalog', async () => {
    const accountId = await newAccount(alice);
    const o = await newOpportunity(alice, accountId, { name: uniq('Event deal') });
    await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('赢单').id });
    await api(alice).patch(`/v1/opportunities/${o.id}`, { stageId: stage('输单').id, lostReason: '流程终止' });
    await api(alice).patch(`/v1/opportunities/${o.id}`, { name: 'renamed' });
    await api(alice).delete(`/v1/opportunities/${o.id}`);
    const mine = (await events()).filter((e) => e.entity.type === 'opportunity' && e.entity.id === o.id);
    // Events of one transaction share their millisecond, so only the multiset is fixed.
    expect(mine.map((e) => e.type).sort()).toEqual(
      [
        'opportunity.created',
        'opportunity.updated',
        'opportunity.stageChanged',
        'opportunity.won',
        'opportunity.updated',
        'opportunity.stageChanged',
        'opportunity.lost',
        'opportunity.updated',
        'opportunity.deleted',
      ].sort(),
    );
    const at = (type: string) => mine.find((e) => e.type === type)!.occurredAt;
    for (const e of mine) {
      expect(at('opportunity.created') <= e.occurredAt).toBe(true);
      expect(e.occurredAt <= at('opportunity.deleted')).toBe(true);
    }
    const changed = mine.filter((e) => e.type === 'opportunity.stageChanged').map((e) => e.data as any);
    expect(changed[0]).toMatchObject({ fromStageId: stages[0]!.id, toStageId: stage('赢单').id, fromStatus: 'open', toStatus: 'won', accountId });
    expect((mine.find((e) => e.type === 'opportunity.lost')!.data as any).lostReason).toBe('流程终止');
    expect((mine.find((e) => e.type === 'opportunity.created')!.data as any)).toMatchObject({ amount: 120000, currency: 'CNY', status: 'open' });
    expect(mine.every((e) => e.actor.userId === 'alice')).toBe(true);
  });
});

describe("a tenant's first requests", () => {
  it('racing to name a stage of the default pipeline before it exists, all land (one default pipeline)', async () => {
    const tenant = `${T}-first-${Math.random().toString(36).slice(2, 7)}`;
    const rep: Caller = { tenant, user: 'ann', role: 'rep' };
    const { defaultStages } = await import('#domain/sales/pipeline.ts');
    // Accounts first: their creation does not make the default pipeline.
    const accounts = await Promise.all(Array.from({ length: 6 }, () => newAccount(rep)));
    const proposal = defaultStages(tenant)[2]!.id;
    const created = await Promise.all(accounts.map((accountId) => api(rep).post('/v1/opportunities', {
      accountId, name: uniq('首单'), amount: 100, expectedCloseDate: '2026-09-30', stageId: proposal,
    })));
    expect(created.map((r) => r.status), created.map((r) => r.body).join('\n')).toEqual(accounts.map(() => 201));
    expect(created.every((r) => r.json.stageId === proposal && r.json.probability === 50)).toBe(true);
    expect(await listAll(rep, '/v1/pipelines')).toHaveLength(1);
  });
});
