/**
 * The conventions of API.md §3: ETags and versions, merge-patch, If-Match, delete,
 * Idempotency-Key, UTF-8 text, trimming and length bounds, cursor walks, Location.
 * Generated from the route table where a convention holds for every route of a kind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '#functions/routes.ts';
import { apiRoutes as routes } from '#test/support/fixtures.ts';
import {
  api,
  CREATE_ONLY_FIELDS,
  bodyFor,
  collectionOf,
  expectFieldError,
  expectProblem,
  fetchRecord,
  hasIdParam,
  idsOf,
  isCreate,
  keyOf,
  listAll,
  seederFor,
  seedRefs,
  send,
  SHOWN_ONCE,
  uniq,
  withoutShownOnce,
  type Caller,
  type Refs,
  type Sent,
} from '#test/support/fixtures.ts';

const T = 'conv';
const admin: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };

let refs: Required<Refs>;
let bobRefs: Required<Refs>;
beforeAll(async () => {
  refs = await seedRefs(alice);
  bobRefs = await seedRefs(bob);
});

/**
 * Collections whose records are tenant settings that only admins create and change (pipelines):
 * the generated tests below act as two admins for them, and as reps alice and bob for the rest.
 */
const settingsActors: Record<string, [Caller, Caller]> = {
  pipelines: [admin, { tenant: T, user: 'root2', role: 'admin' }],
  // Marketing records (api/marketing.md): marketers' and admins', owned by nobody.
  segments: [admin, { tenant: T, user: 'root2', role: 'admin' }],
  suppressions: [admin, { tenant: T, user: 'root2', role: 'admin' }],
  workflows: [{ tenant: T, user: 'max', role: 'marketer' }, { tenant: T, user: 'max2', role: 'marketer' }],
  campaigns: [{ tenant: T, user: 'max', role: 'marketer' }, { tenant: T, user: 'max2', role: 'marketer' }],
  // API keys (api/integrations.md): admins' alone.
  'api-keys': [admin, { tenant: T, user: 'root2', role: 'admin' }],
  // Knowledge-base articles (api/service.md): support's and admins', owned by nobody.
  'kb/articles': [{ tenant: T, user: 'sam', role: 'support' }, { tenant: T, user: 'sam2', role: 'support' }],
  surveys: [{ tenant: T, user: 'max', role: 'marketer' }, { tenant: T, user: 'max2', role: 'marketer' }],
  // Tickets are support's to change (reps only read and comment): two support agents.
  tickets: [{ tenant: T, user: 'sam', role: 'support' }, { tenant: T, user: 'sue', role: 'support' }],
  // Inbound forms (api/integrations.md): admins only.
  forms: [admin, { tenant: T, user: 'root2', role: 'admin' }],
  // Outbound webhooks (api/integrations.md): admins' alone.
  webhooks: [admin, { tenant: T, user: 'root2', role: 'admin' }],
  // CSV imports: read by their creator and admins (the seeder's import is a tenant admin's).
  imports: [admin, { tenant: T, user: 'root2', role: 'admin' }],
};
/** Without the fields only a create shows (a form's or a webhook's signing secret, an API key's key: CREATE_ONLY_FIELDS). */
const withoutCreateOnly = (r: Route, json: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(json).filter(([k]) => !(CREATE_ONLY_FIELDS[collectionOf(r)] ?? []).includes(k)));
const actorOf = (r: Route): Caller => settingsActors[collectionOf(r)]?.[0] ?? alice;
const otherActorOf = (r: Route): Caller => settingsActors[collectionOf(r)]?.[1] ?? bob;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const creates = routes.filter(isCreate);
const patches = routes.filter((r) => r.method === 'PATCH');
const deletes = routes.filter((r) => r.method === 'DELETE');
/** `GET /v1/<collection>/{id}` exactly (a nested collection's too: `/v1/kb/articles/{id}`). */
const reads = routes.filter((r) => r.method === 'GET' && r.path === `/v1/${collectionOf(r)}/{id}`);
const readRouteOf = (c: string) => reads.find((r) => collectionOf(r) === c);

async function seedAs(caller: Caller, r: Route, callerRefs = refs) {
  return seederFor(r)(caller, { accountId: callerRefs.accountId });
}

describe('create, read, ETag', () => {
  for (const r of creates) {
    it(`${keyOf(r)} → 201 with the resource, version 1, timestamps, and a Location that GETs it`, async () => {
      const body = bodyFor(r)(refs);
      const res = await api(actorOf(r)).post(r.path, body);
      expect(res.status, res.body).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json).toMatchObject({ version: 1 });
      expect(typeof res.json.id).toBe('string');
      expect(res.json.createdAt).toMatch(ISO_UTC);
      expect(res.json.updatedAt).toBe(res.json.createdAt);
      expect(res.headers.location, `${res.req}: Location`).toBe(`${r.path}/${res.json.id}`);
      const got = await api(actorOf(r)).get(res.headers.location!);
      expect(got.status, got.req).toBe(200);
      expect(got.json).toEqual(withoutCreateOnly(r, res.json));
      for (const field of SHOWN_ONCE[collectionOf(r)] ?? []) expect(res.json[field], `${res.req}: ${field} shown once`).toBeTypeOf('string');
      expect(got.headers.etag).toBe('"1"');
    });
  }

  it('defaults: tags [], statuses at their first value, owner and assignee the caller', async () => {
    const account = await api(alice).post('/v1/accounts', { name: uniq('defaults') });
    expect(account.json).toMatchObject({ tags: [], lifecycleStage: 'prospect', ownerId: 'alice', poolStatus: 'owned', lastFollowUpAt: null });
    const contact = await api(alice).post('/v1/contacts', { name: uniq('默认') });
    expect(contact.json).toMatchObject({ tags: [], ownerId: 'alice' });
    const task = await api(alice).post('/v1/tasks', { title: 'defaults', dueAt: '2027-01-01T00:00:00Z' });
    expect(task.json).toMatchObject({ status: 'open', assigneeId: 'alice' });
    const before = Date.now();
    const activity = await api(alice).post('/v1/activities', { type: 'note', subject: 'now', accountId: account.json.id });
    expect(activity.json.occurredAt).toMatch(ISO_UTC);
    expect(Math.abs(Date.parse(activity.json.occurredAt) - before)).toBeLessThan(60_000);
  });

  for (const r of reads) {
    it(`${keyOf(r)}: ETag is "<version>", and follows every change`, async () => {
      const id = await seedAs(actorOf(r), r);
      const got = await api(actorOf(r)).get(`/v1/${collectionOf(r)}/${id}`);
      expect(got.status).toBe(200);
      expect(got.headers.etag).toBe(`"${got.json.version}"`);
      expect(got.json.version).toBe(1);
      const patch = patches.find((p) => collectionOf(p) === collectionOf(r));
      if (!patch) return;
      const patched = await api(actorOf(r)).patch(`/v1/${collectionOf(r)}/${id}`, bodyFor(patch)(refs));
      expect(patched.status, patched.body).toBe(200);
      expect(patched.json.version).toBe(2);
      expect(patched.headers.etag).toBe('"2"');
      expect(Date.parse(patched.json.updatedAt)).toBeGreaterThanOrEqual(Date.parse(got.json.updatedAt));
      const again = await api(actorOf(r)).get(`/v1/${collectionOf(r)}/${id}`);
      expect(again.headers.etag).toBe('"2"');
      expect(again.json).toEqual(patched.json);
    });
  }
});

describe('PATCH: merge-patch and If-Match', () => {
  /**
   * Per PATCH route: an optional field `null` clears, a required field `null` refuses. `clears:
   * null` for a body with no optional field (an article: title, body, tags, status all have a value
   * always): then `null` is refused on every field of its valid body.
   */
  const nullable: Record<string, { clears: string | null; required: string; valid?: (text: string) => string }> = {
    'PATCH /v1/accounts/{id}': { clears: 'industry', required: 'name' },
    'PATCH /v1/contacts/{id}': { clears: 'title', required: 'name' },
    'PATCH /v1/activities/{id}': { clears: 'body', required: 'subject' },
    'PATCH /v1/tasks/{id}': { clears: 'description', required: 'title' },
    'PATCH /v1/leads/{id}': { clears: 'title', required: 'name' },
    'PATCH /v1/orders/{id}': { clears: 'notes', required: 'name' },
    'PATCH /v1/quotes/{id}': { clears: 'notes', required: 'name' },
    'PATCH /v1/opportunities/{id}': { clears: 'needs', required: 'name' },
    'PATCH /v1/pipelines/{id}': { clears: 'description', required: 'name' },
    'PATCH /v1/segments/{id}': { clears: 'description', required: 'name' },
    'PATCH /v1/workflows/{id}': { clears: 'delay', required: 'name' },
    'PATCH /v1/campaigns/{id}': { clears: 'text', required: 'name' },
    'PATCH /v1/kb/articles/{id}': { clears: null, required: 'title' },
    'PATCH /v1/tickets/{id}': { clears: 'description', required: 'subject' },
    // A form shows `ownerId` and `campaignId` always (null when none: api/integrations.md); null on
    // them sets that default (test/integrations/forms.test.ts); its other fields refuse null.
    'PATCH /v1/forms/{id}': { clears: null, required: 'name' },
    // A URL is required; a changed value must still be one the egress policy accepts.
    'PATCH /v1/webhooks/{id}': { clears: 'description', required: 'url', valid: (text) => `http://127.0.0.1:9/${encodeURIComponent(text)}` },
  };
  const mergePatch = { headers: { 'content-type': 'application/merge-patch+json' } };
  const requiredValue = (r: Route, text: string) => nullable[keyOf(r)]?.valid?.(text) ?? text;

  for (const r of patches) {
    it(`${keyOf(r)}: merge-patch null clears an optional field; null on a required field → 400, nothing changed`, async () => {
      const n = nullable[keyOf(r)];
      if (!n) throw new Error(`route ${keyOf(r)} has no entry in the merge-patch table of conventions.test.ts`);
      const c = collectionOf(r);
      const id = await seedAs(actorOf(r), r);
      const before = await fetchRecord(actorOf(r), c, id);
      if (n.clears === null) {
        for (const field of new Set([n.required, ...Object.keys(bodyFor(r)(refs))])) {
          expectFieldError(await api(actorOf(r)).patch(`/v1/${c}/${id}`, { [field]: null }, mergePatch), field);
        }
        expect(await fetchRecord(actorOf(r), c, id)).toEqual(before);
        return;
      }
      expect(before![n.clears], `the seeded ${c} has ${n.clears} set`).toBeDefined();

      const cleared = await api(actorOf(r)).patch(`/v1/${c}/${id}`, { [n.clears]: null }, mergePatch);
      expect(cleared.status, cleared.body).toBe(200);
      expect(n.clears in cleared.json, `${n.clears} is gone from the answer`).toBe(false);
      expect(cleared.json.version).toBe(before!.version + 1);
      const after = await fetchRecord(actorOf(r), c, id);
      expect(after).toEqual(cleared.json);
      const { [n.clears]: _gone, version: _v, updatedAt: _u, ...rest } = before!;
      const { version: _v2, updatedAt: _u2, ...restAfter } = after!;
      expect(restAfter, 'nothing else changed').toEqual(rest);

      const refused = await api(actorOf(r)).patch(`/v1/${c}/${id}`, { [n.required]: null }, mergePatch);
      expectFieldError(refused, n.required);
      expect(await fetchRecord(actorOf(r), c, id)).toEqual(after);
    });

    it(`${keyOf(r)}: If-Match with a stale version → 412 version_mismatch and nothing changes; the current one works`, async () => {
      const c = collectionOf(r);
      const id = await seedAs(actorOf(r), r);
      const body = bodyFor(r)(refs);
      const first = await api(actorOf(r)).patch(`/v1/${c}/${id}`, body, { headers: { 'if-match': '"1"' } });
      expect(first.status, first.body).toBe(200);
      const before = await fetchRecord(actorOf(r), c, id);
      for (const stale of ['"1"', '"3"', 'W/"1"']) {
        const res = await api(actorOf(r)).patch(`/v1/${c}/${id}`, { ...body, ...{ [nullable[keyOf(r)]?.required ?? 'x']: requiredValue(r, 'stale write') } }, { headers: { 'if-match': stale } });
        expectProblem(res, 412, 'version_mismatch');
        expect(await fetchRecord(actorOf(r), c, id), `after ${stale}`).toEqual(before);
      }
      // Re-sending what is already there changes nothing, so the version stays (API.md: +1 per change).
      const same = await api(actorOf(r)).patch(`/v1/${c}/${id}`, body, { headers: { 'if-match': '"2"' } });
      expect(same.status, same.body).toBe(200);
      expect(same.json.version).toBe(2);
      expect(await fetchRecord(actorOf(r), c, id)).toEqual(before);
      const change = { ...body, ...{ [nullable[keyOf(r)]?.required ?? 'x']: requiredValue(r, 'current write') } };
      const ok = await api(actorOf(r)).patch(`/v1/${c}/${id}`, change, { headers: { 'if-match': '"2"' } });
      expect(ok.status, ok.body).toBe(200);
      expect(ok.json.version).toBe(3);
    });
  }
});

describe('DELETE', () => {
  for (const r of deletes) {
    it(`${keyOf(r)} → 204; afterwards GET → 404 (and a second DELETE → 404); a stale If-Match → 412 first`, async () => {
      const c = collectionOf(r);
      expect(readRouteOf(c), `a GET /v1/${c}/{id} route`).toBeDefined();
      const id = await seedAs(actorOf(r), r);
      const before = await fetchRecord(actorOf(r), c, id);
      expectProblem(await api(actorOf(r)).delete(`/v1/${c}/${id}`, { headers: { 'if-match': '"9"' } }), 412, 'version_mismatch');
      expect(await fetchRecord(actorOf(r), c, id)).toEqual(before);

      const del = await api(actorOf(r)).delete(`/v1/${c}/${id}`);
      expect(del.status, del.body).toBe(204);
      expect(del.body).toBe('');
      expectProblem(await api(actorOf(r)).get(`/v1/${c}/${id}`), 404, 'not_found');
      expectProblem(await api(admin).get(`/v1/${c}/${id}`), 404, 'not_found');
      expectProblem(await api(actorOf(r)).delete(`/v1/${c}/${id}`), 404, 'not_found');
      expect(await idsOf(admin, c)).not.toContain(id);
    });
  }
});

describe('Idempotency-Key', () => {
  for (const r of creates) {
    const c = collectionOf(r);

    it(`${keyOf(r)}: the same key and body twice → the same 201 and id, one resource; another body → 409`, async () => {
      const body = bodyFor(r)(refs);
      const key = { headers: { 'idempotency-key': `k-${uniq('same').replace(/\W/g, '')}` } };
      const before = await idsOf(admin, c);
      const first = await api(actorOf(r)).post(r.path, body, key);
      const second = await api(actorOf(r)).post(r.path, body, key);
      expect(first.status, first.body).toBe(201);
      expect(second.status, second.body).toBe(201);
      expect(second.json.id).toBe(first.json.id);
      // A field shown once (a key) is not stored to be shown again: the replay is the answer without it.
      expect(second.json).toEqual(withoutShownOnce(c, first.json));
      expect(second.headers.location).toBe(first.headers.location);
      // The same body with its keys in another order is the same request.
      const reordered = Object.fromEntries(Object.entries(body).reverse());
      const third = await api(actorOf(r)).post(r.path, reordered, key);
      expect(third.status).toBe(201);
      expect(third.json.id).toBe(first.json.id);
      expect(await idsOf(admin, c)).toEqual([...before, first.json.id].sort());

      const other = await api(actorOf(r)).post(r.path, bodyFor(r)(refs), key);
      expectProblem(other, 409, 'idempotency_key_reused');
      expect(await idsOf(admin, c), 'a reused key creates nothing').toEqual([...before, first.json.id].sort());
    });

    it(`${keyOf(r)}: the same key used by another user is independent`, async () => {
      const key = { headers: { 'idempotency-key': `shared-key-between-users-${c}` } };
      const before = await idsOf(admin, c);
      const mine = await api(actorOf(r)).post(r.path, bodyFor(r)(refs), key);
      const theirs = await api(otherActorOf(r)).post(r.path, bodyFor(r)(bobRefs), key);
      expect(mine.status, mine.body).toBe(201);
      expect(theirs.status, theirs.body).toBe(201);
      expect(theirs.json.id).not.toBe(mine.json.id);
      if (!settingsActors[c]) expect(theirs.json.ownerId ?? theirs.json.assigneeId).toBe('bob');
      expect(await idsOf(admin, c)).toEqual([...before, mine.json.id, theirs.json.id].sort());
    });

    it(`${keyOf(r)}: 10 concurrent POSTs with the same key → one resource, every answer the same 201 and id`, async () => {
      const body = bodyFor(r)(refs);
      const key = { headers: { 'idempotency-key': `burst-${uniq('b').replace(/\W/g, '')}` } };
      const before = await idsOf(admin, c);
      const answers = await Promise.all(Array.from({ length: 10 }, () => api(actorOf(r)).post(r.path, body, key)));
      for (const a of answers) expect(a.status, `${a.req}: ${a.body}`).toBe(201);
      const ids = new Set(answers.map((a) => a.json.id));
      expect(ids.size, `ids answered: ${[...ids].join(', ')}`).toBe(1);
      expect(await idsOf(admin, c)).toEqual([...before, answers[0]!.json.id].sort());
    });
  }
});

describe('text: UTF-8, trimming, lengths', () => {
  it('Chinese, emoji and other non-ASCII text round-trips byte for byte', async () => {
    const name = '星辰科技有限公司';
    const description =
      '客户说：“我们下季度再谈。”👍🏽 家庭👨‍👩‍👧 国旗🇨🇳 罕见字𠮷野家 全角ＡＢＣ１２３ 日本語テキスト 한국어 — café, naïve, Ω≈ç√ \\ "quotes" \u2028 tab\tend';
    const res = await api(alice).post('/v1/accounts', { name, description, tags: ['重点客户', '🔥'] });
    expect(res.status, res.body).toBe(201);
    for (const body of [res.json, (await api(alice).get(`/v1/accounts/${res.json.id}`)).json]) {
      expect(Buffer.from(body.name, 'utf8').equals(Buffer.from(name, 'utf8'))).toBe(true);
      expect(Buffer.from(body.description, 'utf8').equals(Buffer.from(description, 'utf8'))).toBe(true);
      expect(body.tags).toEqual(['重点客户', '🔥']);
    }
    const got = await api(alice).get(`/v1/accounts/${res.json.id}`);
    expect(got.body, 'served as UTF-8 text, not \\u escapes').toContain(name);
    expect(got.headers['content-type']).toMatch(/^application\/json/);

    const contact = await api(alice).post('/v1/contacts', { name: '王小明', title: '采购经理', accountId: res.json.id });
    expect((await api(alice).get(`/v1/contacts/${contact.json.id}`)).json).toMatchObject({ name: '王小明', title: '采购经理' });
    const listed = await listAll(alice, `/v1/contacts?q=${encodeURIComponent('王')}`);
    expect(listed.map((x) => x.id)).toContain(contact.json.id);
  });

  it('strings are trimmed (ASCII and ideographic spaces); a blank required string → 400', async () => {
    const res = await api(alice).post('/v1/accounts', {
      name: '  \u3000 Trimmed Co  \t',
      industry: ' Retail ',
      tags: [' vip ', 'vip', '  重点 '],
      description: '\n  some text  \n',
    });
    expect(res.status, res.body).toBe(201);
    expect(res.json).toMatchObject({ name: 'Trimmed Co', industry: 'Retail', tags: ['vip', '重点'], description: 'some text' });
    const patched = await api(alice).patch(`/v1/accounts/${res.json.id}`, { name: '  Renamed  ' });
    expect(patched.json.name).toBe('Renamed');
    const contact = await api(alice).post('/v1/contacts', { name: ' 李雷 ', email: '  Li.Lei@Example.CN ' });
    expect(contact.json).toMatchObject({ name: '李雷', email: 'li.lei@example.cn' });

    const before = await idsOf(admin, 'accounts');
    expectFieldError(await api(alice).post('/v1/accounts', { name: '   ' }), 'name');
    expectFieldError(await api(alice).post('/v1/accounts', { name: '' }), 'name');
    expectFieldError(await api(alice).post('/v1/accounts', {}), 'name');
    expect(await idsOf(admin, 'accounts')).toEqual(before);
    expectFieldError(await api(alice).patch(`/v1/accounts/${res.json.id}`, { name: ' \u3000 ' }), 'name');
    expect((await fetchRecord(alice, 'accounts', res.json.id))!.name).toBe('Renamed');
  });

  it('names ≤ 200 characters, free text ≤ 10,000: one more → 400 naming the field, nothing written', async () => {
    expect((await api(alice).post('/v1/accounts', { name: 'n'.repeat(200) })).status).toBe(201);
    expect((await api(alice).post('/v1/accounts', { name: '名'.repeat(200) })).status).toBe(201);
    expect((await api(alice).post('/v1/accounts', { name: uniq('long text'), description: 'd'.repeat(10_000) })).status).toBe(201);
    // Counted after trimming: padding does not count.
    expect((await api(alice).post('/v1/accounts', { name: ` ${'p'.repeat(200)} ` })).status).toBe(201);

    const before = await idsOf(admin, 'accounts');
    expectFieldError(await api(alice).post('/v1/accounts', { name: 'n'.repeat(201) }), 'name');
    expectFieldError(await api(alice).post('/v1/accounts', { name: '名'.repeat(201) }), 'name');
    expectFieldError(await api(alice).post('/v1/accounts', { name: uniq('too long'), description: 'd'.repeat(10_001) }), 'description');
    expectFieldError(await api(alice).post('/v1/contacts', { name: 'n'.repeat(201) }), 'name');
    expectFieldError(await api(alice).post('/v1/activities', { type: 'note', subject: 's'.repeat(201), accountId: refs.accountId }), 'subject');
    expectFieldError(await api(alice).post('/v1/activities', { type: 'note', subject: 'x', body: 'b'.repeat(10_001), accountId: refs.accountId }), 'body');
    expectFieldError(await api(alice).post('/v1/tasks', { title: 't'.repeat(201), dueAt: '2027-01-01T00:00:00Z' }), 'title');
    expect(await idsOf(admin, 'accounts')).toEqual(before);

    const id = (await api(alice).post('/v1/accounts', { name: uniq('bounded') })).json.id;
    const record = await fetchRecord(alice, 'accounts', id);
    expectFieldError(await api(alice).patch(`/v1/accounts/${id}`, { name: 'n'.repeat(201) }), 'name');
    expectFieldError(await api(alice).patch(`/v1/accounts/${id}`, { description: 'd'.repeat(10_001) }), 'description');
    expect(await fetchRecord(alice, 'accounts', id)).toEqual(record);
  });

  it('lengths count characters, not UTF-16 code units: 200 characters outside the BMP are a valid name', async () => {
    // 𠮷 (U+20BB7) is one character of a real Chinese name that takes two UTF-16 code units.
    const name = '𠮷'.repeat(200);
    expect([...name].length).toBe(200);
    const res = await api(alice).post('/v1/accounts', { name });
    expect(res.status, `${res.req}: ${res.body.slice(0, 300)}`).toBe(201);
    expect(res.json.name).toBe(name);
    expectFieldError(await api(alice).post('/v1/accounts', { name: '𠮷'.repeat(201) }), 'name');
  });

  it('q is a name prefix, case- and width-insensitive', async () => {
    const walker: Caller = { tenant: T, user: 'q-user', role: 'rep', team: 'north' };
    const a = (await api(walker).post('/v1/accounts', { name: 'ＡＣＭＥ 全宽 Trading' })).json.id;
    const b = (await api(walker).post('/v1/accounts', { name: '星辰科技有限公司 北京' })).json.id;
    const find = async (q: string) => (await listAll(walker, `/v1/accounts?q=${encodeURIComponent(q)}`)).map((x) => x.id);
    expect(await find('acme')).toEqual([a]);
    expect(await find('ACME 全')).toEqual([a]);
    expect(await find('ａｃｍｅ')).toEqual([a]);
    expect(await find('星辰')).toEqual([b]);
    expect(await find('北京')).toEqual([]);
  });
});

describe('cursors', () => {
  it('walking limit=2 over 7 accounts returns each exactly once; limit may change between pages', async () => {
    const walker: Caller = { tenant: T, user: 'walker', role: 'rep', team: 'south' };
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await api(walker).post('/v1/accounts', { name: uniq(`walk ${i}`) })).json.id);

    for (const limits of [[2], [2, 3, 1, 5], [1, 100], [7], [3, 1]]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const limit = limits[Math.min(pages, limits.length - 1)]!;
        const url: string = `/v1/accounts?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page: Sent = await send(walker, 'GET', url);
        expect(page.status, `${page.req}: ${page.body}`).toBe(200);
        expect(page.json.items.length, page.req).toBeLessThanOrEqual(limit);
        seen.push(...page.json.items.map((x: { id: string }) => x.id));
        cursor = page.json.nextCursor;
        pages++;
        expect(pages, 'the walk ends').toBeLessThan(20);
      } while (cursor);
      expect(seen.length, `limits ${limits.join(',')}: ${seen.join(' ')}`).toBe(7);
      expect([...seen].sort()).toEqual([...created].sort());
    }
    // limit=2 takes at least 4 pages for 7 items.
    const first = await send(walker, 'GET', '/v1/accounts?limit=2');
    expect(first.json.items).toHaveLength(2);
    expect(typeof first.json.nextCursor).toBe('string');
  });

  it('activities of an account walk newest first, each exactly once', async () => {
    const account = (await api(alice).post('/v1/accounts', { name: uniq('timeline') })).json.id;
    const times = ['2026-03-05', '2026-03-01', '2026-03-07', '2026-03-02', '2026-03-04', '2026-03-06', '2026-03-03'];
    for (const d of times) await api(alice).post('/v1/activities', { type: 'note', subject: d, occurredAt: `${d}T10:00:00Z`, accountId: account });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Sent = await send(alice, 'GET', `/v1/activities?accountId=${account}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status, page.body).toBe(200);
      seen.push(...page.json.items.map((x: { subject: string }) => x.subject));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...times].sort().reverse());
  });
});

describe('coverage', () => {
  it('every collection with a create has a GET by id (for Location) and every route is exercised by a generated test here', () => {
    for (const r of creates) expect(readRouteOf(collectionOf(r)), `GET route for ${keyOf(r)}`).toBeDefined();
    for (const r of routes.filter(hasIdParam)) expect(() => seederFor(r)).not.toThrow();
  });
});
