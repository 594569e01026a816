/**
 * API keys over HTTP (api/integrations.md "API keys"), through the local runtime's router and
 * its Lambda authorizer: create, use, list, delete, expire; who may; what is stored.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { createApiKey } from '#domain/integrations/api-keys.ts';
import { apiKeyKey, apiKeyLookupKey, hashApiKey, touchApiKey } from '#domain/integrations/api-key.ts';
import { getItem } from '#domain/table/query.ts';
import { api, expectFieldError, expectProblem, listAll, send, type Caller } from '#test/support/fixtures.ts';

const T = 'keys';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };

const KEY_SHAPE = /^crm_[A-Za-z0-9_-]{43}$/;
/** Past the prefix the API shows: the secret part of a key. */
const PREFIX_END = 12;

/** A request with `Authorization: Bearer <key>`. */
const withKey = (key: string) => ({
  get: (url: string) => send(null, 'GET', url, undefined, { token: key }),
  post: (url: string, body?: unknown) => send(null, 'POST', url, body, { token: key }),
  patch: (url: string, body?: unknown) => send(null, 'PATCH', url, body, { token: key }),
  delete: (url: string) => send(null, 'DELETE', url, undefined, { token: key }),
});

async function createKey(body: Record<string, unknown>, as: Caller = root) {
  const res = await api(as).post('/v1/api-keys', body);
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; key: string; prefix: string; [k: string]: unknown };
}

describe('create, use, list, delete', () => {
  it('a rep key: shown once, acts as apikey:<id> with its role and team, sees only its own records; deleted → 401 at once', async () => {
    const res = await api(root).post('/v1/api-keys', { name: '  ERP 同步  ', role: 'rep', teamId: 'east' });
    expect(res.status, res.body).toBe(201);
    const created = res.json;
    expect(created).toEqual({
      id: expect.any(String),
      name: 'ERP 同步',
      role: 'rep',
      teamId: 'east',
      prefix: created.key.slice(0, 12),
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
      version: 1,
      expiresAt: null,
      lastUsedAt: null,
      key: expect.stringMatching(KEY_SHAPE),
    });
    expect(res.headers.location).toBe(`/v1/api-keys/${created.id}`);
    const key = created.key as string;
    const me = `apikey:${created.id}`;

    // It creates records that it then owns, with its team.
    const account = await withKey(key).post('/v1/accounts', { name: '密钥客户有限公司' });
    expect(account.status, account.body).toBe(201);
    expect(account.json.ownerId).toBe(me);
    expect((await withKey(key).get(`/v1/accounts/${account.json.id}`)).status).toBe(200);
    // A rep key sees only its own: alice's account is a 404 to it, and not in its list.
    const alices = await api(alice).post('/v1/accounts', { name: '爱丽丝客户有限公司' });
    expectProblem(await withKey(key).get(`/v1/accounts/${alices.json.id}`), 404, 'not_found');
    expect((await listAll(alice, '/v1/accounts')).map((a) => a.id)).not.toContain(account.json.id);
    const keyList = await withKey(key).get('/v1/accounts?limit=100');
    expect(keyList.json.items.map((a: { id: string }) => a.id)).toEqual([account.json.id]);
    // Its manager sees what it owns (same team); its role bars it from admin routes.
    expect((await api(mia).get(`/v1/accounts/${account.json.id}`)).status).toBe(200);
    expectProblem(await withKey(key).get('/v1/api-keys'), 403, 'forbidden');
    expectProblem(await withKey(key).post('/v1/api-keys', { name: 'escalate', role: 'admin' }), 403, 'forbidden');
    // A rep key may not give what it creates to someone else.
    expectProblem(await withKey(key).post('/v1/accounts', { name: '给别人的客户', ownerId: 'alice' }), 403, 'forbidden');

    // Listed and read without the key (or its hash), with lastUsedAt now set.
    const listed = (await listAll(root, '/v1/api-keys')).find((k) => k.id === created.id);
    const { key: _shownOnce, ...view } = created;
    expect(listed).toEqual({ ...view, lastUsedAt: expect.any(String) });
    const read = await api(root).get(`/v1/api-keys/${created.id}`);
    expect(read.json).toEqual(listed);
    expect(read.headers.etag).toBe('"1"');
    expect(JSON.stringify(read.json)).not.toContain(key);
    expect(Object.keys(read.json)).not.toContain('keyHash');

    // The directory knows the key as a user (so what it owns can be reassigned to it and back).
    const users = await listAll(root, '/v1/users');
    expect(users.find((u) => u.userId === me)).toMatchObject({ role: 'rep', teamId: 'east' });
    const moved = await api(mia).patch(`/v1/accounts/${alices.json.id}`, { ownerId: me });
    expect(moved.status, moved.body).toBe(200);
    expect((await withKey(key).get(`/v1/accounts/${alices.json.id}`)).status).toBe(200);
    expect((await api(root).get(`/v1/accounts?ownerId=${encodeURIComponent(me)}&limit=100`)).json.items).toHaveLength(2);

    // Deleted: the next request is refused, locally at once; both items are gone.
    expect((await api(root).delete(`/v1/api-keys/${created.id}`)).status).toBe(204);
    expectProblem(await withKey(key).get('/v1/accounts'), 401, 'unauthenticated');
    expectProblem(await api(root).get(`/v1/api-keys/${created.id}`), 404, 'not_found');
    expect(await getItem(apiKeyKey(T, created.id))).toBeUndefined();
    expect(await getItem(apiKeyLookupKey(hashApiKey(key)))).toBeUndefined();
    expectProblem(await api(root).delete(`/v1/api-keys/${created.id}`), 404, 'not_found');
  });

  it('an admin key may name the owner; a manager key sees its team', async () => {
    const adminKey = (await createKey({ name: 'admin integration', role: 'admin' })).key;
    await api(alice).get('/v1/tasks'); // alice is in the directory
    const given = await withKey(adminKey).post('/v1/accounts', { name: '指派客户有限公司', ownerId: 'alice' });
    expect(given.status, given.body).toBe(201);
    expect(given.json.ownerId).toBe('alice');

    const managerKey = (await createKey({ name: 'team east BI', role: 'manager', teamId: 'east' })).key;
    expect((await withKey(managerKey).get(`/v1/accounts/${given.json.id}`)).status).toBe(200);
    const westKey = (await createKey({ name: 'team west BI', role: 'manager', teamId: 'west' })).key;
    expectProblem(await withKey(westKey).get(`/v1/accounts/${given.json.id}`), 404, 'not_found');
  });

  it('an expired key → 401; a key of another tenant’s admin sees nothing of this tenant', async () => {
    // Made "a year ago" through the domain (the HTTP create refuses a past expiry).
    const past = await createApiKey(
      { identity: { tenantId: T, userId: 'root', role: 'admin' }, now: new Date('2025-01-01T00:00:00Z') },
      { name: 'old', role: 'admin', expiresAt: '2025-06-01T00:00:00.000Z' },
    );
    expectProblem(await withKey(past.key!).get('/v1/accounts'), 401, 'unauthenticated');

    const mine = await api(root).post('/v1/accounts', { name: '本租户客户有限公司' });
    const foreign = (await createKey({ name: 'other tenant', role: 'admin' }, { tenant: 'keys-other', user: 'root', role: 'admin' })).key;
    expectProblem(await withKey(foreign).get(`/v1/accounts/${mine.json.id}`), 404, 'not_found');
    expect((await listAll(root, '/v1/api-keys')).map((k) => k.name)).not.toContain('other tenant');
  });

  it('unknown, altered and malformed keys → 401', async () => {
    const { key } = await createKey({ name: 'real', role: 'rep' });
    const altered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const bad of [altered, `crm_${'A'.repeat(43)}`, 'crm_', `${key}x`, key.toUpperCase()]) {
      expectProblem(await withKey(bad).get('/v1/accounts'), 401, 'unauthenticated');
    }
    expect((await withKey(key).get('/v1/accounts')).status).toBe(200);
  });

  it('an Idempotency-Key replay answers the same 201 and id, without the key (the table never held it)', async () => {
    const headers = { 'idempotency-key': 'create-key-once' };
    const first = await api(root).post('/v1/api-keys', { name: 'retried', role: 'rep' }, { headers });
    const again = await api(root).post('/v1/api-keys', { name: 'retried', role: 'rep' }, { headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json.id).toBe(first.json.id);
    const { key, ...view } = first.json;
    expect(key).toMatch(KEY_SHAPE);
    expect(again.json).toEqual(view);
    expect((await withKey(key).get('/v1/accounts')).status).toBe(200);
  });

  it('no item of the table holds a key: only its SHA-256', async () => {
    const { key } = await createKey({ name: 'scanned', role: 'rep', teamId: 'east' });
    await withKey(key).get('/v1/accounts');
    const items = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(new ScanCommand({ TableName: tableName(), ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    expect(items.length).toBeGreaterThan(0);
    expect(items.filter((item) => JSON.stringify(item).includes(key.slice(PREFIX_END)))).toEqual([]);
    expect(items.filter((item) => JSON.stringify(item).includes(hashApiKey(key)))).toHaveLength(2);
  });

  it('two deletes at once: one 204, the other 404', async () => {
    const { id } = await createKey({ name: 'raced', role: 'rep' });
    const answers = await Promise.all([api(root).delete(`/v1/api-keys/${id}`), api(root).delete(`/v1/api-keys/${id}`)]);
    expect(answers.map((a) => a.status).sort()).toEqual([204, 404]);
  });
});

describe('who may, and what a body may say', () => {
  it('only admins manage keys: every other role is a 403, whatever the id', async () => {
    const { id } = await createKey({ name: 'guarded', role: 'rep' });
    for (const who of [alice, mia, { tenant: T, user: 'sam', role: 'support' }, { tenant: T, user: 'mark', role: 'marketer' }] as Caller[]) {
      expectProblem(await api(who).post('/v1/api-keys', { name: 'mine', role: 'rep' }), 403, 'forbidden');
      expectProblem(await api(who).get('/v1/api-keys'), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/api-keys/${id}`), 403, 'forbidden');
      expectProblem(await api(who).delete(`/v1/api-keys/${id}`), 403, 'forbidden');
    }
    expect((await api(root).get(`/v1/api-keys/${id}`)).status).toBe(200);
  });

  it('bad bodies → 400 naming the field, nothing created', async () => {
    const before = (await listAll(root, '/v1/api-keys')).length;
    const cases: [Record<string, unknown>, string][] = [
      [{ role: 'rep' }, 'name'],
      [{ name: '   ', role: 'rep' }, 'name'],
      [{ name: 'x'.repeat(201), role: 'rep' }, 'name'],
      [{ name: 'no role' }, 'role'],
      [{ name: 'bad role', role: 'root' }, 'role'],
      [{ name: 'bad team', role: 'manager', teamId: 'east side' }, 'teamId'],
      [{ name: 'null team', role: 'manager', teamId: null }, 'teamId'],
      [{ name: 'bad expiry', role: 'rep', expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'past expiry', role: 'rep', expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt'],
      [{ name: 'own key', role: 'rep', key: 'crm_mine' }, 'key'],
      [{ name: 'own prefix', role: 'rep', prefix: 'crm_' }, 'prefix'],
      [{ name: 'used', role: 'rep', lastUsedAt: '2026-01-01T00:00:00Z' }, 'lastUsedAt'],
    ];
    for (const [body, field] of cases) expectFieldError(await api(root).post('/v1/api-keys', body), field);
    expect((await listAll(root, '/v1/api-keys')).length).toBe(before);
  });
});

describe('lastUsedAt', () => {
  it('moves at most once a minute: a conditional update per key and container, none in between', async () => {
    const created = await createApiKey({ identity: { tenantId: T, userId: 'root', role: 'admin' }, now: new Date('2026-06-01T00:00:00Z') }, { name: 'touched', role: 'rep' });
    const at = (s: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + s * 1000);
    const stored = async () => (await getItem(apiKeyKey(T, created.id)))!;
    await touchApiKey(T, created.id, at(10));
    expect((await stored()).lastUsedAt).toBe(at(10).toISOString());
    await touchApiKey(T, created.id, at(69));
    expect((await stored()).lastUsedAt).toBe(at(10).toISOString());
    await touchApiKey(T, created.id, at(70));
    expect((await stored()).lastUsedAt).toBe(at(70).toISOString());
    // Not a change of the key: same version, same updatedAt.
    expect(await stored()).toMatchObject({ version: 1, updatedAt: created.updatedAt });
  });
});
