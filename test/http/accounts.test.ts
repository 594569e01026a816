import { describe, expect, it } from 'vitest';
import { as } from '#test/support/api.ts';

const alice = { tenant: 'acme', user: 'alice', role: 'rep', team: 'east' } as const;
const bob = { tenant: 'acme', user: 'bob', role: 'rep', team: 'east' } as const;
const mia = { tenant: 'acme', user: 'mia', role: 'manager', team: 'east' } as const;

describe('accounts', () => {
  it('creates, reads, patches with If-Match, lists and deletes', async () => {
    const created = await as(alice).post('/v1/accounts', { name: '  星辰科技有限公司 ', tier: 'A' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: '星辰科技有限公司', tier: 'A', lifecycleStage: 'prospect', tags: [], ownerId: 'alice', poolStatus: 'owned', lastFollowUpAt: null, version: 1 });
    expect(created.headers.location).toBe(`/v1/accounts/${created.json.id}`);
    const id = created.json.id;

    const got = await as(alice).get(`/v1/accounts/${id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');

    const patched = await as(alice).patch(`/v1/accounts/${id}`, { tier: null, tags: ['vip'] }, { headers: { 'if-match': '"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.json.tier).toBeUndefined();
    expect(patched.json.version).toBe(2);

    const stale = await as(alice).patch(`/v1/accounts/${id}`, { industry: 'x' }, { headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.json.code).toBe('version_mismatch');

    expect((await as(bob).get(`/v1/accounts/${id}`)).status).toBe(404);
    expect((await as(mia).get(`/v1/accounts/${id}`)).status).toBe(200);

    const list = await as(alice).get('/v1/accounts');
    expect(list.json.items.map((a: { id: string }) => a.id)).toContain(id);

    expect((await as(alice).delete(`/v1/accounts/${id}`)).status).toBe(204);
    expect((await as(alice).get(`/v1/accounts/${id}`)).status).toBe(404);
  });
});
