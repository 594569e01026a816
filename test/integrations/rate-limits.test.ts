/**
 * Rate limits (OWASP API4; functions/middleware/rate-limit.ts) over HTTP, through the local
 * runtime's router: the documented defaults, a burst answered 429 with the IETF headers and a
 * correct Retry-After, tenants apart, an API key's own limit, a tenant's setting, the headers on
 * every answer, the public routes' per-IP limit, and the batching that keeps it cheap. The
 * limiter's clock is fixed (setRateLimitClock): windows move when the test says so, never by waiting.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, rateLimitCounterKey } from '#domain/integrations/rate-limits.ts';
import { getItem } from '#domain/table/query.ts';
import { resetRateLimiter, setRateLimitClock } from '#functions/middleware/rate-limit.ts';
import { api, expectFieldError, expectProblem, send, type Caller } from '#test/support/fixtures.ts';

// This file tests the real defaults: drop the suite's high ones (test/support/table-per-file.ts).
delete process.env.RATE_LIMIT_REQUESTS_PER_MINUTE;
delete process.env.RATE_LIMIT_API_KEY_REQUESTS_PER_MINUTE;
delete process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE;

/** The limiter's time: 10 s into a window, so every window in this file resets 50 s later. */
let window = Date.parse('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(window + seconds * 1000);
let now = at(10);
setRateLimitClock(() => now);
const nextWindow = () => {
  window += 60_000;
  now = at(10);
};

beforeEach(() => {
  resetRateLimiter();
  nextWindow();
});
afterAll(() => setRateLimitClock());

const admin = (tenant: string): Caller => ({ tenant, user: 'root', role: 'admin' });
const rep = (tenant: string, user = 'alice'): Caller => ({ tenant, user, role: 'rep', team: 'east' });

/** `"name";k=v;…, …` → {name: {k: v}}. */
function parseList(header: string | undefined): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const member of (header ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
    const [name, ...params] = member.split(';');
    out[JSON.parse(name!)] = Object.fromEntries(params.map((p) => p.split('=')).map(([k, v]) => [k!, Number(v)]));
  }
  return out;
}

const policies = (res: { headers: Record<string, string> }) => parseList(res.headers['ratelimit-policy']);
const limits = (res: { headers: Record<string, string> }) => parseList(res.headers.ratelimit);

describe('defaults and headers', () => {
  it('a tenant that never set its limits has the documented defaults, and every 2xx answer says so', async () => {
    const T = 'rl-defaults';
    const res = await api(admin(T)).get('/v1/rate-limits');
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ requestsPerMinute: 1000, apiKeyRequestsPerMinute: 300, windowSeconds: 60, version: 0, updatedAt: null });
    expect(DEFAULT_RATE_LIMITS).toEqual({ requestsPerMinute: 1000, apiKeyRequestsPerMinute: 300 });
    expect(res.headers['ratelimit-policy']).toBe('"tenant";q=1000;w=60');
    // The first request of the window: 999 left, the window resets in 50 s.
    expect(res.headers.ratelimit).toBe('"tenant";r=999;t=50');
    expect(res.headers['retry-after']).toBeUndefined();

    now = at(30);
    const list = await api(rep(T)).get('/v1/tasks');
    expect(list.status).toBe(200);
    expect(list.headers.ratelimit).toBe('"tenant";r=998;t=30');
  });

  it('errors carry the headers too: 400, 403, 404', async () => {
    const T = 'rl-errors';
    const bad = await api(rep(T)).get('/v1/tasks?notAParameter=1');
    expectProblem(bad, 400, 'validation_failed');
    const forbidden = await api(rep(T)).get('/v1/rate-limits');
    expectProblem(forbidden, 403, 'forbidden');
    const missing = await api(rep(T)).get('/v1/accounts/missing0000000000');
    expectProblem(missing, 404, 'not_found');
    expect([bad, forbidden, missing].map((r) => limits(r).tenant?.r)).toEqual([999, 998, 997]);
    for (const r of [bad, forbidden, missing]) expect(policies(r)).toEqual({ tenant: { q: 1000, w: 60 } });
  });
});

describe('a burst', () => {
  it('past the tenant limit: 429 rate_limited with Retry-After and the headers; another tenant is not affected; the next window serves again', async () => {
    const T = 'rl-burst';
    const set = await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 30 });
    expect(set.status, set.body).toBe(200);
    expect(set.json).toMatchObject({ requestsPerMinute: 30, apiKeyRequestsPerMinute: 300, version: 1 });
    nextWindow();
    now = at(43); // 17 s before the window resets

    // 40 requests at once, from two users of the tenant: exactly 30 get through, whatever the interleaving.
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => api(rep(T, i % 2 ? 'alice' : 'bob')).get('/v1/tasks')));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(30);
    expect(refused).toHaveLength(10);
    for (const r of refused) {
      expectProblem(r, 429, 'rate_limited');
      expect(r.headers['retry-after']).toBe('17');
      expect(r.headers.ratelimit).toBe('"tenant";r=0;t=17');
      expect(r.headers['ratelimit-policy']).toBe('"tenant";q=30;w=60');
    }
    for (const r of ok) expect(limits(r).tenant!.t).toBe(17);
    expect(ok.map((r) => limits(r).tenant!.r!).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));

    // Another tenant, same moment: its own full allowance.
    const other = await api(rep('rl-burst-other')).get('/v1/tasks');
    expect(other.status).toBe(200);
    expect(other.headers.ratelimit).toBe('"tenant";r=999;t=17');

    // Still refused until the window ends; Retry-After counts down.
    now = at(59);
    const later = await api(rep(T)).get('/v1/tasks');
    expectProblem(later, 429, 'rate_limited');
    expect(later.headers['retry-after']).toBe('1');

    nextWindow();
    const again = await api(rep(T)).get('/v1/tasks');
    expect(again.status).toBe(200);
    expect(again.headers.ratelimit).toBe('"tenant";r=29;t=50');
  });
});

describe('API keys', () => {
  it('a key has its own limit (and counts toward the tenant\'s); the tenant\'s users go on', async () => {
    const T = 'rl-keys';
    const created = await api(admin(T)).post('/v1/api-keys', { name: 'ERP', role: 'rep', teamId: 'east' });
    expect(created.status, created.body).toBe(201);
    const key = created.json.key as string;
    expect((await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 100, apiKeyRequestsPerMinute: 5 })).status).toBe(200);
    nextWindow();

    const byKey = [];
    for (let i = 0; i < 6; i++) byKey.push(await send(null, 'GET', '/v1/tasks', undefined, { token: key }));
    expect(byKey.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(policies(byKey[0]!)).toEqual({ apikey: { q: 5, w: 60 }, tenant: { q: 100, w: 60 } });
    expect(limits(byKey[4]!)).toEqual({ apikey: { r: 0, t: 50 }, tenant: { r: 95, t: 50 } });
    expectProblem(byKey[5]!, 429, 'rate_limited');
    expect(byKey[5]!.headers.ratelimit).toBe('"apikey";r=0;t=50');
    expect(byKey[5]!.headers['retry-after']).toBe('50');

    // A user of the same tenant: the tenant's limit only, 5 spent by the key.
    const user = await api(rep(T)).get('/v1/tasks');
    expect(user.status).toBe(200);
    expect(user.headers.ratelimit).toBe('"tenant";r=94;t=50');
  });
});

describe('the setting', () => {
  it('admin only; bounded; omitted fields take the defaults; a change holds at once', async () => {
    const T = 'rl-setting';
    expectProblem(await api(rep(T)).put('/v1/rate-limits', { requestsPerMinute: 50 }), 403, 'forbidden');
    expectFieldError(await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 9 }), 'requestsPerMinute');
    expectFieldError(await api(admin(T)).put('/v1/rate-limits', { apiKeyRequestsPerMinute: 0 }), 'apiKeyRequestsPerMinute');
    expectFieldError(await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 1.5 }), 'requestsPerMinute');
    expectFieldError(await api(admin(T)).put('/v1/rate-limits', { windowSeconds: 10 }), 'windowSeconds');

    const set = await api(admin(T)).put('/v1/rate-limits', { apiKeyRequestsPerMinute: 50 });
    expect(set.json).toMatchObject({ requestsPerMinute: 1000, apiKeyRequestsPerMinute: 50, windowSeconds: 60, version: 1 });
    const changed = await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 12 });
    expect(changed.status).toBe(200);
    expect(changed.json).toMatchObject({ requestsPerMinute: 12, apiKeyRequestsPerMinute: 300, version: 2 });

    // The 20 requests this container leased before the change already pass the new 12: the rest of this window is refused.
    expectProblem(await api(admin(T)).get('/v1/rate-limits'), 429, 'rate_limited');
    nextWindow();
    expect((await api(admin(T)).get('/v1/rate-limits')).json).toMatchObject({ requestsPerMinute: 12, version: 2 });
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await api(rep(T)).get('/v1/tasks')).status);
    expect(statuses).toEqual([...Array(11).fill(200), 429]);
  });
});

describe('public routes', () => {
  it('limited per client IP, in the container: the headers on every answer, 429 past the limit (a page or problem+json)', async () => {
    process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE = '3';
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await send(null, 'GET', '/u/not-a-token', undefined, { headers: { accept: 'application/json' } }));
      expect(answers.map((r) => r.status)).toEqual([404, 404, 404]);
      expect(answers.map((r) => r.headers.ratelimit)).toEqual(['"ip";r=2;t=50', '"ip";r=1;t=50', '"ip";r=0;t=50']);
      expect(answers[0]!.headers['ratelimit-policy']).toBe('"ip";q=3;w=60');
      const json = await send(null, 'GET', '/u/not-a-token', undefined, { headers: { accept: 'application/json' } });
      expectProblem(json, 429, 'rate_limited');
      expect(json.headers['retry-after']).toBe('50');
      const page = await send(null, 'GET', '/t/o/not-a-token');
      expect(page.status).toBe(429);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const doc = await send(null, 'GET', '/v1/openapi.json');
      expectProblem(doc, 429, 'rate_limited');
      expect(doc.headers['retry-after']).toBe('50');
    } finally {
      delete process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE;
    }
  });
});

describe('cost', () => {
  it('at the default limit a container leases 20 requests at a time: 41 requests are 3 writes to the shared counter', async () => {
    const T = 'rl-cost';
    for (let i = 0; i < 41; i++) expect((await api(rep(T)).get('/v1/tasks')).status).toBe(200);
    const counter = await getItem(rateLimitCounterKey(T, 'tenant', window / 1000));
    expect(counter?.used).toBe(60);
  });

  it('requests arriving while a lease is in flight wait for it: 20 at once in a new window are one write, not one each', async () => {
    const T = 'rl-herd';
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => api(rep(T, i % 2 ? 'alice' : 'bob')).get('/v1/tasks')));
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(answers.map((r) => limits(r).tenant!.r!).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 980 + i));
    expect((await getItem(rateLimitCounterKey(T, 'tenant', window / 1000)))?.used).toBe(20);
  });

  it('near the limit the batches shrink to one, so the shared counter never passes the limit', async () => {
    const T = 'rl-edge';
    expect((await api(admin(T)).put('/v1/rate-limits', { requestsPerMinute: 100 })).status).toBe(200);
    nextWindow();
    // Batches of 4 (a 25th of the limit): 100 requests, then every further one refused without passing 100.
    const statuses = [];
    for (let i = 0; i < 103; i++) statuses.push((await api(rep(T)).get('/v1/tasks')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.slice(100)).toEqual([429, 429, 429]);
    expect((await getItem(rateLimitCounterKey(T, 'tenant', window / 1000)))?.used).toBe(100);
  });
});
