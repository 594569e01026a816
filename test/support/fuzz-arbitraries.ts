/**
 * The fuzzer's generators (issue 11 point 2), shared by `test/contract/fuzz.test.ts` (a fixed
 * seed, a small count) and `bench/fuzz.ts` (a random seed, ≥ 20,000 requests): path ids,
 * queries, headers and bodies — wrong types, huge and empty strings, deep nesting, `__proto__` /
 * `constructor` keys, lone surrogates, NUL bytes, `1e309`, negative zero, numbers as strings,
 * path traversal, missing and wrong content types, duplicate query keys.
 */
import fc from 'fast-check';
import type { Route } from '#functions/routes.ts';
import type { Caller } from '#test/support/api.ts';

/** Who sends the generated requests (the test and the bench alike, so that a bench seed replays in the test). */
export const FUZZ_TENANT = 'fuzz';
export const FUZZ_CALLERS: readonly Caller[] = [
  { tenant: FUZZ_TENANT, user: 'root', role: 'admin' },
  { tenant: FUZZ_TENANT, user: 'ria', role: 'rep', team: 'east' },
];

export const nasty = fc.constantFrom(
  '', ' ', 'a'.repeat(300), 'x'.repeat(20_000), '\u0000', 'a\u0000b', '\ud800', '\udfff', '../../etc/passwd', '..%2F..%2F', '%', '%E0%A4%A',
  '__proto__', 'constructor', 'toString', '1e309', '-0', 'NaN', 'null', 'true', '[]', '{}', '星辰科技', '😀', 'me', 'none',
);

export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.constantFrom(-0, 0, -1, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 64, 0.001, 1.005, true, false, null, [], {}, [[[]]], { __proto__: { admin: true } }),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Raw bodies that JSON.stringify cannot make. */
export const rawBodies = fc.constantFrom(
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

export const contentTypes = fc.constantFrom<string | undefined>(
  'application/json', 'application/json; charset=utf-8', 'application/merge-patch+json', 'text/plain',
  'application/x-www-form-urlencoded', undefined, '', 'application/json, text/plain',
);

/** A valid body with one field replaced, one removed, or one nasty key added. */
export function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  return fc.oneof(
    keys.length
      ? fc.tuple(fc.constantFrom(...keys), nastyValue).map(([k, v]) => ({ ...valid, [k]: v }))
      : nastyValue,
    keys.length ? fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))) : fc.constant({}),
    fc.tuple(fc.constantFrom('__proto__', 'constructor', 'id', 'tenantId', 'version', 'createdAt', 'zzz'), nastyValue).map(([k, v]) => ({ ...valid, [k]: v })),
  );
}

/** Percent-encodes every UTF-8 byte (a lone surrogate becomes U+FFFD's bytes; `%ED%A0%80` is sent as such below). */
export const encodeAll = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** A query string: known and nasty keys (repeated keys included) with nasty values. */
export const queryOf = fc
  .array(fc.tuple(fc.constantFrom('limit', 'cursor', 'period', 'userId', 'teamId', 'status', 'q', 'from', 'to', '__proto__', 'constructor', 'ownerId', 'accountId', 'periods'), nasty), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeAll(k)}=${encodeAll(v)}`).join('&'));

/** A path id as a client might send it: encoded, raw, or malformed. */
export const pathId = fc.oneof(nasty.map(encodeAll), nasty.map((s) => s.replace(/[/?#%]/g, '')), fc.constantFrom('%', '%zz', '%E0%A4%A', '%ED%A0%80', '..', '.'));

/** One generated request of a route: who sends it, the URL, the headers and the raw body. */
export interface FuzzRequest {
  who: Caller;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Sent as is; undefined for GET and DELETE. */
  raw?: string;
}

export const hasRequestBody = (method: string) => method !== 'GET' && method !== 'DELETE';

/**
 * Requests of one route: `valid` is a valid body of the route (`bodyFor` of fixtures.ts; `{}`
 * without one), mutated, replaced by a raw body or by a nasty value.
 */
export function routeRequests(route: Pick<Route, 'method' | 'path' | 'public'>, valid: Record<string, unknown>, callers: readonly Caller[]): fc.Arbitrary<FuzzRequest> {
  const body = fc.oneof(
    { arbitrary: mutated(valid).map((b) => JSON.stringify(b)), weight: 3 },
    { arbitrary: rawBodies, weight: 2 },
    { arbitrary: nastyValue.map((b) => JSON.stringify(b) ?? 'undefined'), weight: 1 },
  );
  return fc.tuple(fc.constantFrom(...callers), pathId, queryOf, contentTypes, body).map(([who, id, query, contentType, payload]) => {
    const path = route.path.replace(/\{\w+\}/g, id);
    const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
    // A public route answers browsers in HTML; a client asking for JSON gets problem+json.
    if (route.public) headers.accept = 'application/json';
    return { who, method: route.method, url: query ? `${path}?${query}` : path, headers, ...(hasRequestBody(route.method) ? { raw: payload } : {}) };
  });
}

/** The local-only job trigger, `POST /_local/jobs/{job}`: nasty and real job names, raw bodies. */
export function localJobRequests(who: Caller): fc.Arbitrary<FuzzRequest> {
  return fc.tuple(fc.oneof(nasty, fc.constantFrom('pool-release', 'forecast-nightly', 'nope')), rawBodies).map(([name, raw]) => ({
    who,
    method: 'POST',
    url: `/_local/jobs/${encodeAll(name)}`,
    headers: {},
    raw,
  }));
}

/** What every answer must be: a 2xx, or a 4xx problem+json with a `code`. Undefined when it is. */
export function answerDefect(res: { status: number; headers: Record<string, string>; json?: any }): string | undefined {
  if (res.status >= 500) return `answered ${res.status}`;
  if (res.status < 400) return undefined;
  if (!String(res.headers['content-type'] ?? '').includes('application/problem+json')) return `a ${res.status} that is not problem+json`;
  if (typeof res.json?.code !== 'string') return `a ${res.status} without a code`;
  return undefined;
}
