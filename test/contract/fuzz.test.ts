/**
 * Fuzzing every route (issue 11 point 2): generated path ids, queries, headers and bodies —
 * wrong types, huge and empty strings, deep nesting, `__proto__` / `constructor` keys, lone
 * surrogates, NUL bytes, `1e309`, negative zero, numbers as strings, path traversal, missing and
 * wrong content types, duplicate query keys — against every route of the route table and the
 * local-only routes. Every answer is a 2xx, or a 4xx problem+json with a `code`; never a 5xx;
 * and a refused request writes nothing (the tenant's item count before and after).
 * A fixed seed and a bounded count here; `FUZZ_RUNS` raises the count for a long run.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { rateLimitPartition } from '#domain/integrations/rate-limits.ts';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { routes } from '#functions/routes.ts';
import { call } from '#test/support/api.ts';
import { bodyFor, hasBody, keyOf, seedRefs, send, type Caller, type Refs } from '#test/support/fixtures.ts';

const T = 'fuzz';
const admin: Caller = { tenant: T, user: 'root', role: 'admin' };
const rep: Caller = { tenant: T, user: 'ria', role: 'rep', team: 'east' };
const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
const SEED = 20261204;
let refs: Required<Refs>;

/**
 * Every item of the fuzz tenant (the test's own table: a Scan is fine here), but the rate limiter's
 * counters (`T#t#RATELIMIT`): every request, refused or not, is counted there, and a new minute's
 * window is a new item.
 */
async function itemCount(): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new ScanCommand({
      TableName: tableName(),
      FilterExpression: 'begins_with(PK, :t) AND PK <> :limiter',
      ExpressionAttributeValues: { ':t': `T#${T}#`, ':limiter': rateLimitPartition(T) },
      Select: 'COUNT',
      ...(start ? { ExclusiveStartKey: start } : {}),
    }));
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
}

const nasty = fc.constantFrom(
  '', ' ', 'a'.repeat(300), 'x'.repeat(20_000), '\u0000', 'a\u0000b', '\ud800', '\udfff', '../../etc/passwd', '..%2F..%2F', '%', '%E0%A4%A',
  '__proto__', 'constructor', 'toString', '1e309', '-0', 'NaN', 'null', 'true', '[]', '{}', '星辰科技', '😀', 'me', 'none',
);
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.constantFrom(-0, 0, -1, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 64, 0.001, 1.005, true, false, null, [], {}, [[[]]], { __proto__: { admin: true } }),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Raw bodies that JSON.stringify cannot make. */
const rawBodies = fc.constantFrom(
  '{"__proto__":{"role":"admin"},"name":"x"}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"amount":1e309}',
  '{"amount":-0}',
  '{"name":"\\ud800"}',
  '{"name":"a\\u0000b"}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `{"a":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
  '{"name":"x","name":"y"}',
  '{',
  '',
  'null',
  '"a string"',
  '[1,2,3]',
  '\u0000',
);

const contentTypes = fc.constantFrom<string | undefined>(
  'application/json', 'application/json; charset=utf-8', 'application/merge-patch+json', 'text/plain',
  'application/x-www-form-urlencoded', undefined, '', 'application/json, text/plain',
);

/** A valid body with one field replaced, one removed, or one nasty key added. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  return fc.oneof(
    keys.length
      ? fc.tuple(fc.constantFrom(...keys), nastyValue).map(([k, v]) => ({ ...valid, [k]: v }))
      : nastyValue,
    keys.length ? fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))) : fc.constant({}),
    fc.tuple(fc.constantFrom('__proto__', 'constructor', 'id', 'tenantId', 'version', 'createdAt', 'zzz'), nastyValue).map(([k, v]) => ({ ...valid, [k]: v })),
  );
}

const queryOf = fc.array(fc.tuple(fc.constantFrom('limit', 'cursor', 'period', 'userId', 'teamId', 'status', 'q', 'from', 'to', '__proto__', 'constructor', 'ownerId', 'accountId', 'periods'), nasty), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeAll(k)}=${encodeAll(v)}`).join('&'));

/** Percent-encodes every UTF-8 byte (a lone surrogate becomes U+FFFD's bytes; `%ED%A0%80` is sent as such below). */
const encodeAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** A path id as a client might send it: encoded, raw, or malformed. */
const pathId = fc.oneof(nasty.map(encodeAll), nasty.map((s) => s.replace(/[/?#%]/g, '')), fc.constantFrom('%', '%zz', '%E0%A4%A', '%ED%A0%80', '..', '.'));

beforeAll(async () => {
  // Every first-request write (the users directory, the tenant's registry and default pipeline) happens now.
  for (const c of [admin, rep]) expect((await send(c, 'GET', '/v1/tasks')).status).toBe(200);
  refs = await seedRefs(admin);
  await send(admin, 'GET', '/v1/pipelines');
  await send(admin, 'GET', '/v1/pool/rules');
  await send(admin, 'GET', '/v1/reports/funnel');
});

interface Sent {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

async function expectClean(label: string, res: Sent, before: number): Promise<void> {
  expect(res.status, `${label} → ${res.status} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers['content-type'], `${label}: problem+json`).toContain('application/problem+json');
    expect(typeof res.json?.code, `${label}: a code`).toBe('string');
    expect(await itemCount(), `${label} was refused (${res.status}) but wrote`).toBe(before);
  }
}

describe('fuzzing every route', () => {
  for (const route of routes) {
    const k = keyOf(route);
    it(`${k}: generated ids, queries, headers and bodies never get a 5xx, and a refusal writes nothing`, async () => {
      const valid = hasBody(route) ? (bodyFor(route)(refs) as Record<string, unknown>) : {};
      const body = fc.oneof(
        { arbitrary: mutated(valid).map((b) => JSON.stringify(b)), weight: 3 },
        { arbitrary: rawBodies, weight: 2 },
        { arbitrary: nastyValue.map((b) => JSON.stringify(b) ?? 'undefined'), weight: 1 },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(admin, rep), pathId, queryOf, contentTypes, body, async (who, id, query, contentType, payload) => {
          const path = route.path.replace(/\{\w+\}/g, id);
          const url = query ? `${path}?${query}` : path;
          const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
          // A public route answers browsers in HTML; a client asking for JSON gets problem+json.
          if (route.public) headers.accept = 'application/json';
          const withBody = route.method !== 'GET' && route.method !== 'DELETE';
          const before = await itemCount();
          const res = await call(who, route.method, url, undefined, { headers, ...(withBody ? { raw: payload } : {}) });
          await expectClean(`${route.method} ${url} [${contentType}] ${withBody ? payload.slice(0, 120) : ''}`, res, before);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    });
  }

  it('local-only routes: job names and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(nasty, fc.constantFrom('pool-release', 'forecast-nightly', 'nope')), rawBodies, async (name, payload) => {
        const before = await itemCount();
        const res = await call(rep, 'POST', `/_local/jobs/${encodeAll(name)}`, undefined, { raw: payload });
        await expectClean(`POST /_local/jobs/${name}`, res, before);
      }),
      { seed: SEED, numRuns: RUNS * 3, endOnFailure: true },
    );
  });
});
