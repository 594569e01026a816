/**
 * The document tells the truth: for every route of the API, a real request to the running API
 * (the local router, as the contract tests call it; records from the contract fixtures) answers
 * a status the document declares, in a media type it declares, with a body that validates
 * against the schema it declares for them. Error answers too: a strict query's 400, a missing
 * token's 401, a missing record's 404 all match the Problem schema. The public links (`/u/…`,
 * `/s/…`, `/t/…`) are followed from real campaign and survey mail in the local mailbox.
 *
 * Routes whose operation has no `response` schema yet are declared `{type: object}`: they pass
 * here trivially, and test/docs/openapi.test.ts lists them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCampaignDispatch } from '#domain/marketing/dispatch.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import type { OpenApiDocument } from '#functions/openapi/document.ts';
import { routes } from '#functions/routes.ts';
import { call } from '#test/support/api.ts';
import { signedHeaders } from '#domain/integrations/standard-webhooks.ts';
import {
  apiRoutes,
  bodyFor,
  collectionOf,
  hasBody,
  hasIdParam,
  keyOf,
  seed,
  seederFor,
  seedRefs,
  send,
  urlOf,
  type Caller,
  type Refs,
} from '#test/support/fixtures.ts';
import { mismatches, operationOf, SchemaValidator, type Answer } from '#test/docs/support.ts';

const T = 'openapi-truth';
/** The records a route acts on are rep alice's; the admin, who may do everything, calls. */
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const admin: Caller = { tenant: T, user: 'root', role: 'admin' };
/** Records only their owner may open (a user's notifications): the admin's own. */
const OWNER_ONLY = new Set(['notifications']);

let doc: OpenApiDocument;
let validator: SchemaValidator;
let adminRefs: Required<Refs>;
let aliceRefs: Required<Refs>;

beforeAll(async () => {
  const served = await call(null, 'GET', '/v1/openapi.json');
  expect(served.status).toBe(200);
  doc = served.json as OpenApiDocument;
  validator = new SchemaValidator(doc);
  // Both join the directory first (a user must be known before anything is assigned to it).
  for (const c of [admin, alice]) expect((await send(c, 'GET', '/v1/tasks')).status).toBe(200);
  adminRefs = await seedRefs(admin);
  aliceRefs = await seedRefs(alice);
});

/** Success answers the document only knows as `{type: object}` (no `response` schema yet): reported, not failed. */
const unshaped = new Set<string>();

afterAll(() => {
  if (unshaped.size) {
    console.info(`openapi: ${unshaped.size} routes answered a body the document declares only as {type: object} (no response schema yet; see test/docs/openapi.test.ts): ${[...unshaped].sort().join(', ')}`);
  }
});

function expectTruth(label: string, route: (typeof apiRoutes)[number], res: Answer): void {
  expect(mismatches(doc, validator, route, res), `${label} → ${res.status} ${res.body.slice(0, 300)}`).toEqual([]);
}

describe('every route answers what the document declares', () => {
  for (const route of apiRoutes) {
    const k = keyOf(route);
    it(k, async () => {
      const owner = OWNER_ONLY.has(collectionOf(route)) ? admin : alice;
      const ownerRefs = owner === admin ? adminRefs : aliceRefs;
      const id = hasIdParam(route) ? await seederFor(route)(owner, { accountId: ownerRefs.accountId }) : undefined;
      const url = urlOf(route, id);
      const body = hasBody(route) ? bodyFor(route)(adminRefs) : undefined;

      const ok = await send(admin, route.method, url, body);
      expect(ok.status, `${k}: ${ok.req} → ${ok.body.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
      expect(ok.status, `${k}: ${ok.req} → ${ok.body.slice(0, 300)}`).toBeLessThan(300);
      expectTruth(ok.req, route, ok);
      const declared = JSON.stringify(operationOf(doc, route)?.responses?.[String(ok.status)]?.content?.['application/json']?.schema);
      if (declared === '{"type":"object"}') unshaped.add(k);

      // Errors: an unknown query parameter (every query is strict), no token, a record that is not there.
      const strict = await send(admin, route.method, `${url}${url.includes('?') ? '&' : '?'}notAParameter=1`, body);
      expect(strict.status, strict.req).toBe(400);
      expectTruth(strict.req, route, strict);
      const anonymous = await send(null, route.method, url, body);
      expect(anonymous.status, anonymous.req).toBe(401);
      expectTruth(anonymous.req, route, anonymous);
      if (id) {
        const missing = await send(admin, route.method, urlOf(route, 'missing0000000000'), body);
        expect(missing.status, missing.req).toBe(404);
        expectTruth(missing.req, route, missing);
      }
    });
  }
});

describe('the public links answer what the document declares', () => {
  const P = 'openapi-truth-links';
  const boss: Caller = { tenant: P, user: 'boss', role: 'admin' };
  const links: Record<string, string> = {};

  /** The path of the first link in `html` under `prefix` (`/u/`, `/t/o/`, …). */
  const linkIn = (html: string, prefix: string) => {
    const m = new RegExp(`https?://[^/"']+(${prefix}[A-Za-z0-9_.-]+)`).exec(html);
    if (!m) throw new Error(`no ${prefix} link in ${html.slice(0, 300)}`);
    return m[1]!;
  };

  beforeAll(async () => {
    // A contact the fixtures' segment matches (tag vip, an email), a campaign and an NPS survey to it, sent.
    expect((await send(boss, 'PUT', '/v1/marketing/settings', { sendRatePerSecond: 1000, fromAddress: 'news@example.cn' })).status).toBe(200);
    const accountId = await seed.accounts(boss);
    expect((await send(boss, 'POST', '/v1/contacts', { name: '王芳', email: 'wang.fang@example.cn', tags: ['vip'], accountId })).status).toBe(201);
    const segmentId = (await send(boss, 'POST', '/v1/segments', bodyFor(routes.find((r) => keyOf(r) === 'POST /v1/segments')!)({}))).json.id;
    const campaign = await send(boss, 'POST', '/v1/campaigns', bodyFor(routes.find((r) => keyOf(r) === 'POST /v1/campaigns')!)({ segmentId }));
    expect((await send(boss, 'POST', `/v1/campaigns/${campaign.json.id}/send`)).status).toBe(200);
    const survey = await send(boss, 'POST', '/v1/surveys', { name: 'NPS', segmentId });
    expect((await send(boss, 'POST', `/v1/surveys/${survey.json.id}/send`)).status).toBe(200);
    await runCampaignDispatch({ sleep: async () => undefined });
    await deliverPending(publisher());
    const mail = await send(boss, 'GET', '/_local/mail?limit=100');
    const html = (mail.json.items as { html?: string }[]).map((m) => m.html ?? '').join('\n');
    for (const prefix of ['/u/', '/s/', '/t/o/', '/t/c/']) links[prefix] = linkIn(html, prefix);
  });

  const publicRoute = (key: string) => routes.find((r) => keyOf(r) === key)!;
  const cases: { key: string; prefix: string; send: (path: string) => Promise<Answer & { req: string }> }[] = [
    { key: 'GET /u/{token}', prefix: '/u/', send: (p) => send(null, 'GET', p) },
    { key: 'GET /s/{token}', prefix: '/s/', send: (p) => send(null, 'GET', p) },
    { key: 'GET /t/o/{token}', prefix: '/t/o/', send: (p) => send(null, 'GET', p) },
    { key: 'GET /t/c/{token}', prefix: '/t/c/', send: (p) => send(null, 'GET', p) },
    { key: 'POST /s/{token}', prefix: '/s/', send: (p) => send(null, 'POST', p, { score: 9, comment: '很好' }) },
    {
      key: 'POST /u/{token}',
      prefix: '/u/',
      send: (p) => send(null, 'POST', p, undefined, { raw: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    },
  ];

  it('covers every public route of the table', () => {
    expect([...cases.map((c) => c.key), 'POST /in/forms/{id}'].sort()).toEqual(routes.filter((r) => r.public && (r.fn === 'public' || r.fn === 'intake')).map(keyOf).sort());
  });

  it('POST /in/forms/{id}: a new lead (201), the same person again (200), unsigned (401), a bad body (400)', async () => {
    const route = publicRoute('POST /in/forms/{id}');
    const form = await send(boss, 'POST', '/v1/forms', { name: 'Website', source: 'website' });
    expect(form.status, form.body).toBe(201);
    const post = (body: unknown, id: string, signed = true) => {
      const raw = JSON.stringify(body);
      const headers = signed ? signedHeaders([form.json.secret], id, new Date(), raw) : {};
      return send(null, 'POST', `/in/forms/${form.json.id}`, undefined, { raw, headers: { 'content-type': 'application/json', ...headers } });
    };
    const person = { name: '赵敏', email: 'zhao.min@example.cn', message: '请联系我' };
    const created = await post(person, 'msg_truth_1');
    expect(created.status, created.body).toBe(201);
    expectTruth(created.req, route, created);
    const again = await post(person, 'msg_truth_2');
    expect(again.status, again.body).toBe(200);
    expectTruth(again.req, route, again);
    const unsigned = await post(person, 'msg_truth_3', false);
    expect(unsigned.status).toBe(401);
    expectTruth(unsigned.req, route, unsigned);
    const bad = await post({ name: 42 }, 'msg_truth_4');
    expect(bad.status).toBe(400);
    expectTruth(bad.req, route, bad);
  });

  for (const c of cases) {
    it(c.key, async () => {
      const route = publicRoute(c.key);
      const ok = await c.send(links[c.prefix]!);
      expect(ok.status, `${ok.req} → ${ok.body.slice(0, 300)}`).toBeLessThan(400);
      expectTruth(ok.req, route, ok);
      // A link that is not ours: a page for a browser, problem+json for a client that asked for JSON.
      const forged = route.path.replace('{token}', 'not-a-token');
      for (const accept of ['text/html', 'application/json']) {
        const bad = await send(null, route.method, forged, undefined, { headers: { accept } });
        expect(bad.status, bad.req).toBe(404);
        expectTruth(`${bad.req} (${accept})`, route, bad);
      }
    });
  }
});
