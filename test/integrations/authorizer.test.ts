/**
 * The Lambda authorizer (functions/auth/authorizer.ts) called directly, as API Gateway calls it,
 * on DynamoDB Local, with an injected clock: what a key costs cold and warm, how long a container
 * remembers it, and that ID tokens still pass and bad credentials never do.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { createApiKey, deleteApiKey } from '#domain/integrations/api-keys.ts';
import { apiKeyLookupKey, hashApiKey } from '#domain/integrations/api-key.ts';
import { createAuthorizer, type AuthorizerConfig } from '#functions/auth/authorizer.ts';
import { authorizerEvent, buildEvent } from '#local/api-gateway-event.ts';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, loadOrCreateKeys, localAuthorizerConfig, mintToken } from '#local/auth.ts';

const T = 'authz';
const admin = { tenantId: T, userId: 'root', role: 'admin' as const };
const T0 = new Date('2026-12-01T00:00:00.000Z');

/** Every DynamoDB request the table client sends while this file runs. */
let requests = 0;
beforeAll(() => {
  db.middlewareStack.add((next) => async (args) => {
    requests++;
    return next(args);
  }, { step: 'initialize', name: 'countAuthorizerRequests' });
});
afterAll(() => {
  db.middlewareStack.remove('countAuthorizerRequests');
});

/** Requests made by `fn`. */
async function counted<R>(fn: () => Promise<R>): Promise<{ result: R; requests: number }> {
  const before = requests;
  const result = await fn();
  return { result, requests: requests - before };
}

/** The authorizer's request event for `Authorization: <header>` (as local/router.ts and API Gateway build it). */
function eventFor(header: string) {
  const request = buildEvent({ method: 'GET', url: '/v1/accounts', headers: { authorization: header } }, { routeKey: 'GET /v1/accounts', pathParameters: undefined }, undefined);
  return authorizerEvent(request, [header]);
}

async function newKey(body: { role: 'admin' | 'manager' | 'rep'; teamId?: string; expiresAt?: string }, now = T0): Promise<{ id: string; key: string }> {
  const created = await createApiKey({ identity: admin, now }, { name: 'integration', ...body });
  return { id: created.id, key: created.key! };
}

/** An authorizer with the cloud's cache and a clock the test moves. */
async function cloudLike(ttl = 20): Promise<{ authorize: ReturnType<typeof createAuthorizer>; clock: { now: Date } }> {
  const clock = { now: T0 };
  const config: AuthorizerConfig = { ...(await localAuthorizerConfig()), cacheTtlSeconds: ttl, now: () => clock.now };
  return { authorize: createAuthorizer(config), clock };
}

const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe('API keys', () => {
  it('acts as apikey:<id> with the key’s role and team: one GetItem cold, none warm, again one once the container TTL has passed', async () => {
    const { id, key } = await newKey({ role: 'manager', teamId: 'east' });
    const { authorize, clock } = await cloudLike(20);

    const cold = await counted(() => authorize(eventFor(`Bearer ${key}`)));
    expect(cold.result).toEqual({ isAuthorized: true, context: { tenantId: T, userId: `apikey:${id}`, role: 'manager', teamId: 'east' } });
    expect(cold.requests).toBe(1);

    clock.now = later(19.999);
    const warm = await counted(() => authorize(eventFor(`Bearer ${key}`)));
    expect(warm.result).toEqual(cold.result);
    expect(warm.requests).toBe(0);

    clock.now = later(20);
    const expired = await counted(() => authorize(eventFor(`Bearer ${key}`)));
    expect(expired.result).toEqual(cold.result);
    expect(expired.requests).toBe(1);
  });

  it('a deleted key: refused by the first read after the cache entry ends; no cache (the local runtime): at once', async () => {
    const { id, key } = await newKey({ role: 'rep' });
    const { authorize, clock } = await cloudLike(20);
    const local = createAuthorizer({ ...(await localAuthorizerConfig()), now: () => clock.now });
    expect((await authorize(eventFor(`Bearer ${key}`))).isAuthorized).toBe(true);
    expect((await local(eventFor(`Bearer ${key}`))).isAuthorized).toBe(true);

    await deleteApiKey({ identity: admin, now: later(1) }, id, undefined);
    expect((await db.send(new GetCommand({ TableName: tableName(), Key: apiKeyLookupKey(hashApiKey(key)) }))).Item).toBeUndefined();
    await expect(local(eventFor(`Bearer ${key}`))).rejects.toThrow(/^Unauthorized$/);
    // The warm container still answers from memory until its entry ends (bounded: docs/api-decisions.md)…
    clock.now = later(10);
    expect((await authorize(eventFor(`Bearer ${key}`))).isAuthorized).toBe(true);
    // …and reads the table again after it.
    clock.now = later(20);
    await expect(authorize(eventFor(`Bearer ${key}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('a cache entry never outlives the key: a key expiring in 5 s is refused after 5 s, warm or not', async () => {
    const { key } = await newKey({ role: 'rep', expiresAt: later(5).toISOString() });
    const { authorize, clock } = await cloudLike(20);
    expect((await authorize(eventFor(`Bearer ${key}`))).isAuthorized).toBe(true);
    clock.now = later(4.999);
    expect((await counted(() => authorize(eventFor(`Bearer ${key}`)))).requests).toBe(0);
    clock.now = later(5);
    await expect(authorize(eventFor(`Bearer ${key}`))).rejects.toThrow(/^Unauthorized$/);
  });

  it('unknown, malformed and forged keys are refused; only a well-formed one costs a read', async () => {
    const { key } = await newKey({ role: 'rep' });
    const { authorize } = await cloudLike();
    const flipped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const [bearer, reads] of [[flipped, 1], [`crm_${'x'.repeat(43)}`, 1], ['crm_short', 0], [`crm_${'!'.repeat(43)}`, 0], [`${key}x`, 0]] as const) {
      const attempt = await counted(() => authorize(eventFor(`Bearer ${bearer}`)).catch((err: Error) => err));
      expect(attempt.result, bearer).toEqual(new Error('Unauthorized'));
      expect(attempt.requests, bearer).toBe(reads);
    }
    // Refusals are not remembered: the real key still works in the same container.
    expect((await authorize(eventFor(`Bearer ${key}`))).isAuthorized).toBe(true);
  });

  it('remembers at most cacheSize keys, the oldest going first', async () => {
    const keys = await Promise.all([0, 1, 2].map(() => newKey({ role: 'rep' })));
    const clock = { now: T0 };
    const authorize = createAuthorizer({ ...(await localAuthorizerConfig()), cacheTtlSeconds: 20, cacheSize: 2, now: () => clock.now });
    for (const k of keys) await authorize(eventFor(`Bearer ${k.key}`));
    expect((await counted(() => authorize(eventFor(`Bearer ${keys[2]!.key}`)))).requests).toBe(0);
    expect((await counted(() => authorize(eventFor(`Bearer ${keys[0]!.key}`)))).requests).toBe(1);
  });
});

describe('ID tokens', () => {
  it('a token gives the context of its claims, with no table request', async () => {
    const { authorize } = await cloudLike();
    const token = await mintToken({ tenant: T, user: 'alice', role: 'rep', team: 'east' });
    const res = await counted(() => authorize(eventFor(`Bearer ${token}`)));
    expect(res.result).toEqual({ isAuthorized: true, context: { tenantId: T, userId: 'alice', role: 'rep', teamId: 'east' } });
    expect(res.requests).toBe(0);
    // The header's scheme is case-insensitive, as in the contract's `Bearer`.
    expect((await authorize(eventFor(`bearer ${token}`))).isAuthorized).toBe(true);
  });

  it('expired, forged, foreign, keyless and claim-less tokens, and other schemes, are Unauthorized (never a fetch of the key set)', async () => {
    const { authorize } = await cloudLike();
    const keys = await loadOrCreateKeys();
    const other = (await generateKeyPair('RS256')).privateKey;
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'alice', iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, token_use: 'id', iat: now, exp: now + 600, 'custom:tenantId': T, 'custom:role': 'rep' };
    const sign = (payload: Record<string, unknown>, key = keys.signingKey, kid: string | null = keys.kid) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) }).sign(key);
    const good = await sign(claims);
    expect((await authorize(eventFor(`Bearer ${good}`))).isAuthorized).toBe(true);

    const { exp: _exp, ...noExp } = claims;
    const bad = [
      `Bearer ${await mintToken({ tenant: T, user: 'alice', role: 'rep', expiresInSeconds: -1 })}`,
      `Bearer ${await sign(claims, other)}`,
      `Bearer ${await sign(claims, other, 'unknown-kid')}`,
      `Bearer ${await sign(claims, keys.signingKey, null)}`,
      `Bearer ${await sign({ ...claims, iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other' })}`,
      `Bearer ${await sign({ ...claims, aud: 'another-client' })}`,
      `Bearer ${await sign({ ...claims, token_use: 'access' })}`,
      `Bearer ${await sign(noExp)}`,
      `Bearer ${await sign({ ...claims, 'custom:role': 'root' })}`,
      `Bearer ${await sign({ ...claims, sub: 'apikey:01JABCDEFGHJKMNPQRSTVWXYZ0' })}`,
      `Bearer ${good.slice(0, -4)}`,
      'Bearer',
      `Basic ${good}`,
      good,
      '',
    ];
    for (const header of bad) {
      const attempt = await counted(() => authorize(eventFor(header)).catch((err: Error) => err));
      expect(attempt.result, header).toEqual(new Error('Unauthorized'));
      expect(attempt.requests, header).toBe(0);
    }
  });
});

describe('the authorizer request event', () => {
  it('has the payload 2.0 shape of API Gateway: type REQUEST, routeArn, identitySource, no body', () => {
    const event = authorizerEvent(
      buildEvent({ method: 'post', url: '/v1/accounts?x=1', headers: { Authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{}' }, { routeKey: 'POST /v1/accounts', pathParameters: undefined }, undefined),
      ['Bearer t'],
    );
    expect(event).toMatchObject({ version: '2.0', type: 'REQUEST', identitySource: ['Bearer t'], routeKey: 'POST /v1/accounts', rawPath: '/v1/accounts', rawQueryString: 'x=1', cookies: [] });
    expect(event.routeArn).toMatch(/^arn:aws:execute-api:[^:]+:\d{12}:[^/]+\/\$default\/POST\/v1\/accounts$/);
    expect(event.headers).toMatchObject({ authorization: 'Bearer t' });
    expect(event).not.toHaveProperty('body');
    expect(event.requestContext).not.toHaveProperty('authorizer');
  });
});
