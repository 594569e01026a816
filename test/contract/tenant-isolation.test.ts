/**
 * Tenant isolation (API.md §2, §3 "404 … another tenant's id … look[s] exactly like a
 * missing one"), generated from the route table: whatever tenant B sends, tenant A's
 * records stay invisible and untouched.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes as routes } from '#test/support/fixtures.ts';
import {
  api,
  bodyFor,
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
  referencesOf,
  SEARCH_PROBE_EMAIL,
  seed,
  seederFor,
  seedRefs,
  seedPoolAccount,
  seedSearch,
  send,
  uncoveredRoutes,
  urlOf,
  validBody,
  type Caller,
  type Refs,
} from '#test/support/fixtures.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';

const aAdmin: Caller = { tenant: 'tenant-a', user: 'a-admin', role: 'admin' };
const aRep: Caller = { tenant: 'tenant-a', user: 'a-rep', role: 'rep', team: 'a-east' };
const bAdmin: Caller = { tenant: 'tenant-b', user: 'b-admin', role: 'admin' };
const bRep: Caller = { tenant: 'tenant-b', user: 'b-rep', role: 'rep', team: 'b-east' };
const tenantB = [bAdmin, bRep];

/** A well-formed id that exists nowhere: what "missing" looks like. */
const MISSING_ID = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

/** Tenant A's records, seeded once by A's admin (and one by A's rep, so A has a team). */
let a: Required<Refs> & { activityId: string; taskId: string; repAccountId: string };
/** A lead of tenant A's. */
let aLeadId: string;
/** An opportunity, a pipeline and every stage id of tenant A's. */
let aOpportunityId: string;
let aPipelineId: string;
let aStageIds: string[] = [];
/** Ids tenant A holds, per collection, as A's admin lists them. */
const aIds: Record<string, string[]> = {};
/** Refs each tenant B caller may use in its own bodies. */
const bRefs: Record<string, Required<Refs>> = {};

const COUNTED = ['accounts', 'contacts', 'activities', 'tasks', 'leads', 'orders'] as const;
async function counts(admin: Caller) {
  return Object.fromEntries(await Promise.all(COUNTED.map(async (c) => [c, await idsOf(admin, c)] as const)));
}

beforeAll(async () => {
  const refs = await seedRefs(aAdmin);
  const activityId = await seed.activities(aAdmin, refs);
  const taskId = await seed.tasks(aAdmin, refs);
  const repAccountId = await seed.accounts(aRep);
  aLeadId = await seed.leads(aAdmin);
  await seed.orders(aAdmin, refs);
  aOpportunityId = await seed.opportunities(aAdmin, refs);
  aPipelineId = await seed.pipelines(aAdmin);
  a = { ...refs, activityId, taskId, repAccountId };
  // Searches (the duplicate search) find what tenant A holds under their query.
  await seedSearch(aAdmin);
  for (const c of COUNTED) aIds[c] = await idsOf(aAdmin, c);
  for (const r of routes.filter((x) => isList(x) && listUrl(x) !== x.path)) {
    aIds[collectionOf(r)] = (await listAll<{ id: string }>(aAdmin, listUrl(r))).map((x) => x.id);
  }
  aIds.users = (await listAll<{ userId: string }>(aAdmin, '/v1/users')).map((u) => u.userId);
  // Opportunities, and pipelines with their stage ids (the default one's included: ids never coincide across tenants).
  aIds.opportunities = (await listAll<{ id: string }>(aAdmin, '/v1/opportunities')).map((x) => x.id);
  const aPipelines = await listAll<{ id: string; stages: { id: string }[] }>(aAdmin, '/v1/pipelines');
  aIds.pipelines = aPipelines.map((x) => x.id);
  aStageIds = aPipelines.flatMap((x) => x.stages.map((st) => st.id));
  expect(aIds.users).toEqual(expect.arrayContaining(['a-admin', 'a-rep']));
  // A pool account (tier B, the seeders' tier) and a notification of tenant A's.
  await seedPoolAccount(aAdmin);
  aIds.pool = (await listAll<{ id: string }>(aAdmin, '/v1/pool')).map((x) => x.id);
  await seed.notifications(aAdmin);
  aIds.notifications = (await listAll<{ id: string }>(aAdmin, '/v1/notifications')).map((x) => x.id);
  // A segment and a suppressed address of tenant A's (a suppression's id is its email).
  await seed.segments(aAdmin);
  await seed.suppressions(aAdmin);
  aIds.segments = (await listAll<{ id: string }>(aAdmin, '/v1/segments')).map((x) => x.id);
  aIds.suppressions = (await listAll<{ id: string }>(aAdmin, '/v1/suppressions')).map((x) => x.id);
  await seed.workflows(aAdmin);
  aIds.workflows = (await listAll<{ id: string }>(aAdmin, '/v1/workflows')).map((x) => x.id);
  await seed.campaigns(aAdmin);
  aIds.campaigns = (await listAll<{ id: string }>(aAdmin, '/v1/campaigns')).map((x) => x.id);
  await seed.surveys(aAdmin);
  aIds.surveys = (await listAll<{ id: string }>(aAdmin, '/v1/surveys')).map((x) => x.id);
  // A published article of tenant A's, indexed (its event delivered), so B's searches could find it if they leaked.
  await seed['kb/articles'](aAdmin);
  await deliverPending(publisher());
  aIds['kb/articles'] = (await listAll<{ id: string }>(aAdmin, '/v1/kb/articles')).map((x) => x.id);
  expect((await listAll<{ id: string }>(aAdmin, '/v1/kb/articles?q=refund')).map((x) => x.id)).toEqual(aIds['kb/articles']);
  await seed.tickets(aAdmin, refs);
  aIds.tickets = (await listAll<{ id: string }>(aAdmin, '/v1/tickets')).map((x) => x.id);
  await seed.forms(aAdmin);
  aIds.forms = (await listAll<{ id: string }>(aAdmin, '/v1/forms')).map((x) => x.id);
  await seed.webhooks(aAdmin);
  aIds.webhooks = (await listAll<{ id: string }>(aAdmin, '/v1/webhooks')).map((x) => x.id);
  await seed['api-keys'](aAdmin);
  aIds['api-keys'] = (await listAll<{ id: string }>(aAdmin, '/v1/api-keys')).map((x) => x.id);
  await seed.imports(aAdmin);
  aIds.imports = (await listAll<{ id: string }>(aAdmin, '/v1/imports')).map((x) => x.id);

  bRefs[bAdmin.user] = await seedRefs(bAdmin);
  bRefs[bRep.user] = await seedRefs(bRep);
});

describe('tenant isolation: coverage', () => {
  it('every route has a seeder (for {id}) and a valid body (for POST/PATCH)', () => {
    expect(uncoveredRoutes()).toEqual([]);
  });
});

describe('tenant isolation: every {id} route answers 404 to another tenant and changes nothing', () => {
  for (const r of routes.filter(hasIdParam)) {
    it(`${keyOf(r)} with tenant A's id, as tenant B's admin and rep`, async () => {
      const collection = collectionOf(r);
      const id = await seederFor(r)(aAdmin);
      const before = await fetchRecord(aAdmin, collection, id);
      expect(before, `tenant A's admin reads back its ${collection} ${id}`).toBeDefined();
      const before360 = collection === 'accounts' ? (await api(aAdmin).get(`/v1/accounts/${id}/360`)).json : undefined;

      for (const b of tenantB) {
        const body = hasBody(r) ? bodyFor(r)(bRefs[b.user]!) : undefined;
        const foreign = await send(b, r.method, urlOf(r, id), body);
        expectProblem(foreign, 404, 'not_found');

        // Exactly like a missing one: same status, same problem body.
        const missing = await send(b, r.method, urlOf(r, MISSING_ID), body);
        expectProblem(missing, 404, 'not_found');
        expect(foreign.json, `${foreign.req} must look exactly like a missing id`).toEqual(missing.json);

        if (r.method === 'PATCH' || r.method === 'DELETE') {
          // A version check must not run before visibility: that would leak the record (412).
          for (const ifMatch of ['"1"', '"999"']) {
            const res = await send(b, r.method, urlOf(r, id), body, { headers: { 'if-match': ifMatch } });
            expectProblem(res, 404, 'not_found');
          }
        }
      }

      const after = await fetchRecord(aAdmin, collection, id);
      expect(after, `tenant A's ${collection} ${id} after tenant B's ${r.method}`).toEqual(before);
      expect(after!.version).toBe(before!.version);
      if (before360) expect((await api(aAdmin).get(`/v1/accounts/${id}/360`)).json).toEqual(before360);
    });
  }
});

/**
 * What each list does when tenant B filters by one of tenant A's ids, as implemented:
 * a filter on an owner / assignee / team names a partition of B's own, so the list is
 * empty; a filter on an account or contact loads that record first and answers 400
 * validation_failed (a record the caller cannot open is reported like a missing one).
 */
type Outcome = 'empty' | 'validation_failed' | 'forbidden';
interface ListCase {
  query: () => string;
  /** the query parameter that names tenant A's record, for the 400's `errors` */
  param: string | null;
  admin: Outcome;
  rep: Outcome;
}
const listCases: Record<string, ListCase[]> = {
  'GET /v1/accounts': [{ query: () => 'ownerId=a-admin', param: 'ownerId', admin: 'empty', rep: 'empty' }],
  'GET /v1/contacts': [
    { query: () => `accountId=${a.accountId}`, param: 'accountId', admin: 'validation_failed', rep: 'validation_failed' },
  ],
  'GET /v1/activities': [
    { query: () => `accountId=${a.accountId}`, param: 'accountId', admin: 'validation_failed', rep: 'validation_failed' },
    { query: () => `contactId=${a.contactId}`, param: 'contactId', admin: 'validation_failed', rep: 'validation_failed' },
    { query: () => `leadId=${aLeadId}`, param: 'leadId', admin: 'validation_failed', rep: 'validation_failed' },
    { query: () => `opportunityId=${aOpportunityId}`, param: 'opportunityId', admin: 'validation_failed', rep: 'validation_failed' },
  ],
  'GET /v1/tasks': [
    { query: () => 'assigneeId=a-admin', param: 'assigneeId', admin: 'empty', rep: 'empty' },
    { query: () => 'assigneeId=a-rep', param: 'assigneeId', admin: 'empty', rep: 'empty' },
  ],
  'GET /v1/users': [{ query: () => 'teamId=a-east', param: 'teamId', admin: 'empty', rep: 'forbidden' }],
  'GET /v1/leads': [{ query: () => 'ownerId=a-admin', param: 'ownerId', admin: 'empty', rep: 'empty' }],
  // Tenant B searching for the values tenant A holds finds nothing.
  'GET /v1/duplicates': [
    { query: () => `email=${encodeURIComponent(SEARCH_PROBE_EMAIL)}&phone=${encodeURIComponent('+86 138 0013 8000')}`, param: 'email', admin: 'empty', rep: 'empty' },
  ],
  // A pipeline or stage of tenant A's names nothing in tenant B: an empty list.
  'GET /v1/opportunities': [
    { query: () => 'ownerId=a-admin', param: 'ownerId', admin: 'empty', rep: 'empty' },
    { query: () => `accountId=${a.accountId}`, param: 'accountId', admin: 'validation_failed', rep: 'validation_failed' },
    { query: () => `pipelineId=${aPipelineId}`, param: 'pipelineId', admin: 'empty', rep: 'empty' },
    { query: () => `stageId=${aStageIds[0]}`, param: 'stageId', admin: 'empty', rep: 'empty' },
  ],
  'GET /v1/pipelines': [],
  'GET /v1/workflows': [],
  // Tenant A's people name nobody in tenant B: empty.
  'GET /v1/pool': [
    { query: () => 'prevOwnerId=a-admin', param: 'prevOwnerId', admin: 'empty', rep: 'empty' },
  ],
  'GET /v1/notifications': [{ query: () => 'unread=true', param: null, admin: 'empty', rep: 'empty' }],
  // Filterless tenant-wide lists of marketing records.
  'GET /v1/segments': [],
  'GET /v1/suppressions': [],
  'GET /v1/campaigns': [{ query: () => 'status=draft', param: null, admin: 'empty', rep: 'forbidden' }],
  'GET /v1/surveys': [],
  // Inbound forms (api/integrations.md): a filterless tenant-wide list, admins only.
  'GET /v1/forms': [],
  'GET /v1/webhooks': [],
  'GET /v1/api-keys': [],
  'GET /v1/imports': [],
  // Tenant A's article's words and tag find nothing in tenant B (the index is per tenant).
  'GET /v1/kb/articles': [
    { query: () => `q=${encodeURIComponent('退款 refund')}`, param: null, admin: 'empty', rep: 'empty' },
    { query: () => 'tag=billing', param: null, admin: 'empty', rep: 'empty' },
  ],
  'GET /v1/tickets': [
    { query: () => 'assigneeId=a-admin', param: 'assigneeId', admin: 'empty', rep: 'empty' },
    { query: () => `accountId=${a.accountId}`, param: 'accountId', admin: 'validation_failed', rep: 'validation_failed' },
  ],
  'GET /v1/orders': [
    { query: () => 'ownerId=a-admin', param: 'ownerId', admin: 'empty', rep: 'empty' },
    { query: () => `accountId=${a.accountId}`, param: 'accountId', admin: 'validation_failed', rep: 'validation_failed' },
    { query: () => `opportunityId=${aOpportunityId}`, param: 'opportunityId', admin: 'validation_failed', rep: 'validation_failed' },
  ],
};
/** Lists a role may not read at all (API.md §5 users: admin, manager; marketing.md: marketer, admin). */
const forbiddenLists: Record<string, string[]> = {
  'GET /v1/users': ['rep'],
  'GET /v1/segments': ['rep'],
  'GET /v1/suppressions': ['rep'],
  'GET /v1/workflows': ['rep'],
  'GET /v1/campaigns': ['rep'],
  'GET /v1/surveys': ['rep'],
  'GET /v1/forms': ['rep'],
  'GET /v1/webhooks': ['rep'],
  'GET /v1/api-keys': ['rep'],
  'GET /v1/imports': ['rep'],
};

const idsIn = (items: Record<string, unknown>[]) => items.map((x) => (x.id ?? x.userId) as string);

describe('tenant isolation: lists never show another tenant', () => {
  for (const r of routes.filter(isList)) {
    it(`${keyOf(r)} as tenant B, unfiltered and filtered by tenant A's ids`, async () => {
      const cases = listCases[keyOf(r)];
      if (!cases) throw new Error(`route ${keyOf(r)} has no listCases entry in test/contract/tenant-isolation.test.ts`);
      const collection = collectionOf(r);
      const foreignIds = aIds[collection];
      if (!foreignIds) throw new Error(`route ${keyOf(r)}: tenant A's ${collection} are not seeded by this test`);
      expect(foreignIds.length, `tenant A has ${collection} to leak`).toBeGreaterThan(0);

      for (const b of tenantB) {
        const unfiltered = await send(b, 'GET', listUrl(r));
        if (forbiddenLists[keyOf(r)]?.includes(b.role)) {
          expectProblem(unfiltered, 403, 'forbidden');
        } else {
          expect(unfiltered.status, unfiltered.req).toBe(200);
          const all = await listAll(b, listUrl(r));
          expect(idsIn(all).filter((x) => foreignIds.includes(x)), `${unfiltered.req} lists tenant A's ${collection}`).toEqual([]);
        }

        for (const c of cases) {
          const outcome = b.role === 'admin' ? c.admin : c.rep;
          const res = await send(b, 'GET', `${r.path}?${c.query()}`);
          if (outcome === 'empty') {
            expect(res.status, res.req).toBe(200);
            expect(res.json, res.req).toEqual({ items: [], nextCursor: null });
          } else if (outcome === 'forbidden') {
            expectProblem(res, 403, 'forbidden');
          } else {
            expectFieldError(res, c.param!);
            // The same answer as for an id that exists nowhere.
            const missing = await send(b, 'GET', `${r.path}?${c.param}=${MISSING_ID}`);
            expectFieldError(missing, c.param!);
            expect(res.json, `${res.req} must look exactly like a missing id`).toEqual(missing.json);
          }
        }
      }
    });
  }
});

describe("tenant isolation: bodies naming another tenant's records are refused", () => {
  const foreignValue = (kind: 'accounts' | 'contacts' | 'users') =>
    kind === 'accounts' ? a.accountId : kind === 'contacts' ? a.contactId : aAdmin.user;

  for (const r of routes.filter(hasBody)) {
    it(`${keyOf(r)} with each reference field set to tenant A's id → 400 validation_failed, nothing written`, async () => {
      const fields = Object.entries(referencesOf(r));
      const collection = collectionOf(r);
      if (fields.length === 0) {
        // This route's body names no other record (e.g. an activity's links are fixed once logged):
        // naming tenant A's account anyway is an unknown field, refused, and changes nothing.
        const ownId = hasIdParam(r) ? await seederFor(r)(bAdmin, bRefs[bAdmin.user]) : undefined;
        const ownBefore = ownId ? await fetchRecord(bAdmin, collection, ownId) : undefined;
        const beforeA = await counts(aAdmin);
        const res = await send(bAdmin, r.method, urlOf(r, ownId), { ...bodyFor(r)(bRefs[bAdmin.user]!), accountId: a.accountId });
        expectFieldError(res, 'accountId');
        expect(await counts(aAdmin)).toEqual(beforeA);
        if (ownId) expect(await fetchRecord(bAdmin, collection, ownId)).toEqual(ownBefore);
        return;
      }
      for (const [field, kind] of fields) {
        const beforeA = await counts(aAdmin);
        let ownId: string | undefined;
        let ownBefore: Record<string, unknown> | undefined;
        if (hasIdParam(r)) {
          ownId = await seederFor(r)(bAdmin, bRefs[bAdmin.user]);
          ownBefore = await fetchRecord(bAdmin, collection, ownId);
        }
        // Counted after seeding B's own record (and whatever its seeder needed, e.g. an opportunity for a quote).
        const beforeB = await counts(bAdmin);
        const body = { ...bodyFor(r)(bRefs[bAdmin.user]!), [field]: foreignValue(kind) };
        const res = await send(bAdmin, r.method, urlOf(r, ownId), body);
        expectFieldError(res, field);

        const afterB = await counts(bAdmin);
        expect(await counts(aAdmin), `tenant A after ${res.req} with ${field}`).toEqual(beforeA);
        expect(afterB, `tenant B after ${res.req} with ${field}`).toEqual(beforeB);
        if (ownId) expect(await fetchRecord(bAdmin, collection, ownId), `${res.req} changed B's record`).toEqual(ownBefore);
      }
      // Tenant A's account shows nothing tenant B tried to attach.
      const view = await api(aAdmin).get(`/v1/accounts/${a.accountId}/360`);
      expect(view.json.contacts.map((c: { id: string }) => c.id)).toEqual([a.contactId]);
      expect(view.json.activities.map((x: { id: string }) => x.id)).toEqual([a.activityId]);
      expect(view.json.tasks.map((x: { id: string }) => x.id)).toEqual([a.taskId]);
    });
  }
});

describe('tenant isolation: idempotency keys and user ids are per tenant', () => {
  it('the same user id and Idempotency-Key in two tenants create two independent records', async () => {
    const inA: Caller = { tenant: 'tenant-a', user: 'shared-user', role: 'admin' };
    const inB: Caller = { tenant: 'tenant-b', user: 'shared-user', role: 'admin' };
    const body = validBody['POST /v1/accounts']!({});
    const headers = { 'idempotency-key': 'same-key-in-two-tenants' };
    const ra = await api(inA).post('/v1/accounts', body, { headers });
    const rb = await api(inB).post('/v1/accounts', body, { headers });
    expect(ra.status).toBe(201);
    expect(rb.status).toBe(201);
    expect(rb.json.id).not.toBe(ra.json.id);
    expect((await api(inA).get(`/v1/accounts/${ra.json.id}`)).status).toBe(200);
    expect((await api(inB).get(`/v1/accounts/${rb.json.id}`)).status).toBe(200);
    expectProblem(await api(inA).get(`/v1/accounts/${rb.json.id}`), 404, 'not_found');
    expectProblem(await api(inB).get(`/v1/accounts/${ra.json.id}`), 404, 'not_found');
  });

  it("tenant B's directory does not hold tenant A's users (assigning to one is a 400)", async () => {
    for (const create of routes.filter(isCreate)) {
      const fields = Object.entries(referencesOf(create)).filter(([, kind]) => kind === 'users');
      for (const [field] of fields) {
        const res = await send(bAdmin, 'POST', create.path, { ...bodyFor(create)(bRefs[bAdmin.user]!), [field]: 'a-rep' });
        expectFieldError(res, field);
      }
    }
  });
});
