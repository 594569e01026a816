/**
 * Pipelines and stages (API.md §5 "pipelines", issue 3 point 3): the default pipeline every
 * tenant has from its first request (created once, even when first requests race), admin
 * changes with stable stage ids, exactly one default, and the rule that a stage holding an
 * opportunity cannot be removed (409 stage_in_use), also under a race with a create.
 * Through the HTTP API with real tokens, against DynamoDB Local.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'pipes';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

const DEFAULT_STAGES = [
  { name: '初步接洽', probability: 10, kind: 'open' },
  { name: '需求确认', probability: 25, kind: 'open' },
  { name: '方案报价', probability: 50, kind: 'open' },
  { name: '谈判审批', probability: 75, kind: 'open' },
  { name: '赢单', probability: 100, kind: 'won' },
  { name: '输单', probability: 0, kind: 'lost' },
];

const threeStages = () => [
  { name: 'Discovery', probability: 20 },
  { name: 'Closed won', probability: 100, kind: 'won' },
  { name: 'Closed lost', probability: 0, kind: 'lost' },
];

async function newPipeline(body: Record<string, unknown> = {}) {
  const res = await api(root).post('/v1/pipelines', { name: uniq('Renewals 续约'), stages: threeStages(), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; name: string; isDefault: boolean; version: number; stages: { id: string; name: string; probability: number; kind: string }[] };
}

async function newAccount(owner: Caller) {
  const res = await api(owner).post('/v1/accounts', { name: uniq('管道客户') });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

/** The pending outbox events of this file's table about one pipeline, valid against the catalog. */
async function pipelineEvents(id: string): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    const page = await db.send(
      new QueryCommand({ TableName: tableName(), IndexName: 'byDue', KeyConditionExpression: 'duePk = :p', ExpressionAttributeValues: { ':p': outboxDuePartition(shard) } }),
    );
    out.push(...(page.Items ?? []).map((i) => parseEvent(i.event)).filter((e) => e.entity.type === 'pipeline' && e.entity.id === id));
  }
  return out;
}

beforeAll(async () => {
  for (const c of [root, alice, mia]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('the default pipeline', () => {
  it('exists from a tenant\'s first request, with the stages of API.md, for every role', async () => {
    const fresh: Caller = { tenant: 'pipes-fresh', user: 'sam', role: 'support' };
    const list = await api(fresh).get('/v1/pipelines');
    expect(list.status, list.body).toBe(200);
    expect(list.json.items).toHaveLength(1);
    const p = list.json.items[0];
    expect(p).toMatchObject({ isDefault: true, version: 1 });
    expect(p.stages.map(({ name, probability, kind }: any) => ({ name, probability, kind }))).toEqual(DEFAULT_STAGES);
    expect(new Set(p.stages.map((s: any) => s.id)).size).toBe(6);
    const one = await api(fresh).get(`/v1/pipelines/${p.id}`);
    expect(one.status).toBe(200);
    expect(one.headers.etag).toBe('"1"');
    expect(one.json).toEqual(p);
    for (const c of [alice, mia, mark, root]) expect((await api(c).get('/v1/pipelines')).status).toBe(200);
  });

  it('is created exactly once when a tenant\'s first requests race (reads and opportunity creates)', async () => {
    const tenant = 'pipes-race';
    const admin: Caller = { tenant, user: 'root', role: 'admin' };
    const rep: Caller = { tenant, user: 'rep', role: 'rep' };
    // The account comes first; that request does not create the pipeline.
    const account = await api(rep).post('/v1/accounts', { name: uniq('Race 客户') });
    expect(account.status).toBe(201);
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => api(admin).get('/v1/pipelines')),
      ...Array.from({ length: 4 }, (_, i) =>
        api(rep).post('/v1/opportunities', { accountId: account.json.id, name: `Deal ${i}`, amount: 1000, expectedCloseDate: '2026-09-30' }),
      ),
    ]);
    for (const r of results) expect([200, 201], r.body).toContain(r.status);
    const pipelines = await listAll(admin, '/v1/pipelines');
    expect(pipelines).toHaveLength(1);
    expect(pipelines[0].version).toBe(1);
    // Every opportunity is in the first stage of that one pipeline, and its stage counts them all.
    const opps = await listAll(admin, '/v1/opportunities');
    expect(opps).toHaveLength(4);
    for (const o of opps) expect(o).toMatchObject({ pipelineId: pipelines[0].id, stageId: pipelines[0].stages[0].id });
    const created = await db.send(
      new QueryCommand({ TableName: tableName(), IndexName: 'byDue', KeyConditionExpression: 'duePk = :p', ExpressionAttributeValues: { ':p': `T#${tenant}#OPPORTUNITY#PIPELINE#${pipelines[0].id}` } }),
    );
    expect(created.Items).toHaveLength(4);
  });
});

describe('admins change pipelines', () => {
  it('creates a pipeline; only admins may (403 for the others)', async () => {
    const p = await newPipeline();
    expect(p).toMatchObject({ isDefault: false, version: 1 });
    expect(p.stages.map((s) => s.kind)).toEqual(['open', 'won', 'lost']);
    const body = { name: 'Nope', stages: threeStages() };
    for (const c of [alice, mia, sam, mark]) expectProblem(await api(c).post('/v1/pipelines', body), 403, 'forbidden');
    for (const c of [alice, mia, sam, mark]) expectProblem(await api(c).patch(`/v1/pipelines/${p.id}`, { name: 'x' }), 403, 'forbidden');
    for (const c of [alice, mia, sam, mark]) expectProblem(await api(c).delete(`/v1/pipelines/${p.id}`), 403, 'forbidden');
  });

  it('validates the stages: one open, one won and one lost at least; first one open; unique names; no client ids on create', async () => {
    const post = (stages: unknown) => api(root).post('/v1/pipelines', { name: uniq('Bad'), stages });
    expectFieldError(await post([{ name: 'A', probability: 10 }, { name: 'B', probability: 100, kind: 'won' }, { name: 'C', probability: 100, kind: 'won' }]), 'stages');
    expectFieldError(await post([{ name: 'W', probability: 100, kind: 'won' }, { name: 'A', probability: 10 }, { name: 'L', probability: 0, kind: 'lost' }]), 'stages');
    expectFieldError(await post([{ name: 'A', probability: 10 }, { name: 'a', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }]), 'stages');
    expectFieldError(await post([{ id: 'x1', name: 'A', probability: 10 }, { name: 'W', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }]), 'stages');
    expectFieldError(await post([{ name: 'A', probability: 101 }, { name: 'W', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }]), 'probability');
    expectFieldError(await post([{ name: 'A', probability: 12.5 }, { name: 'W', probability: 100, kind: 'won' }, { name: 'L', probability: 0, kind: 'lost' }]), 'probability');
    expectFieldError(await api(root).post('/v1/pipelines', { name: 'x', stages: threeStages(), isDefault: true, version: 3 }), 'version');
  });

  it('renames, reorders, re-weights and adds stages; stage ids stay stable', async () => {
    const p = await newPipeline();
    const [disc, won, lost] = p.stages;
    const res = await api(root).patch(
      `/v1/pipelines/${p.id}`,
      {
        name: 'Renamed 改名',
        stages: [
          { name: 'Qualify', probability: 5 },
          { id: disc!.id, name: 'Discovery 发现', probability: 30 },
          { id: lost!.id, name: lost!.name, probability: 0, kind: 'lost' },
          { id: won!.id, name: won!.name, probability: 100, kind: 'won' },
        ],
      },
      { headers: { 'if-match': '"1"' } },
    );
    expect(res.status, res.body).toBe(200);
    expect(res.json.version).toBe(2);
    expect(res.json.name).toBe('Renamed 改名');
    const ids = res.json.stages.map((s: any) => s.id);
    expect(ids.slice(1)).toEqual([disc!.id, lost!.id, won!.id]);
    expect(ids[0]).not.toBe(disc!.id);
    expect(res.json.stages[1]).toEqual({ id: disc!.id, name: 'Discovery 发现', probability: 30, kind: 'open' });
    // A stale If-Match changes nothing.
    expectProblem(await api(root).patch(`/v1/pipelines/${p.id}`, { name: 'stale' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    // An unknown stage id is a 400 on that entry.
    expectFieldError(
      await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [{ id: 'no-such', name: 'X', probability: 1 }, { id: won!.id, name: 'W', probability: 100, kind: 'won' }, { id: lost!.id, name: 'L', probability: 0, kind: 'lost' }] }),
      'id',
    );
    // New opportunities start in the (new) first stage.
    const accountId = await newAccount(alice);
    const o = await api(alice).post('/v1/opportunities', { accountId, name: 'After reorder', amount: 1, expectedCloseDate: '2026-10-01', pipelineId: p.id });
    expect(o.status, o.body).toBe(201);
    expect(o.json).toMatchObject({ stageId: ids[0], probability: 5 });
  });

  it('keeps exactly one default: making another pipeline the default takes the flag from the old one', async () => {
    const before = (await listAll(root, '/v1/pipelines')).find((p) => p.isDefault);
    const p = await newPipeline({ isDefault: true });
    expect(p.isDefault).toBe(true);
    let all = await listAll(root, '/v1/pipelines');
    expect(all.filter((x) => x.isDefault).map((x) => x.id)).toEqual([p.id]);
    const old = all.find((x) => x.id === before.id);
    expect(old).toMatchObject({ isDefault: false, version: before.version + 1 });
    // An opportunity without pipelineId lands in the new default's first stage.
    const accountId = await newAccount(alice);
    const o = await api(alice).post('/v1/opportunities', { accountId, name: 'Default now', amount: 1, expectedCloseDate: '2026-10-01' });
    expect(o.json).toMatchObject({ pipelineId: p.id, stageId: p.stages[0]!.id, probability: 20 });
    // The default cannot be deleted, nor un-defaulted directly.
    expectProblem(await api(root).delete(`/v1/pipelines/${p.id}`), 409, 'pipeline_is_default');
    expectFieldError(await api(root).patch(`/v1/pipelines/${p.id}`, { isDefault: false }), 'isDefault');
    // Hand it back by PATCH.
    const back = await api(root).patch(`/v1/pipelines/${before.id}`, { isDefault: true });
    expect(back.status, back.body).toBe(200);
    all = await listAll(root, '/v1/pipelines');
    expect(all.filter((x) => x.isDefault).map((x) => x.id)).toEqual([before.id]);
  });

  it('two admins making different pipelines the default at once: exactly one default remains', async () => {
    const a = await newPipeline();
    const b = await newPipeline();
    const results = await Promise.all([a, b].map((p) => api(root).patch(`/v1/pipelines/${p.id}`, { isDefault: true })));
    for (const r of results) expect(r.status, r.body).toBe(200);
    const defaults = (await listAll(root, '/v1/pipelines')).filter((x) => x.isDefault);
    expect(defaults).toHaveLength(1);
    expect([a.id, b.id]).toContain(defaults[0].id);
  });
});

describe('a stage in use', () => {
  it('cannot be removed (409 stage_in_use) or change kind; an empty one can; the count follows moves', async () => {
    const p = await newPipeline();
    const [disc, won, lost] = p.stages;
    const accountId = await newAccount(alice);
    const o = await api(alice).post('/v1/opportunities', { accountId, name: 'Holds the stage', amount: 10, expectedCloseDate: '2026-10-01', pipelineId: p.id });
    expect(o.status, o.body).toBe(201);
    const extra = { name: 'Spare', probability: 40 };
    // Add a spare stage, then try to drop the one in use.
    const added = await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [...p.stages, extra].map((s) => ({ ...s })) });
    expect(added.status, added.body).toBe(200);
    const spare = added.json.stages[3];
    const dropInUse = await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [spare, won, lost] });
    expectProblem(dropInUse, 409, 'stage_in_use');
    expect(dropInUse.json).toMatchObject({ stageId: disc!.id, opportunityCount: 1 });
    const kindInUse = await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [spare, { ...disc, kind: 'lost' }, won, lost] });
    expectProblem(kindInUse, 409, 'stage_in_use');
    expect((await api(root).get(`/v1/pipelines/${p.id}`)).json.stages).toEqual(added.json.stages);
    // Move the opportunity to the spare stage: now the first can go, the spare cannot.
    expect((await api(alice).patch(`/v1/opportunities/${o.json.id}`, { stageId: spare.id })).status).toBe(200);
    const dropped = await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [spare, won, lost] });
    expect(dropped.status, dropped.body).toBe(200);
    expect(dropped.json.stages.map((s: any) => s.id)).toEqual([spare.id, won!.id, lost!.id]);
    // Each change is an event in its transaction; refused ones left none.
    const evs = await pipelineEvents(p.id);
    expect(evs.map((e) => e.type).sort()).toEqual(['pipeline.created', 'pipeline.updated', 'pipeline.updated']);
    const removal = evs.find((e) => (e.data as any).removedStageIds?.length)!.data as any;
    expect(removal).toMatchObject({ removedStageIds: [disc!.id], addedStageIds: [], changed: ['stages'] });
    expectProblem(await api(root).delete(`/v1/pipelines/${p.id}`), 409, 'pipeline_in_use');
    // Deleted, the opportunity frees the stage; then the pipeline itself can go.
    expect((await api(alice).delete(`/v1/opportunities/${o.json.id}`)).status).toBe(204);
    expect((await api(root).delete(`/v1/pipelines/${p.id}`)).status).toBe(204);
    expectProblem(await api(root).get(`/v1/pipelines/${p.id}`), 404, 'not_found');
    // Its stages are gone too: naming one is a 400.
    expectFieldError(await api(alice).post('/v1/opportunities', { accountId, name: 'x', amount: 1, expectedCloseDate: '2026-10-01', stageId: spare.id }), 'stageId');
  });

  it('a create racing the removal of its stage: never an opportunity in a removed stage', async () => {
    for (let round = 0; round < 4; round++) {
      const p = await newPipeline();
      const [first, won, lost] = p.stages;
      // A second open stage so that the first may be removed.
      const withSecond = await api(root).patch(`/v1/pipelines/${p.id}`, { stages: [first, { name: 'Second', probability: 30 }, won, lost] });
      const second = withSecond.json.stages[1];
      const accountId = await newAccount(alice);
      const [created, removed] = await Promise.all([
        api(alice).post('/v1/opportunities', { accountId, name: `Race ${round}`, amount: 5, expectedCloseDate: '2026-10-01', stageId: first!.id }),
        api(root).patch(`/v1/pipelines/${p.id}`, { stages: [second, won, lost] }),
      ]);
      const pipeline = (await api(root).get(`/v1/pipelines/${p.id}`)).json;
      const stageIds = pipeline.stages.map((s: any) => s.id);
      if (created.status === 201) {
        // The create won: the removal must have been refused, and the stage is still there.
        expectProblem(removed, 409, 'stage_in_use');
        expect(stageIds).toContain(first!.id);
        expect((await api(alice).get(`/v1/opportunities/${created.json.id}`)).json.stageId).toBe(first!.id);
      } else {
        // The removal won: the create found no such stage.
        expect(removed.status, removed.body).toBe(200);
        expectFieldError(created, 'stageId');
        expect(stageIds).not.toContain(first!.id);
      }
      const opps = await listAll(root, `/v1/opportunities?pipelineId=${p.id}`);
      for (const o of opps) expect(stageIds).toContain(o.stageId);
    }
  });
});
