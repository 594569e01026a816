/**
 * A real API Gateway HTTP API (payload 2.0) event, as AWS publishes it (test/fixtures/aws/,
 * copied verbatim from /work/shared/fixtures/aws/; it was captured with a JWT authorizer, whose
 * `authorizer.jwt` our Lambda authorizer's `authorizer.lambda` replaces):
 * (1) adapted to a real route and the context the authorizer gives a real token, it drives the
 * accounts handler directly; (2) the local runtime's buildEvent() produces the same structure.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handler } from '#functions/http/accounts.ts';
import { createAuthorizer } from '#functions/auth/authorizer.ts';
import type { AuthorizerContext } from '#functions/middleware/identity.ts';
import { authorizerEvent, buildEvent } from '#local/api-gateway-event.ts';
import { localAuthorizerConfig, mintToken } from '#local/auth.ts';

type Json = Record<string, any>;

const fixture: Json = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../fixtures/aws/apigw-v2-request-jwt-authorizer.json'), 'utf8'),
);

const clone = <T>(v: T): T => structuredClone(v);

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'crm-accounts',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:crm-accounts',
  memoryLimitInMB: '512',
  awsRequestId: 'fixture-request',
  logGroupName: '/aws/lambda/crm-accounts',
  logStreamName: 'fixture',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} satisfies Context;

/** What the authorizer answers for a fresh token of this caller. */
async function contextFor(tenant: string, user: string, role: 'admin' | 'rep'): Promise<AuthorizerContext> {
  const authorize = createAuthorizer(await localAuthorizerConfig());
  const header = `Bearer ${await mintToken({ tenant, user, role })}`;
  const request = buildEvent({ method: 'GET', url: '/v1/accounts', headers: { authorization: header } }, { routeKey: 'GET /v1/accounts', pathParameters: undefined }, undefined);
  const result = await authorize(authorizerEvent(request, [header]));
  expect(result.isAuthorized).toBe(true);
  return result.context;
}

/** The fixture turned into a request for one of our routes, keeping everything else it carries. */
function adapt(opts: {
  method: string;
  path: string;
  routePath: string;
  pathParameters?: Record<string, string>;
  context: Record<string, string>;
  body?: string;
}): Json {
  const e = clone(fixture);
  const routeKey = `${opts.method} ${opts.routePath}`;
  e.routeKey = routeKey;
  e.rawPath = opts.path;
  // Our routes take no unknown query parameters; the fixture's would be a 400.
  e.rawQueryString = '';
  delete e.queryStringParameters;
  if (opts.pathParameters) e.pathParameters = opts.pathParameters;
  else delete e.pathParameters;
  // API Gateway lower-cases header names.
  e.headers = Object.fromEntries(Object.entries(e.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
  e.headers['user-agent'] = e.requestContext.http.userAgent;
  if (opts.body !== undefined) {
    e.headers['content-type'] = 'application/json';
    e.headers['content-length'] = String(Buffer.byteLength(opts.body));
    e.body = opts.body;
    e.isBase64Encoded = false;
  } else {
    delete e.body;
  }
  e.requestContext.routeKey = routeKey;
  e.requestContext.http.method = opts.method;
  e.requestContext.http.path = opts.path;
  e.requestContext.authorizer = { lambda: opts.context };
  e.requestContext.timeEpoch = Date.now();
  return e;
}

const invoke = (event: Json) =>
  handler(event as APIGatewayProxyEventV2, context) as Promise<APIGatewayProxyStructuredResultV2>;

describe('the accounts handler with a real API Gateway event', () => {
  it('creates an account from a CRLF JSON body and reads it back', async () => {
    const caller = await contextFor('fixture-tenant', 'fixture-user', 'rep');
    expect(caller).toEqual({ tenantId: 'fixture-tenant', userId: 'fixture-user', role: 'rep' });

    // The same line ends as the fixture's own body.
    expect(fixture.body).toContain('\r\n');
    const body = '{\r\n\t"name": "Fixture Trading Co., Ltd.",\r\n\t"tags": ["fixture"]\r\n}';
    const created = await invoke(adapt({ method: 'POST', path: '/v1/accounts', routePath: '/v1/accounts', context: caller, body }));
    expect(created.statusCode, created.body).toBe(201);
    const account = JSON.parse(created.body!);
    expect(account).toMatchObject({ name: 'Fixture Trading Co., Ltd.', tags: ['fixture'], ownerId: 'fixture-user', version: 1 });
    expect(created.headers?.location).toBe(`/v1/accounts/${account.id}`);

    const read = await invoke(
      adapt({
        method: 'GET',
        path: `/v1/accounts/${account.id}`,
        routePath: '/v1/accounts/{id}',
        pathParameters: { id: account.id },
        context: caller,
      }),
    );
    expect(read.statusCode, read.body).toBe(200);
    expect(read.headers?.etag).toBe('"1"');
    expect(JSON.parse(read.body!)).toEqual(account);

    // Another tenant's caller, same id: not found.
    const stranger = await invoke(
      adapt({
        method: 'GET',
        path: `/v1/accounts/${account.id}`,
        routePath: '/v1/accounts/{id}',
        pathParameters: { id: account.id },
        context: await contextFor('other-tenant', 'fixture-user', 'admin'),
      }),
    );
    expect(stranger.statusCode).toBe(404);
  });

  it('answers 503 timeout (problem+json, Retry-After), not a 500, when the invocation runs out of time', async () => {
    const caller = await contextFor('fixture-tenant', 'fixture-late', 'rep');
    // 6 ms left: middy answers 5 ms before the end, long before the create's DynamoDB calls return.
    const almostOver = { ...context, getRemainingTimeInMillis: () => 6 };
    const event = adapt({ method: 'POST', path: '/v1/accounts', routePath: '/v1/accounts', context: caller, body: '{"name":"Late Trading Co."}' });
    const res = (await handler(event as APIGatewayProxyEventV2, almostOver)) as APIGatewayProxyStructuredResultV2;
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers).toMatchObject({ 'content-type': 'application/problem+json', 'retry-after': '1' });
    expect(JSON.parse(res.body!)).toMatchObject({ status: 503, code: 'timeout', title: 'Service Unavailable' });
  });

  it('answers 401 when the authorizer context lacks the tenant', async () => {
    const { tenantId: _dropped, ...caller } = await contextFor('fixture-tenant', 'u2', 'rep');
    const res = await invoke(adapt({ method: 'GET', path: '/v1/accounts/x', routePath: '/v1/accounts/{id}', pathParameters: { id: 'x' }, context: caller }));
    expect(res.statusCode).toBe(401);
  });
});

/** The structure of a value: keys and value types, with maps of strings collapsed. */
function shape(v: unknown, mapsAt: Set<string>, at = ''): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0], mapsAt, `${at}[]`)] : [];
  if (typeof v === 'object') {
    if (mapsAt.has(at)) {
      return Object.values(v as object).every((x) => typeof x === 'string') ? 'map<string,string>' : 'map<?>';
    }
    return Object.fromEntries(
      Object.entries(v as object)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, shape(x, mapsAt, at ? `${at}.${k}` : k)]),
    );
  }
  return typeof v;
}

describe('buildEvent() against the real event', () => {
  async function built() {
    const caller = await contextFor('t1', 'u1', 'rep');
    const event = buildEvent(
      {
        method: 'get',
        url: '/my/path?parameter1=value1&parameter1=value2&parameter2=value',
        headers: {
          Header1: 'value1',
          Header2: 'value2',
          'User-Agent': 'agent',
          'Content-Type': 'application/json',
          Cookie: 'cookie1; cookie2',
          'X-Repeated': ['a', 'b'],
        },
        body: Buffer.from(fixture.body as string, 'utf8'),
        sourceIp: '203.0.113.9',
      },
      { routeKey: 'GET /my/{proxy+}', pathParameters: { proxy: 'hello/world' } },
      caller,
      new Date(Date.UTC(2020, 2, 4, 19, 3, 58, 390)),
    );
    return { event: event as unknown as Json, caller };
  }

  it('has the same keys and value types, at the top and in requestContext', async () => {
    const { event } = await built();
    const maps = new Set(['headers', 'queryStringParameters', 'pathParameters', 'requestContext.authorizer.lambda']);
    const expected = clone(fixture);
    // Only present when the API defines stage variables (ours defines none).
    delete expected.stageVariables;
    // Only present with mutual TLS.
    delete expected.requestContext.authentication;
    // A Lambda authorizer's context instead of a JWT authorizer's claims (both maps of strings here).
    expected.requestContext.authorizer = { lambda: expected.requestContext.authorizer.jwt.claims };
    expect(shape(event, maps)).toEqual(shape(expected, maps));
  });

  it('renders the details a home-made event tends to miss as API Gateway does', async () => {
    const { event, caller } = await built();
    expect(event.version).toBe('2.0');
    expect(event.rawPath).toBe(fixture.rawPath);
    expect(event.requestContext.http.path).toBe(event.rawPath);
    expect(event.rawQueryString).toBe(fixture.rawQueryString);
    expect(event.queryStringParameters).toEqual(fixture.queryStringParameters); // repeated → joined with commas
    expect(event.cookies).toEqual(fixture.cookies);
    expect(event.headers).not.toHaveProperty('cookie');
    expect(Object.keys(event.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(event.headers).toMatchObject({ header1: 'value1', header2: 'value2', 'x-repeated': 'a,b' });
    expect(event.pathParameters).toEqual(fixture.pathParameters);
    expect(event.body).toBe(fixture.body); // CRLF and tab kept as sent
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.http).toMatchObject({ method: 'GET', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'agent' });
    expect(event.requestContext.routeKey).toBe(event.routeKey);
    expect(event.requestContext.stage).toBe('$default');
    expect(Object.keys(event.requestContext.authorizer)).toEqual(['lambda']);
    expect(event.requestContext.authorizer.lambda).toEqual(caller);
    expect(event.requestContext.timeEpoch).toBe(Date.UTC(2020, 2, 4, 19, 3, 58, 390));
    // Common Log Format; the fixture writes it without the space AWS's own samples have.
    const clf = /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} ?\+0000$/;
    expect(fixture.requestContext.time).toMatch(clf);
    expect(event.requestContext.time).toBe('04/Mar/2020:19:03:58 +0000');
  });

  it('base64-encodes a body that is not text, and omits an empty body', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
    const binary = buildEvent(
      { method: 'POST', url: '/x', headers: { 'content-type': 'image/png' }, body: png },
      { routeKey: 'POST /x', pathParameters: undefined },
      undefined,
    );
    expect(binary.isBase64Encoded).toBe(true);
    expect(Buffer.from(binary.body!, 'base64')).toEqual(png);

    const empty = buildEvent({ method: 'GET', url: '/x', headers: {} }, { routeKey: 'GET /x', pathParameters: undefined }, undefined);
    expect(empty).not.toHaveProperty('body');
    expect(empty).not.toHaveProperty('queryStringParameters');
    expect(empty).not.toHaveProperty('cookies');
    expect(empty.isBase64Encoded).toBe(false);
  });
});
