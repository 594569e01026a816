/**
 * Bad input (API.md §2, §3), generated from the route table:
 *  - every route with a body: wrong types, unknown and server-owned fields, non-object
 *    JSON, oversized bodies, wrong media types and malformed JSON;
 *  - every list: forged, edited and foreign cursors, bad `limit`, unknown parameters;
 *  - every route: missing, malformed, expired, forged tokens, unknown API keys.
 * Every refusal is problem+json with type/title/status/detail/code, nothing is ever a
 * 5xx (checked by fixtures' `send` on every request), and nothing is written.
 */
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX } from '#domain/fields.ts';
import type { Route } from '#functions/routes.ts';
import { apiRoutes } from '#test/support/fixtures.ts';
import { loadOrCreateKeys } from '#local/auth.ts';
import { tokenFor } from '#test/support/api.ts';
import {
  bodyFor,
  bodyLimitOf,
  collectionOf,
  expectFieldError,
  expectProblem,
  fetchRecord,
  hasBody,
  hasIdParam,
  idsOf,
  isCreate,
  isList,
  keyOf,
  listAll,
  listUrl,
  seed,
  seederFor,
  seedRefs,
  seedPoolAccount,
  seedSearch,
  send,
  successStatus,
  urlOf,
  type Caller,
  type Refs,
  type Sent,
} from '#test/support/fixtures.ts';

const admin: Caller = { tenant: 'bad', user: 'root', role: 'admin' };
const admin2: Caller = { tenant: 'bad', user: 'root2', role: 'admin' };
const rep: Caller = { tenant: 'bad', user: 'rita', role: 'rep', team: 'east' };
const otherTenantAdmin: Caller = { tenant: 'bad-other', user: 'root', role: 'admin' };
const otherTenantUser: Caller = { tenant: 'bad-other', user: 'olga', role: 'manager', team: 'east' };

let refs: Required<Refs>;
/** A lead of `admin`'s, for the activities' `leadId` filter. */
let leadId: string;
/** An opportunity of `admin`'s, for the activities' `opportunityId` filter; its pipeline and stage, for the opportunities' filters. */
let opportunityId: string;
let opportunityPipeline: string;
let opportunityStage: string;

beforeAll(async () => {
  // Enough of everything that a list with limit=1 has a next page, for every caller and filter used below.
  for (const who of [admin, otherTenantAdmin]) {
    const r = await seedRefs(who);
    await seed.contacts(who, r);
    for (let i = 0; i < 2; i++) {
      await seed.activities(who, r);
      await seed.tasks(who, r);
      const lead = await seed.leads(who);
      if (who === admin) leadId = lead;
      await seed.orders(who, r);
      const opportunity = await seed.opportunities(who, r);
      if (who === admin) {
        opportunityId = opportunity;
        const o = (await send(admin, 'GET', `/v1/opportunities/${opportunity}`)).json;
        [opportunityPipeline, opportunityStage] = [o.pipelineId, o.stageId];
      }
      await seed.pipelines(who);
      await seed.segments(who);
      await seed.suppressions(who);
      await seed.workflows(who);
      await seed.campaigns(who);
      await seed.surveys(who);
      await seed['kb/articles'](who);
      await seed.tickets(who, r);
      await seed.forms(who);
      await seed.webhooks(who);
      await seed['api-keys'](who);
      await seed.imports(who);
    }
    await seedSearch(who);
    // Two pool accounts per tenant (the pool is tenant-wide, so admin2 sees them too).
    for (let i = 0; i < 2; i++) await seedPoolAccount(who);
    if (who === admin) refs = r;
  }
  for (const who of [admin2, rep, otherTenantUser]) await send(who, 'GET', '/v1/tasks');
  // Notifications are each user's own: two for every admin whose lists page with limit=1.
  for (const who of [admin, admin2, otherTenantAdmin]) for (let i = 0; i < 2; i++) await seed.notifications(who);
  // A hang guard, not a speed target: some 70 records in sequence took over 60 s on a machine loaded to 30.
}, 180_000);

// ---------------------------------------------------------------------------------------
// What "nothing was written" means for a route

interface Target {
  url: string;
  /** The state a refused request must leave as it was. */
  state: () => Promise<unknown>;
  /** The state as the test found it, read before its first refused request. */
  initial?: Promise<unknown>;
}

/** The URL to call and the state to compare: the collection's ids for a create, the record for the rest. */
async function targetFor(r: Route): Promise<Target> {
  const collection = collectionOf(r);
  if (hasIdParam(r)) {
    const id = await seederFor(r)(admin, refs);
    return { url: urlOf(r, id), state: () => fetchRecord(admin, collection, id) };
  }
  if (isCreate(r)) return { url: r.path, state: () => idsOf(admin, collection) };
  // A PUT replaces what the GET of the same URL answers (a month's targets, the pool rules).
  if (r.method === 'PUT') return { url: urlOf(r), state: async () => (await send(admin, 'GET', urlOf(r))).json };
  return { url: urlOf(r), state: async () => null };
}

/**
 * Sends a request that must be refused, and checks the refusal left the state untouched. The state
 * before is read once per test: each refusal is compared with the state the test found, which is
 * what a read just before it would give while no refusal has written anything (half the reads).
 */
async function refused(t: Target, make: () => Promise<Sent>, check: (res: Sent) => void): Promise<void> {
  const before = await (t.initial ??= t.state());
  const res = await make();
  check(res);
  expect(await t.state(), `${res.req} (${res.status}) wrote something`).toEqual(before);
}

const json = { 'content-type': 'application/json' };

/** The path of a string in `body`: a top-level field first, else the first one nested in an array or object. */
function stringPath(body: unknown): (string | number)[] | undefined {
  if (typeof body === 'string') return [];
  if (!body || typeof body !== 'object') return undefined;
  const entries = Object.entries(body as Record<string, unknown>);
  const top = entries.find(([, v]) => typeof v === 'string');
  if (top) return [top[0]];
  for (const [k, v] of entries) {
    const inner = stringPath(v);
    if (inner) return [Array.isArray(body) ? Number(k) : k, ...inner];
  }
  return undefined;
}

/** A copy of `body` with the value at `path` replaced. */
function withValue(body: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const copy: any = Array.isArray(body) ? [...body] : { ...(body as object) };
  copy[head!] = withValue(copy[head!], rest, value);
  return copy;
}

// ---------------------------------------------------------------------------------------

/**
 * Registers the suite for one shard of the routes (route i goes to shard i mod `of`): each
 * shard is its own test file (bad-input-<n>.test.ts), so the shards run side by side, each on
 * its own table, instead of one file setting the length of `npm test`.
 */
export function badInputSuite(index: number, of: number): void {
  const routes = apiRoutes.filter((_, i) => i % of === index);

  describe('bad bodies, for every route with a body', () => {
    const SERVER_OWNED: Record<string, unknown> = {
      id: '01JABCDEFGHJKMNPQRSTVWXYZ0',
      tenantId: 'bad',
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      version: 7,
      poolStatus: 'owned',
      // Also stored and shown, and set by the server alone:
      ownerTeamId: 'east',
      createdBy: 'root',
      lastFollowUpAt: '2026-01-01T00:00:00.000Z',
      ownerSince: '2026-01-01T00:00:00.000Z',
      completedAt: '2026-01-01T00:00:00.000Z',
    };

    /** A value of another JSON type than `v`. */
    const wrongTypes = (v: unknown): unknown[] => {
      if (typeof v === 'string') return [123, true, ['x'], { x: 1 }];
      if (typeof v === 'number') return ['1', true];
      if (typeof v === 'boolean') return ['true', 1];
      if (Array.isArray(v)) return ['x', { 0: 'x' }, [123]];
      return ['x', 1];
    };

    for (const r of routes.filter(hasBody)) {
      const k = keyOf(r);

      it(`${k}: a field of the wrong type → 400 validation_failed naming it, nothing written`, async () => {
        const t = await targetFor(r);
        const valid = bodyFor(r)(refs);
        expect(Object.keys(valid).length, `validBody['${k}'] has fields`).toBeGreaterThan(0);
        for (const [field, value] of Object.entries(valid)) {
          for (const wrong of wrongTypes(value)) {
            await refused(t, () => send(admin, r.method, t.url, { ...valid, [field]: wrong }), (res) => expectFieldError(res, field));
          }
        }
      });

      it(`${k}: an unknown field → 400 validation_failed naming it, nothing written`, async () => {
        const t = await targetFor(r);
        const valid = bodyFor(r)(refs);
        await refused(t, () => send(admin, r.method, t.url, { ...valid, bogus: 1 }), (res) => expectFieldError(res, 'bogus'));
      });

      for (const [field, value] of Object.entries(SERVER_OWNED)) {
        it(`${k}: server-owned field "${field}" → 400 validation_failed naming it, nothing written`, async () => {
          const t = await targetFor(r);
          await refused(t, () => send(admin, r.method, t.url, { ...bodyFor(r)(refs), [field]: value }), (res) => expectFieldError(res, field));
        });
      }

      it(`${k}: a JSON body that is not an object → 400 validation_failed, nothing written`, async () => {
        const t = await targetFor(r);
        for (const raw of ['[]', '[{}]', '42', '"text"', 'true', 'null']) {
          await refused(t, () => send(admin, r.method, t.url, undefined, { raw, headers: json }), (res) =>
            expectProblem(res, 400, 'validation_failed'),
          );
        }
      });

      it(`${k}: a body over its limit (256 KB unless the route says otherwise) → 413 payload_too_large, nothing written`, async () => {
        const t = await targetFor(r);
        const valid = bodyFor(r)(refs);
        const limit = bodyLimitOf(r);
        // A top-level string field, or else the first nested one (a field definition's `label`).
        const at = stringPath(valid);
        if (!at) {
          // A body of numbers only (the rate limits): padded with JSON whitespace, still valid JSON, judged on its size alone.
          const raw = JSON.stringify(valid).replace('{', `{${' '.repeat(limit)}`);
          expect(Buffer.byteLength(raw)).toBeGreaterThan(limit);
          await refused(t, () => send(admin, r.method, t.url, undefined, { raw, headers: json }), (res) => expectProblem(res, 413, 'payload_too_large'));
          return;
        }
        const stringField = at!.at(-1) as string;
        const ascii = JSON.stringify(withValue(valid, at!, 'x'.repeat(limit + 14 * 1024)));
        // A third of the characters but three times the bytes in UTF-8: the limit is in bytes.
        const cjk = JSON.stringify(withValue(valid, at!, '中'.repeat(Math.ceil((limit + 14 * 1024) / 3))));
        expect(cjk.length).toBeLessThan(limit);
        for (const raw of [ascii, cjk]) {
          expect(Buffer.byteLength(raw)).toBeGreaterThan(limit);
          await refused(t, () => send(admin, r.method, t.url, undefined, { raw, headers: json }), (res) =>
            expectProblem(res, 413, 'payload_too_large'),
          );
        }
        // Exactly the limit is not "over": it is judged on its content (here: a field too long → 400).
        const base = JSON.stringify(withValue(valid, at!, ''));
        const exact = JSON.stringify(withValue(valid, at!, 'x'.repeat(limit - Buffer.byteLength(base))));
        expect(Buffer.byteLength(exact)).toBe(limit);
        await refused(t, () => send(admin, r.method, t.url, undefined, { raw: exact, headers: json }), (res) =>
          expectFieldError(res, stringField),
        );
      });

      it(`${k}: a body that is not application/json → 415 unsupported_media_type, nothing written`, async () => {
        const t = await targetFor(r);
        const raw = JSON.stringify(bodyFor(r)(refs));
        const types = ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml', null];
        if (r.method === 'POST') types.push('application/merge-patch+json'); // merge-patch is for PATCH only
        for (const type of types) {
          await refused(t, () => send(admin, r.method, t.url, undefined, { raw, headers: type ? { 'content-type': type } : {} }), (res) =>
            expectProblem(res, 415, 'unsupported_media_type'),
          );
        }
        // application/json with parameters and in any case is still JSON (control: the media type alone decides).
        const ok = await send(admin, r.method, t.url, undefined, { raw, headers: { 'content-type': 'Application/JSON; charset=utf-8' } });
        expect(ok.status, `${ok.req}: ${ok.body}`).toBe(successStatus(r));
      });

      it(`${k}: malformed JSON → 400 malformed_json, nothing written`, async () => {
        const t = await targetFor(r);
        const valid = JSON.stringify(bodyFor(r)(refs));
        for (const raw of ['{', '{"name": ', "{'name': 'x'}", '{name: "x"}', `${valid} trailing`, `${valid},`, valid.slice(0, -1), '{"a":1,}', 'NaN']) {
          await refused(t, () => send(admin, r.method, t.url, undefined, { raw, headers: json }), (res) =>
            expectProblem(res, 400, 'malformed_json'),
          );
        }
      });
    }

    /**
     * One character (or item) over a bound of domain/fields.ts MAX → 400 naming the field, nothing
     * written: the zod schemas enforce the bounds the OpenAPI document states (OWASP API4:2023).
     * Each case runs in the shard that has its route.
     */
    const OVER_BOUND: [route: string, field: string, value: unknown][] = [
      ['POST /v1/accounts', 'name', 'x'.repeat(MAX.name + 1)],
      ['POST /v1/accounts', 'description', 'x'.repeat(MAX.freeText + 1)],
      ['POST /v1/accounts', 'tags', Array.from({ length: MAX.tags + 1 }, (_, i) => `t${i}`)],
      ['POST /v1/contacts', 'phone', `+${'1'.repeat(MAX.phone)}`],
      ['POST /v1/leads', 'email', `${'a'.repeat(MAX.email)}@example.com`],
      ['PATCH /v1/accounts/{id}', 'address', 'x'.repeat(1001)],
      ['POST /v1/webhooks', 'url', `https://example.com/${'x'.repeat(MAX.url)}`],
    ];
    for (const [key, field, value] of OVER_BOUND) {
      const r = routes.find((x) => keyOf(x) === key);
      if (!r) continue;
      it(`${key}: "${field}" over its bound → 400 validation_failed naming it, nothing written`, async () => {
        const t = await targetFor(r);
        await refused(t, () => send(admin, r.method, t.url, { ...bodyFor(r)(refs), [field]: value }), (res) => expectFieldError(res, field));
      });
    }
  });

  // ---------------------------------------------------------------------------------------

  /** Filters of each list, each naming a filter parameter the route accepts; used to forge cross-filter cursors. */
  const filterVariants: Record<string, { name: string; query: () => string }[]> = {
    'GET /v1/accounts': [
      { name: 'ownerId', query: () => 'ownerId=root' },
      { name: 'tier', query: () => 'tier=B' },
      { name: 'lifecycleStage', query: () => 'lifecycleStage=prospect' },
      { name: 'tag', query: () => 'tag=seed' },
      { name: 'q', query: () => 'q=acme' },
    ],
    'GET /v1/contacts': [
      { name: 'accountId', query: () => `accountId=${refs.accountId}` },
      { name: 'tag', query: () => 'tag=x' },
      { name: 'q', query: () => `q=${encodeURIComponent('王')}` },
    ],
    'GET /v1/activities': [
      { name: 'accountId', query: () => `accountId=${refs.accountId}` },
      { name: 'contactId', query: () => `contactId=${refs.contactId}` },
      { name: 'opportunityId', query: () => `opportunityId=${opportunityId}` },
      { name: 'leadId', query: () => `leadId=${leadId}` },
    ],
    'GET /v1/tasks': [
      { name: 'assigneeId', query: () => 'assigneeId=me' },
      { name: 'status', query: () => 'status=open' },
      { name: 'dueBefore', query: () => `dueBefore=${encodeURIComponent('2027-01-01T00:00:00Z')}` },
    ],
    'GET /v1/users': [
      { name: 'role', query: () => 'role=admin' },
      { name: 'teamId', query: () => 'teamId=east' },
    ],
    'GET /v1/orders': [
      { name: 'accountId', query: () => `accountId=${refs.accountId}` },
      { name: 'ownerId', query: () => 'ownerId=root' },
      { name: 'paymentStatus', query: () => 'paymentStatus=unpaid' },
      { name: 'signedFrom', query: () => `signedFrom=${encodeURIComponent('2026-01-01T00:00:00Z')}` },
      { name: 'signedTo', query: () => `signedTo=${encodeURIComponent('2027-01-01T00:00:00Z')}` },
      { name: 'opportunityId', query: () => `opportunityId=${opportunityId}` },
    ],
    'GET /v1/opportunities': [
      { name: 'ownerId', query: () => 'ownerId=root' },
      { name: 'accountId', query: () => `accountId=${refs.accountId}` },
      { name: 'pipelineId', query: () => `pipelineId=${opportunityPipeline}` },
      { name: 'stageId', query: () => `stageId=${opportunityStage}` },
      { name: 'status', query: () => 'status=open' },
      { name: 'closeFrom', query: () => 'closeFrom=2026-01-01' },
      { name: 'closeTo', query: () => 'closeTo=2030-12-31' },
    ],
    // No filters: only limit and cursor (LISTS_WITHOUT_FILTERS).
    'GET /v1/pipelines': [],
    'GET /v1/workflows': [],
    'GET /v1/imports': [],
    'GET /v1/pool': [
      { name: 'tier', query: () => 'tier=B' },
      { name: 'prevOwnerId', query: () => 'prevOwnerId=root' },
    ],
    'GET /v1/notifications': [{ name: 'unread', query: () => 'unread=true' }],
    'GET /v1/leads': [
      { name: 'ownerId', query: () => 'ownerId=root' },
      { name: 'status', query: () => 'status=new' },
      { name: 'campaignId', query: () => 'campaignId=cmp-1' },
      { name: 'q', query: () => `q=${encodeURIComponent('李')}` },
    ],
    'GET /v1/segments': [],
    'GET /v1/suppressions': [],
    'GET /v1/surveys': [],
    'GET /v1/forms': [],
    'GET /v1/webhooks': [],
    'GET /v1/api-keys': [],
    'GET /v1/campaigns': [{ name: 'status', query: () => 'status=draft' }],
    'GET /v1/kb/articles': [
      { name: 'q', query: () => 'q=refund' },
      { name: 'tag', query: () => 'tag=billing' },
      { name: 'status', query: () => 'status=published' },
    ],
    'GET /v1/tickets': [
      { name: 'status', query: () => 'status=new' },
      { name: 'priority', query: () => 'priority=high' },
      { name: 'assigneeId', query: () => 'assigneeId=none' },
      { name: 'accountId', query: () => `accountId=${refs.accountId}` },
      { name: 'breached', query: () => 'breached=true' },
      { name: 'tag', query: () => 'tag=seed' },
    ],
    // A search: called with its searchQuery (email) already, so these are the other keys.
    'GET /v1/duplicates': [
      { name: 'name', query: () => `name=${encodeURIComponent('星辰科技')}` },
      { name: 'phone', query: () => `phone=${encodeURIComponent('+86 138 0013 8000')}` },
      { name: 'domain', query: () => 'domain=duplicate-search.example.cn' },
    ],
  };

  /** Lists that take no filter at all, only `limit` and `cursor` (the unknown-parameter test covers the rest). */
  const LISTS_WITHOUT_FILTERS = new Set(['GET /v1/pipelines', 'GET /v1/segments', 'GET /v1/suppressions', 'GET /v1/workflows', 'GET /v1/surveys', 'GET /v1/forms', 'GET /v1/webhooks', 'GET /v1/api-keys', 'GET /v1/imports']);

  /** `path` (which may carry a query already: a search's `listUrl`) with more query parameters. */
  const withQuery = (path: string, q: string) => (q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path);

  /** A real `nextCursor` of `path?query` for `caller`, with limit=1. */
  async function realCursor(caller: Caller, path: string, query = ''): Promise<string> {
    const res = await send(caller, 'GET', withQuery(path, [query, 'limit=1'].filter(Boolean).join('&')));
    expect(res.status, `${res.req}: ${res.body}`).toBe(200);
    expect(typeof res.json.nextCursor, `${res.req} must have a next page for this test`).toBe('string');
    return res.json.nextCursor as string;
  }

  /** Flips one character of `s` at `i` to another base64url character. */
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const withCursor = (path: string, query: string, cursor: string) =>
    withQuery(path, [query, `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join('&'));

  describe('bad list parameters, for every list route', () => {
    for (const r of routes.filter(isList)) {
      const k = keyOf(r);
      const variants = filterVariants[k];
      const path = listUrl(r);

      it(`${k}: a real cursor works (control) and forged or edited cursors → 400 invalid_cursor`, async () => {
        const cursor = await realCursor(admin, path);
        const ok = await send(admin, 'GET', withCursor(path, 'limit=1', cursor));
        expect(ok.status, `${ok.req}: ${ok.body}`).toBe(200);

        const [payload, mac] = cursor.split('.') as [string, string | undefined];
        const other = await realCursor(admin2, path);
        const forged = [
          'abc',
          'abc.def',
          'a.b.c',
          '....',
          base64url.encode(JSON.stringify({ s: 'x', k: { PK: 'T#bad#ACCOUNT#1' } })),
          flip(cursor, Math.floor(payload.length / 2)), // an edited payload
          flip(cursor, 0),
          ...(mac ? [flip(cursor, payload.length + 1 + Math.floor(mac.length / 2))] : []), // an edited signature
          `${cursor}x`,
          `${cursor}.x`,
          cursor.slice(0, -3),
          ...(mac ? [`${payload}.${other.split('.')[1]}`, `${other.split('.')[0]}.${mac}`] : []), // spliced
        ];
        for (const bad of new Set(forged)) {
          expectProblem(await send(admin, 'GET', withCursor(path, '', bad)), 400, 'invalid_cursor');
        }
      });

      it(`${k}: a cursor from another tenant or another user → 400 invalid_cursor`, async () => {
        const fromOtherTenant = await realCursor(otherTenantAdmin, path);
        expectProblem(await send(admin, 'GET', withCursor(path, '', fromOtherTenant)), 400, 'invalid_cursor');
        const fromOtherUser = await realCursor(admin2, path);
        expectProblem(await send(admin, 'GET', withCursor(path, '', fromOtherUser)), 400, 'invalid_cursor');
        // …and the other way round: mine is no good to them.
        const mine = await realCursor(admin, path);
        expectProblem(await send(admin2, 'GET', withCursor(path, '', mine)), 400, 'invalid_cursor');
        expectProblem(await send(otherTenantAdmin, 'GET', withCursor(path, '', mine)), 400, 'invalid_cursor');
      });

      it(`${k}: every filter parameter is covered by filterVariants`, () => {
        if (!variants) throw new Error(`route ${k} has no filterVariants entry in test/contract/bad-input.suite.ts`);
        expect(variants.length > 0 || LISTS_WITHOUT_FILTERS.has(k), `${k}: no filter variants, and not declared filterless`).toBe(true);
      });

      for (const v of variants ?? []) {
        it(`${k}: a cursor from other filters (none ↔ ${v.name}) → 400 invalid_cursor; a bad cursor with ${v.name} too`, async () => {
          const unfiltered = await realCursor(admin, path);
          expectProblem(await send(admin, 'GET', withCursor(path, v.query(), unfiltered)), 400, 'invalid_cursor');
          expectProblem(await send(admin, 'GET', withCursor(path, v.query(), 'abc')), 400, 'invalid_cursor');
          // The other way: a cursor of the filtered list, used without the filter (when the filtered list has a next page).
          const page = await send(admin, 'GET', withQuery(path, `${v.query()}&limit=1`));
          expect(page.status, `${page.req}: ${page.body}`).toBe(200);
          if (typeof page.json.nextCursor === 'string') {
            expectProblem(await send(admin, 'GET', withCursor(path, '', page.json.nextCursor)), 400, 'invalid_cursor');
            const ok = await send(admin, 'GET', withCursor(path, v.query(), page.json.nextCursor));
            expect(ok.status, `${ok.req}: the filtered cursor works with its own filter`).toBe(200);
          }
        });
      }

      it(`${k}: limit outside 1..100 or not an integer → 400 validation_failed naming limit`, async () => {
        for (const limit of ['0', '101', 'abc', '-1', '1.5', '1e3', '']) {
          expectFieldError(await send(admin, 'GET', withQuery(path, `limit=${limit}`)), 'limit');
        }
        for (const limit of ['1', '100']) expect((await send(admin, 'GET', withQuery(path, `limit=${limit}`))).status).toBe(200);
      });

      it(`${k}: an unknown query parameter → 400 validation_failed naming it`, async () => {
        expectFieldError(await send(admin, 'GET', withQuery(path, 'bogus=1')), 'bogus');
        expectFieldError(await send(admin, 'GET', withQuery(path, 'limit=5&sort=name')), 'sort');
      });
    }
  });

  // ---------------------------------------------------------------------------------------

  describe('bad tokens, for every route', () => {
    let claims: JWTPayload;
    let kid: string;
    let forgedKey: CryptoKey;
    const sign = (payload: JWTPayload, key: CryptoKey, header: Record<string, unknown> = {}) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...header }).sign(key);

    beforeAll(async () => {
      const real = await tokenFor(admin);
      kid = decodeProtectedHeader(real).kid!;
      claims = decodeJwt(real);
      forgedKey = (await generateKeyPair('RS256')).privateKey;
    });

    it('control: the same claims signed by the local key are accepted, so the forged ones below differ only in what they claim to test', async () => {
      const keys = await loadOrCreateKeys();
      const token = await sign({ ...claims, jti: 'control' }, keys.signingKey);
      const res = await send(null, 'GET', '/v1/accounts', undefined, { token });
      expect(res.status, res.body).toBe(200);
    });

    /** Tokens that must all be refused with 401. */
    async function badTokens(): Promise<[string, string | null][]> {
      const keys = await loadOrCreateKeys();
      const now = Math.floor(Date.now() / 1000);
      const real = await tokenFor(rep);
      const [h, p, sig] = real.split('.') as [string, string, string];
      const elevated = base64url.encode(JSON.stringify({ ...decodeJwt(real), 'custom:role': 'admin' }));
      const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid }))}.${base64url.encode(JSON.stringify(claims))}.`;
      return [
        ['no token', null],
        ['malformed: not a JWT', 'not-a-jwt'],
        ['malformed: three garbage segments', 'a.b.c'],
        ['malformed: truncated', real.slice(0, real.length - 10)],
        ['tampered payload (rep → admin), old signature', `${h}.${elevated}.${sig}`],
        ['alg none', none],
        ['expired (tokenFor(caller, -60))', await tokenFor(admin, -60)],
        ['signed by another key, same claims/iss/aud/kid', await sign(claims, forgedKey)],
        ['signed by another key, no kid', await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(forgedKey)],
        ['local key, wrong issuer', await sign({ ...claims, iss: 'https://evil.example.com' }, keys.signingKey)],
        ['local key, wrong audience', await sign({ ...claims, aud: 'another-client' }, keys.signingKey)],
        ['local key, no exp', await sign({ ...claims, exp: undefined }, keys.signingKey)],
        ['local key, not yet valid (nbf)', await sign({ ...claims, nbf: now + 600 }, keys.signingKey)],
        ['local key, unknown role claim', await sign({ ...claims, 'custom:role': 'root' }, keys.signingKey)],
        ['local key, no tenant claim', await sign({ ...claims, 'custom:tenantId': undefined }, keys.signingKey)],
        ['local key, an access token (token_use access)', await sign({ ...claims, token_use: 'access' }, keys.signingKey)],
        // API keys: well-formed but unknown, too short, bad characters.
        ['unknown API key', `crm_${'A'.repeat(43)}`],
        ['API key, too short', 'crm_abc'],
        ['API key, bad characters', `crm_${'!'.repeat(43)}`],
      ];
    }

    for (const r of routes) {
      it(`${keyOf(r)}: missing, malformed, expired, forged tokens → 401 unauthenticated, nothing written`, async () => {
        const t = await targetFor(r);
        const body = hasBody(r) ? bodyFor(r)(refs) : undefined;
        const tokens = await badTokens();
        for (const [what, token] of tokens) {
          await refused(t, () => send(null, r.method, t.url, body, { token }), (res) => {
            expectProblem(res, 401, 'unauthenticated');
            expect(res.status, `${what}: ${res.req}`).toBe(401);
          });
        }
        for (const header of ['Basic cm9vdDpyb290', 'Bearer', `Token ${await tokenFor(admin)}`]) {
          await refused(t, () => send(null, r.method, t.url, body, { headers: { authorization: header } }), (res) =>
            expectProblem(res, 401, 'unauthenticated'),
          );
        }
      });
    }
  });

  if (index !== 0) return;
  describe('completeness', () => {
    it('every list route has filter variants', () => {
      const missing = apiRoutes.filter(isList).map(keyOf).filter((k) => !filterVariants[k]);
      expect(missing).toEqual([]);
    });
    it('the users list has callers enough for a second page everywhere it is used', async () => {
      expect((await listAll(admin, '/v1/users')).length).toBeGreaterThanOrEqual(2);
      expect((await listAll(otherTenantAdmin, '/v1/users')).length).toBeGreaterThanOrEqual(2);
    });
  });
}
