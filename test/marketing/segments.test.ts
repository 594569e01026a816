/**
 * Segments (api/marketing.md "Segments"): CRUD, the condition language and its validation,
 * members evaluated now and paged with tamper-proof cursors (one walk, one rule set), count,
 * and the domain's walkSegmentMembers that campaigns read their audience with.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, send, uniq, type Caller, type Sent } from '#test/support/fixtures.ts';
import { walkSegmentMembers, type SegmentMember } from '#domain/marketing/segments.ts';

const T = 'seg';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const mark2: Caller = { tenant: T, user: 'mark2', role: 'marketer' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const other: Caller = { tenant: 'seg-other', user: 'mark', role: 'marketer' };

/** Contacts by name: tier of their account, tags, custom, email. */
const ids: Record<string, string> = {};
let tierA: string;
let tierB: string;

beforeAll(async () => {
  for (const c of [root, mark, mark2, alice, bob, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  expect(
    (await api(root).put('/v1/fields/contacts', {
      fields: [
        { key: 'budget', label: 'Budget', type: 'number' },
        { key: 'interests', label: 'Interests', type: 'multiselect', options: ['erp', 'crm', 'bi'] },
        { key: 'firstMet', label: 'First met', type: 'date' },
        { key: 'note', label: 'Note', type: 'text' },
      ],
    })).status,
  ).toBe(200);
  tierA = (await api(alice).post('/v1/accounts', { name: uniq('A级客户'), tier: 'A', industry: 'Retail', tags: ['key'] })).json.id;
  tierB = (await api(bob).post('/v1/accounts', { name: uniq('B级客户'), tier: 'B', lifecycleStage: 'customer' })).json.id;
  const contacts: [string, Caller, Record<string, unknown>][] = [
    ['a1', alice, { accountId: tierA, email: 'a1@example.cn', tags: ['vip'], custom: { budget: 100, interests: ['crm'], firstMet: '2026-01-10', note: 'Likes Tea' } }],
    ['a2', alice, { accountId: tierA, phone: '13800138000', custom: { budget: 5 } }],
    ['b1', bob, { accountId: tierB, email: 'b1@example.cn', tags: ['vip', 'expo'], custom: { interests: ['erp', 'bi'] } }],
    ['n1', bob, { email: 'n1@example.cn' }],
  ];
  for (const [key, owner, body] of contacts) {
    const res = await api(owner).post('/v1/contacts', { name: `${key} ${uniq('联系人')}`, ...body });
    expect(res.status, res.body).toBe(201);
    ids[res.json.id] = key;
    ids[key] = res.json.id;
  }
  for (const [status, source, campaignId] of [['new', 'expo', 'cmp-1'], ['working', 'web', 'cmp-2']] as const) {
    const res = await api(mark).post('/v1/leads', { name: uniq(`lead ${status}`), company: '线索公司', email: `${status}@lead.cn`, source, campaignId, status });
    expect(res.status, res.body).toBe(201);
    ids[res.json.id] = `lead-${status}`;
  }
});

async function makeSegment(body: Record<string, unknown>, caller = mark): Promise<string> {
  const res = await api(caller).post('/v1/segments', { name: uniq('细分'), entity: 'contacts', ...body });
  expect(res.status, res.body).toBe(201);
  return res.json.id;
}

/** Members' names (the test's keys), walking limit=`limit` pages. */
async function members(id: string, caller = mark, limit = 100): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const res: Sent = await send(caller, 'GET', `/v1/segments/${id}/members?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status, res.body).toBe(200);
    expect(res.json.items.length).toBeLessThanOrEqual(limit);
    out.push(...res.json.items.map((m: { id: string }) => ids[m.id]));
    cursor = res.json.nextCursor;
  } while (cursor);
  return out.sort();
}

const count = async (id: string) => (await api(mark).get(`/v1/segments/${id}/count`)).json.count as number;

describe('segments: CRUD and roles', () => {
  it('marketers and admins create, read, patch, list and delete; other roles get 403', async () => {
    const created = await api(mark).post('/v1/segments', {
      name: 'VIP 客户',
      description: 'tagged vip',
      entity: 'contacts',
      conditions: [{ field: 'tags', op: 'contains', value: ' vip ' }],
    });
    expect(created.status, created.body).toBe(201);
    expect(created.json).toMatchObject({ name: 'VIP 客户', match: 'all', version: 1, conditions: [{ field: 'tags', op: 'contains', value: 'vip' }] });
    expect(created.headers.location).toBe(`/v1/segments/${created.json.id}`);
    const id = created.json.id;
    expect((await api(root).get(`/v1/segments/${id}`)).json).toEqual(created.json);
    const patched = await api(mark2).patch(`/v1/segments/${id}`, { match: 'any', description: null }, { headers: { 'if-match': '"1"' } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json.version).toBe(2);
    expect('description' in patched.json).toBe(false);
    expect((await listAll(mark, '/v1/segments')).map((s) => s.id)).toContain(id);
    for (const c of [alice, { tenant: T, user: 'sam', role: 'support' } as Caller]) {
      expectProblem(await api(c).get('/v1/segments'), 403, 'forbidden');
      expectProblem(await api(c).get(`/v1/segments/${id}/members`), 403, 'forbidden');
      expectProblem(await api(c).post('/v1/segments', { name: 'x', entity: 'contacts', conditions: [{ field: 'email', op: 'exists' }] }), 403, 'forbidden');
    }
    expectProblem(await api(other).get(`/v1/segments/${id}`), 404, 'not_found');
    expectProblem(await api(other).get(`/v1/segments/${id}/members`), 404, 'not_found');
    expect((await api(mark).delete(`/v1/segments/${id}`)).status).toBe(204);
    expectProblem(await api(mark).get(`/v1/segments/${id}`), 404, 'not_found');
  });

  it('bad conditions → 400 naming conditions.<i>.field|op|value; nothing written', async () => {
    const before = (await listAll(mark, '/v1/segments')).length;
    const bad: [Record<string, unknown>, string, string][] = [
      [{ field: 'nope', op: 'eq', value: 'x' }, '0', 'field'],
      [{ field: 'tags', op: 'eq', value: 'x' }, '0', 'op'],
      [{ field: 'tags', op: 'contains' }, '0', 'value'],
      [{ field: 'tags', op: 'contains', value: 7 }, '0', 'value'],
      [{ field: 'email', op: 'exists', value: true }, '0', 'value'],
      [{ field: 'ownerId', op: 'in', value: [] }, '0', 'value'],
      [{ field: 'ownerId', op: 'in', value: 'alice' }, '0', 'value'],
      [{ field: 'createdAt', op: 'before', value: 'yesterday' }, '0', 'value'],
      [{ field: 'account.tier', op: 'eq', value: 'Z' }, '0', 'value'],
      [{ field: 'account.tier', op: 'contains', value: 'A' }, '0', 'op'],
      [{ field: 'status', op: 'eq', value: 'new' }, '0', 'field'], // a lead field on contacts
      [{ field: 'custom.unknown', op: 'exists' }, '0', 'field'],
      [{ field: 'custom.budget', op: 'gt', value: '5' }, '0', 'value'],
      [{ field: 'custom.budget', op: 'contains', value: 5 }, '0', 'op'],
      [{ field: 'custom.budget', op: 'before', value: '2026-01-01' }, '0', 'op'],
      [{ field: 'custom.firstMet', op: 'after', value: '2026-13-01' }, '0', 'value'],
      [{ field: 'custom.interests', op: 'contains', value: 'sap' }, '0', 'value'],
      [{ field: 'custom.interests', op: 'gt', value: 1 }, '0', 'op'],
      [{ field: 'custom.note', op: 'in', value: [1] }, '0', 'value'],
    ];
    for (const [condition, i, part] of bad) {
      const res = await api(mark).post('/v1/segments', { name: 'bad', entity: 'contacts', conditions: [{ field: 'email', op: 'exists' }, condition].reverse() });
      expectFieldError(res, part);
      expect(res.json.errors.some((e: { path: string }) => e.path === `body.conditions.${i}.${part}`), `${JSON.stringify(condition)}: ${res.body}`).toBe(true);
    }
    expectFieldError(await api(mark).post('/v1/segments', { name: 'x', entity: 'contacts', conditions: [] }), 'conditions');
    const many = Array.from({ length: 21 }, () => ({ field: 'email', op: 'exists' }));
    expectFieldError(await api(mark).post('/v1/segments', { name: 'x', entity: 'contacts', conditions: many }), 'conditions');
    expectFieldError(await api(mark).post('/v1/segments', { name: 'x', entity: 'accounts', conditions: [{ field: 'email', op: 'exists' }] }), 'entity');
    expectFieldError(await api(mark).post('/v1/segments', { name: 'x', entity: 'contacts', conditions: [{ field: 'email', op: 'exists', extra: 1 }] }), 'extra');
    // Account conditions are for contacts; lead fields for leads.
    expectFieldError(await api(mark).post('/v1/segments', { name: 'x', entity: 'leads', conditions: [{ field: 'account.tier', op: 'eq', value: 'A' }] }), 'field');
    // A PATCH that makes the rules invalid (contacts → leads with an account condition) is refused too.
    const id = await makeSegment({ conditions: [{ field: 'account.tier', op: 'eq', value: 'A' }] });
    expectFieldError(await api(mark).patch(`/v1/segments/${id}`, { entity: 'leads' }), 'field');
    expect((await listAll(mark, '/v1/segments')).length).toBe(before + 1);
  });
});

describe('segments: evaluation', () => {
  it('each kind of condition, all and any', async () => {
    const cases: [Record<string, unknown>[], 'all' | 'any', string[]][] = [
      [[{ field: 'account.tier', op: 'eq', value: 'A' }], 'all', ['a1', 'a2']],
      [[{ field: 'account.tier', op: 'in', value: ['A', 'B'] }], 'all', ['a1', 'a2', 'b1']],
      [[{ field: 'account.tier', op: 'notExists' }], 'all', ['n1']],
      [[{ field: 'account.lifecycleStage', op: 'eq', value: 'customer' }], 'all', ['b1']],
      [[{ field: 'account.industry', op: 'exists' }], 'all', ['a1', 'a2']],
      [[{ field: 'account.tags', op: 'contains', value: 'key' }], 'all', ['a1', 'a2']],
      [[{ field: 'account.tags', op: 'notContains', value: 'key' }], 'all', ['b1', 'n1']],
      [[{ field: 'tags', op: 'contains', value: 'vip' }], 'all', ['a1', 'b1']],
      [[{ field: 'tags', op: 'notContains', value: 'vip' }], 'all', ['a2', 'n1']],
      [[{ field: 'ownerId', op: 'eq', value: 'bob' }], 'all', ['b1', 'n1']],
      [[{ field: 'ownerId', op: 'in', value: ['alice', 'nobody'] }], 'all', ['a1', 'a2']],
      [[{ field: 'email', op: 'exists' }], 'all', ['a1', 'b1', 'n1']],
      [[{ field: 'phone', op: 'exists' }], 'all', ['a2']],
      [[{ field: 'email', op: 'notExists' }], 'all', ['a2']],
      [[{ field: 'createdAt', op: 'after', value: '2000-01-01T00:00:00+08:00' }], 'all', ['a1', 'a2', 'b1', 'n1']],
      [[{ field: 'createdAt', op: 'before', value: '2000-01-01T00:00:00Z' }], 'all', []],
      [[{ field: 'custom.budget', op: 'gt', value: 10 }], 'all', ['a1']],
      [[{ field: 'custom.budget', op: 'lt', value: 10 }], 'all', ['a2']],
      [[{ field: 'custom.budget', op: 'in', value: [5, 100] }], 'all', ['a1', 'a2']],
      [[{ field: 'custom.budget', op: 'notExists' }], 'all', ['b1', 'n1']],
      [[{ field: 'custom.interests', op: 'contains', value: 'bi' }], 'all', ['b1']],
      [[{ field: 'custom.interests', op: 'in', value: ['crm', 'bi'] }], 'all', ['a1', 'b1']],
      [[{ field: 'custom.interests', op: 'eq', value: ['bi', 'erp'] }], 'all', ['b1']],
      [[{ field: 'custom.firstMet', op: 'before', value: '2026-02-01' }], 'all', ['a1']],
      [[{ field: 'custom.note', op: 'contains', value: 'tea' }], 'all', ['a1']],
      [[{ field: 'tags', op: 'contains', value: 'vip' }, { field: 'account.tier', op: 'eq', value: 'B' }], 'all', ['b1']],
      [[{ field: 'tags', op: 'contains', value: 'expo' }, { field: 'phone', op: 'exists' }], 'any', ['a2', 'b1']],
    ];
    for (const [conditions, match, expected] of cases) {
      const id = await makeSegment({ conditions, match });
      const got = (await members(id)).filter((k) => k !== undefined);
      expect(got, JSON.stringify(conditions)).toEqual(expected);
      expect(await count(id), JSON.stringify(conditions)).toBe(expected.length);
    }
  });

  it('leads: status, source, campaignId; members show name, email and phone', async () => {
    const id = await makeSegment({ entity: 'leads', conditions: [{ field: 'status', op: 'in', value: ['new', 'qualified'] }, { field: 'campaignId', op: 'eq', value: 'cmp-1' }] });
    expect(await members(id)).toEqual(['lead-new']);
    const res = await api(mark).get(`/v1/segments/${id}/members`);
    expect(res.json.items).toEqual([{ id: expect.any(String), entity: 'lead', name: expect.stringContaining('lead new'), email: 'new@lead.cn', phone: null }]);
    const bySource = await makeSegment({ entity: 'leads', conditions: [{ field: 'source', op: 'eq', value: 'web' }] });
    expect(await members(bySource)).toEqual(['lead-working']);
  });

  it('evaluated now: a record that changes joins or leaves; a removed custom field matches nothing but notExists', async () => {
    const id = await makeSegment({ conditions: [{ field: 'custom.budget', op: 'gt', value: 50 }] });
    expect(await members(id)).toEqual(['a1']);
    expect((await api(bob).patch(`/v1/contacts/${ids.b1}`, { custom: { budget: 60 } })).status).toBe(200);
    expect(await members(id)).toEqual(['a1', 'b1']);
    expect((await api(bob).patch(`/v1/contacts/${ids.b1}`, { custom: { budget: null } })).status).toBe(200);
    expect(await members(id)).toEqual(['a1']);
  });

  it('cursors: every member once across pages of any size; tampered, foreign or stale cursors → 400 invalid_cursor', async () => {
    const id = await makeSegment({ conditions: [{ field: 'account.tier', op: 'in', value: ['A', 'B'] }] });
    for (const limit of [1, 2, 3]) expect(await members(id, mark, limit)).toEqual(['a1', 'a2', 'b1']);
    const first = await api(mark).get(`/v1/segments/${id}/members?limit=1`);
    const cursor = first.json.nextCursor as string;
    expect(typeof cursor).toBe('string');
    const url = (c: string, who = mark) => send(who, 'GET', `/v1/segments/${id}/members?limit=1&cursor=${encodeURIComponent(c)}`);
    expect((await url(cursor)).status).toBe(200);
    expectProblem(await url(`${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`), 400, 'invalid_cursor');
    expectProblem(await url(cursor, mark2), 400, 'invalid_cursor');
    const otherSegment = await makeSegment({ conditions: [{ field: 'account.tier', op: 'in', value: ['A', 'B'] }] });
    expectProblem(await send(mark, 'GET', `/v1/segments/${otherSegment}/members?cursor=${encodeURIComponent(cursor)}`), 400, 'invalid_cursor');
    // The rules changed: a walk never mixes two rule sets.
    expect((await api(mark).patch(`/v1/segments/${id}`, { name: 'renamed' })).status).toBe(200);
    expectProblem(await url(cursor), 400, 'invalid_cursor');
    expectFieldError(await api(mark).get(`/v1/segments/${id}/members?limit=0`), 'limit');
  });

  it('walkSegmentMembers: pages of ≤ pageSize with company, owner and visible custom values', async () => {
    const id = await makeSegment({ conditions: [{ field: 'email', op: 'exists' }] });
    const pages: SegmentMember[][] = [];
    for await (const page of walkSegmentMembers(T, id, { pageSize: 2 })) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    const all = pages.flat();
    expect(all.map((m) => ids[m.id]).sort()).toEqual(['a1', 'b1', 'n1']);
    const a1 = all.find((m) => ids[m.id] === 'a1')!;
    expect(a1).toMatchObject({ entity: 'contact', email: 'a1@example.cn', phone: null, ownerId: 'alice', company: expect.stringContaining('A级客户'), custom: { budget: 100, interests: ['crm'] } });
    expect(all.find((m) => ids[m.id] === 'n1')!.company).toBeNull();
    await expect(walkSegmentMembers(T, 'NOPE', {}).next()).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });
});
