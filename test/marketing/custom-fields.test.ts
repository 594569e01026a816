/**
 * Custom fields (api/marketing.md "Custom fields"): definitions per tenant and entity, typed
 * values on accounts, contacts and leads, merge on PATCH, hidden while undefined, the 60 s cache
 * (the writer's container sees its change at once), and two PUTs racing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';

const T = 'fields';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const root2: Caller = { tenant: T, user: 'root2', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'fields-other', user: 'root', role: 'admin' };

const PROFILE = [
  { key: 'pricePreference', label: '价格偏好', type: 'select', options: ['低', '中', '高'] },
  { key: 'budget', label: 'Budget', type: 'number' },
  { key: 'firstMet', label: 'First met', type: 'date' },
  { key: 'vip', label: 'VIP', type: 'boolean' },
  { key: 'interests', label: 'Interests', type: 'multiselect', options: ['erp', 'crm', 'bi'] },
  { key: 'notes', label: 'Notes', type: 'text' },
];

beforeAll(async () => {
  for (const c of [root, root2, alice, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('definitions', () => {
  it('a new tenant has none; PUT (admin) replaces the set, GET shows it to every role', async () => {
    for (const entity of ['accounts', 'contacts', 'leads']) {
      const got = await api(alice).get(`/v1/fields/${entity}`);
      expect(got.status, got.body).toBe(200);
      expect(got.json.fields).toEqual([]);
    }
    const put = await api(root).put('/v1/fields/leads', { fields: PROFILE });
    expect(put.status, put.body).toBe(200);
    expect(put.json.fields).toEqual(PROFILE.map((f) => ({ required: false, ...f })));
    expect(put.json.version).toBe(1);
    for (const c of [alice, mark]) expect((await api(c).get('/v1/fields/leads')).json.fields).toEqual(put.json.fields);
    // Other tenants and other entities are untouched.
    expect((await api(other).get('/v1/fields/leads')).json.fields).toEqual([]);
    expect((await api(root).get('/v1/fields/accounts')).json.fields).toEqual([]);
    // Only admins change them; an unknown entity is no resource.
    expectProblem(await api(mark).put('/v1/fields/leads', { fields: [] }), 403, 'forbidden');
    expectProblem(await api(root).get('/v1/fields/opportunities'), 404, 'not_found');
  });

  it('refuses bad sets with 400 naming the problem, and keeps the set in force', async () => {
    const before = (await api(root).get('/v1/fields/contacts')).json;
    const bad: [unknown, string][] = [
      [[{ key: 'Bad', label: 'x', type: 'text' }], 'key'],
      [[{ key: '1abc', label: 'x', type: 'text' }], 'key'],
      [[{ key: `a${'b'.repeat(40)}`, label: 'x', type: 'text' }], 'key'],
      [[{ key: 'a_b', label: 'x', type: 'text' }], 'key'],
      [[{ key: 'a', label: 'x', type: 'text' }, { key: 'a', label: 'y', type: 'number' }], 'fields'],
      [[{ key: 'a', label: 'x', type: 'select' }], 'options'],
      [[{ key: 'a', label: 'x', type: 'multiselect', options: [] }], 'options'],
      [[{ key: 'a', label: 'x', type: 'text', options: ['x'] }], 'options'],
      [[{ key: 'a', label: 'x', type: 'select', options: ['x', 'x'] }], 'options'],
      [[{ key: 'a', label: 'x', type: 'select', options: Array.from({ length: 101 }, (_, i) => `o${i}`) }], 'options'],
      [[{ key: 'a', label: 'x', type: 'color' }], 'type'],
      [[{ key: 'a', label: '', type: 'text' }], 'label'],
      [[{ key: 'a', label: 'x', type: 'text', bogus: 1 }], 'bogus'],
      [Array.from({ length: 51 }, (_, i) => ({ key: `f${i}`, label: 'x', type: 'text' })), 'fields'],
    ];
    for (const [fields, path] of bad) expectFieldError(await api(root).put('/v1/fields/contacts', { fields }), path);
    expect((await api(root).get('/v1/fields/contacts')).json).toEqual(before);
    // 50 is fine, and 1-character and 40-character keys too.
    const fifty = Array.from({ length: 50 }, (_, i) => ({ key: i === 0 ? 'a' : i === 1 ? `a${'b'.repeat(39)}` : `f${i}`, label: 'x', type: 'text' }));
    expect((await api(root).put('/v1/fields/contacts', { fields: fifty })).status).toBe(200);
    expect((await api(root).put('/v1/fields/contacts', { fields: [] })).json.fields).toEqual([]);
  });

  it('two PUTs racing: both land whole, one after the other, and this container shows the last at once', async () => {
    const a = [{ key: 'alpha', label: 'A', type: 'text' }];
    const b = [{ key: 'beta', label: 'B', type: 'number', required: false }, { key: 'gamma', label: 'G', type: 'boolean' }];
    for (let round = 0; round < 3; round++) {
      const [ra, rb] = await Promise.all([api(root).put('/v1/fields/accounts', { fields: a }), api(root2).put('/v1/fields/accounts', { fields: b })]);
      expect([ra.status, rb.status]).toEqual([200, 200]);
      expect(ra.json.version).not.toBe(rb.json.version);
      const last = ra.json.version > rb.json.version ? ra.json : rb.json;
      const stored = (await api(root).get('/v1/fields/accounts')).json;
      expect(stored).toEqual(last);
      // What validation uses in this container, without waiting for the cache.
      expect(await fieldDefinitions(T, 'accounts')).toEqual(last.fields);
    }
  });
});

describe('values on records', () => {
  beforeAll(async () => {
    expect((await api(root).put('/v1/fields/leads', { fields: PROFILE })).status).toBe(200);
    expect((await api(root).put('/v1/fields/contacts', { fields: [...PROFILE, { key: 'region', label: '区域', type: 'text', required: true }] })).status).toBe(200);
    expect((await api(root).put('/v1/fields/accounts', { fields: PROFILE })).status).toBe(200);
  });

  const lead = (extra: Record<string, unknown> = {}) => ({ name: uniq('李雷'), email: `${uniq('l').replace(/\W/g, '')}@example.cn`, ...extra });

  it('typed values are accepted, stored and shown; default {}', async () => {
    const custom = { pricePreference: '中', budget: 1200.5, firstMet: '2026-03-01', vip: true, interests: ['crm', 'bi'], notes: '  喜欢喝茶  ' };
    const created = await api(alice).post('/v1/leads', lead({ custom }));
    expect(created.status, created.body).toBe(201);
    expect(created.json.custom).toEqual({ ...custom, notes: '喜欢喝茶' });
    expect((await api(alice).get(`/v1/leads/${created.json.id}`)).json.custom).toEqual(created.json.custom);
    const plain = await api(alice).post('/v1/leads', lead());
    expect(plain.json.custom).toEqual({});
    const listed = await listAll(alice, '/v1/leads');
    expect(listed.find((l) => l.id === created.json.id).custom).toEqual(created.json.custom);

    const account = await api(alice).post('/v1/accounts', { name: uniq('画像客户'), custom: { budget: 9 } });
    expect(account.status, account.body).toBe(201);
    expect(account.json.custom).toEqual({ budget: 9 });
    expect((await api(alice).get(`/v1/accounts/${account.json.id}/360`)).json.account.custom).toEqual({ budget: 9 });
  });

  it('an unknown key, a wrong type, a value outside the options → 400 naming custom.<key>, nothing written', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ nope: 1 }, 'nope'],
      [{ budget: '12' }, 'budget'],
      [{ budget: null }, 'budget'],
      [{ firstMet: '2026-02-30' }, 'firstMet'],
      [{ firstMet: '2026-03-01T00:00:00Z' }, 'firstMet'],
      [{ vip: 'yes' }, 'vip'],
      [{ pricePreference: '极高' }, 'pricePreference'],
      [{ interests: ['crm', 'crm'] }, 'interests'],
      [{ interests: 'crm' }, 'interests'],
      [{ interests: ['sap'] }, 'interests'],
      [{ notes: 'x'.repeat(1001) }, 'notes'],
    ];
    const before = (await listAll(root, '/v1/leads')).length;
    for (const [custom, key] of bad) {
      const res = await api(alice).post('/v1/leads', lead({ custom }));
      expectFieldError(res, key);
      expect(res.json.errors.some((e: { path: string }) => e.path === `body.custom.${key}`), res.body).toBe(true);
    }
    expectFieldError(await api(alice).post('/v1/leads', lead({ custom: [] })), 'custom');
    expect((await listAll(root, '/v1/leads')).length).toBe(before);
    expect((await api(alice).post('/v1/leads', lead({ custom: { notes: 'x'.repeat(1000) } }))).status).toBe(201);
  });

  it('a required field missing on create → 400; PATCH merges key by key, null clears, a required key cannot be cleared', async () => {
    expectFieldError(await api(alice).post('/v1/contacts', { name: uniq('王') }), 'region');
    const created = await api(alice).post('/v1/contacts', { name: uniq('王'), custom: { region: '华东', budget: 5, vip: false } });
    expect(created.status, created.body).toBe(201);
    const id = created.json.id;

    const merged = await api(alice).patch(`/v1/contacts/${id}`, { custom: { budget: 7, interests: ['erp'] } });
    expect(merged.status, merged.body).toBe(200);
    expect(merged.json.custom).toEqual({ region: '华东', budget: 7, vip: false, interests: ['erp'] });
    expect(merged.json.version).toBe(2);

    const cleared = await api(alice).patch(`/v1/contacts/${id}`, { custom: { vip: null } }, { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(cleared.json.custom).toEqual({ region: '华东', budget: 7, interests: ['erp'] });
    expectFieldError(await api(alice).patch(`/v1/contacts/${id}`, { custom: { region: null } }), 'region');
    expectFieldError(await api(alice).patch(`/v1/contacts/${id}`, { custom: { budget: 'x' } }), 'budget');
    // The same values again change nothing (no new version).
    const same = await api(alice).patch(`/v1/contacts/${id}`, { custom: { budget: 7 } });
    expect(same.json.version).toBe(3);
    expect((await api(alice).get(`/v1/contacts/${id}`)).json.custom).toEqual({ region: '华东', budget: 7, interests: ['erp'] });
  });

  it('removing a definition hides its values at once; adding it back with the same type shows them, with another type not', async () => {
    const created = await api(alice).post('/v1/leads', lead({ custom: { budget: 42, notes: 'keep' } }));
    const id = created.json.id;
    const without = PROFILE.filter((f) => f.key !== 'budget');
    expect((await api(root).put('/v1/fields/leads', { fields: without })).status).toBe(200);
    expect((await api(alice).get(`/v1/leads/${id}`)).json.custom).toEqual({ notes: 'keep' });
    expect((await listAll(alice, '/v1/leads')).find((l) => l.id === id).custom).toEqual({ notes: 'keep' });
    // A hidden key is unknown to writes as well.
    expectFieldError(await api(alice).patch(`/v1/leads/${id}`, { custom: { budget: 1 } }), 'budget');
    // A patch of another key keeps the hidden value.
    expect((await api(alice).patch(`/v1/leads/${id}`, { custom: { notes: 'changed' } })).status).toBe(200);

    expect((await api(root).put('/v1/fields/leads', { fields: [...without, { key: 'budget', label: 'B', type: 'text' }] })).status).toBe(200);
    expect((await api(alice).get(`/v1/leads/${id}`)).json.custom).toEqual({ notes: 'changed' });
    expect((await api(root).put('/v1/fields/leads', { fields: PROFILE })).status).toBe(200);
    expect((await api(alice).get(`/v1/leads/${id}`)).json.custom).toEqual({ notes: 'changed', budget: 42 });
  });
});

describe('leads: tags and campaignId', () => {
  it('leads carry tags and campaignId; GET /v1/leads filters by campaignId', async () => {
    const a = await api(mark).post('/v1/leads', { name: uniq('活动线索'), tags: ['expo'], campaignId: 'cmp-1' });
    expect(a.status, a.body).toBe(201);
    expect(a.json).toMatchObject({ tags: ['expo'], campaignId: 'cmp-1' });
    const b = await api(mark).post('/v1/leads', { name: uniq('别的线索'), campaignId: 'cmp-2' });
    const ids = (await listAll(mark, '/v1/leads?campaignId=cmp-1')).map((l) => l.id);
    expect(ids).toContain(a.json.id);
    expect(ids).not.toContain(b.json.id);
    const byStatus = (await listAll(mark, '/v1/leads?status=new&campaignId=cmp-2')).map((l) => l.id);
    expect(byStatus).toEqual([b.json.id]);
    const cleared = await api(mark).patch(`/v1/leads/${b.json.id}`, { campaignId: null });
    expect('campaignId' in cleared.json).toBe(false);
  });
});
