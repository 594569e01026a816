/**
 * Fuzzing every route (issue 11 point 2): generated path ids, queries, headers and bodies —
 * wrong types, huge and empty strings, deep nesting, `__proto__` / `constructor` keys, lone
 * surrogates, NUL bytes, `1e309`, negative zero, numbers as strings, path traversal, missing and
 * wrong content types, duplicate query keys — against every route of the route table and the
 * local-only routes. Every answer is a 2xx, or a 4xx problem+json with a `code`; never a 5xx;
 * and a refused request writes nothing (the tenant's item count before and after).
 * A fixed seed and a bounded count here; `FUZZ_RUNS` raises the count, and `FUZZ_SEED` replays a
 * seed `bench/fuzz.ts` printed (its long run uses these same generators: test/support/fuzz-arbitraries.ts).
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { rateLimitPartition } from '#domain/integrations/rate-limits.ts';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { routes } from '#functions/routes.ts';
import { call } from '#test/support/api.ts';
import { bodyFor, hasBody, keyOf, seedRefs, send, type Caller, type Refs } from '#test/support/fixtures.ts';
import { answerDefect, FUZZ_CALLERS, FUZZ_TENANT as T, localJobRequests, routeRequests, type FuzzRequest } from '#test/support/fuzz-arbitraries.ts';

const [admin, rep] = FUZZ_CALLERS as [Caller, Caller];
const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
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

beforeAll(async () => {
  // Every first-request write (the users directory, the tenant's registry and default pipeline) happens now.
  for (const c of [admin, rep]) expect((await send(c, 'GET', '/v1/tasks')).status).toBe(200);
  refs = await seedRefs(admin);
  await send(admin, 'GET', '/v1/pipelines');
  await send(admin, 'GET', '/v1/pool/rules');
  await send(admin, 'GET', '/v1/reports/funnel');
});

/**
 * The item count as the last refused request left it: requests run one at a time, so it is still
 * the count before the next request, unread (a Scan of the whole table, as long as the table grows).
 * Forgotten after an answer that may have written.
 */
let countAfterRefusal: number | undefined;

async function expectClean(req: FuzzRequest, res: Awaited<ReturnType<typeof call>>, before: number): Promise<void> {
  const label = `${req.method} ${req.url} [${req.headers['content-type']}] ${req.raw?.slice(0, 120) ?? ''}`;
  expect(answerDefect(res), `${label} → ${res.status} ${res.body.slice(0, 300)}`).toBeUndefined();
  if (res.status >= 400) {
    expect(await itemCount(), `${label} was refused (${res.status}) but wrote`).toBe(before);
    countAfterRefusal = before;
  }
}

async function sendAndCheck(req: FuzzRequest): Promise<void> {
  const before = countAfterRefusal ?? (await itemCount());
  countAfterRefusal = undefined;
  const res = await call(req.who, req.method, req.url, undefined, { headers: req.headers, ...(req.raw !== undefined ? { raw: req.raw } : {}) });
  await expectClean(req, res, before);
}

describe('fuzzing every route', () => {
  for (const route of routes) {
    const k = keyOf(route);
    it(`${k}: generated ids, queries, headers and bodies never get a 5xx, and a refusal writes nothing`, async () => {
      const valid = hasBody(route) ? (bodyFor(route)(refs) as Record<string, unknown>) : {};
      await fc.assert(fc.asyncProperty(routeRequests(route, valid, FUZZ_CALLERS), sendAndCheck), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    });
  }

  it('local-only routes: job names and bodies', async () => {
    await fc.assert(fc.asyncProperty(localJobRequests(rep), sendAndCheck), { seed: SEED, numRuns: RUNS * 3, endOnFailure: true });
  });
});
