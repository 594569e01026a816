/**
 * Builds the API Gateway HTTP API (payload format 2.0) events Lambda would receive, with the
 * details a home-made event tends to miss: lower-cased headers, cookies as an array, repeated
 * query parameters joined with commas, `rawPath` beside `requestContext.http.path`; the Lambda
 * authorizer's context under `requestContext.authorizer.lambda`; and the authorizer's own
 * request event (`authorizerEvent`).
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2WithLambdaAuthorizer, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import type { AuthorizerContext } from '#functions/middleware/identity.ts';

export interface IncomingRequest {
  method: string;
  /** Path with query string, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer | string | undefined;
  sourceIp?: string;
}

export function buildEvent(
  req: IncomingRequest,
  route: { routeKey: string; pathParameters: Record<string, string> | undefined },
  /** What the authorizer answered; none for a route without one (its event then has no `authorizer`). */
  authorizer: AuthorizerContext | undefined,
  now = new Date(),
): APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext> {
  const [rawPath = '/', rawQueryString = ''] = req.url.split(/\?(.*)/s);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      cookies = (Array.isArray(value) ? value : [value]).flatMap((c) => c.split(/;\s*/)).filter(Boolean);
      continue;
    }
    headers[lower] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;

  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  // A text type whose bytes are not UTF-8 (a GB18030 CSV sent as text/csv) cannot travel as a
  // JSON string without loss: it goes base64-encoded, like a binary type.
  const textual = !body || (isTextual(headers['content-type']) && isUtf8(body));
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
      http: {
        method: req.method.toUpperCase(),
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: req.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      // As API Gateway passes a Lambda authorizer's simple response on: its `context`, under `lambda`.
      ...(authorizer ? { authorizer: { lambda: authorizer } } : {}),
    } as APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>['requestContext'],
    ...(body && body.length > 0
      ? { body: textual ? body.toString('utf8') : body.toString('base64'), isBase64Encoded: !textual }
      : { isBase64Encoded: false }),
  };
}

/**
 * The event API Gateway sends the Lambda authorizer (payload 2.0) for the request `event` is
 * about: the same request without its body, `identitySource` holding the identity source values.
 */
export function authorizerEvent(
  event: APIGatewayProxyEventV2WithLambdaAuthorizer<AuthorizerContext>,
  identitySource: string[],
): APIGatewayRequestAuthorizerEventV2 {
  const { body: _body, isBase64Encoded: _encoded, requestContext, ...request } = event;
  const { authorizer: _none, ...context } = requestContext;
  const { http } = context;
  return {
    ...request,
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:local:${context.accountId}:${context.apiId}/${context.stage}/${http.method}${http.path}`,
    identitySource,
    cookies: request.cookies ?? [],
    requestContext: context,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.time` is in Common Log Format, UTC: `12/Mar/2020:19:03:58 +0000`. */
export function requestTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** API Gateway base64-encodes bodies it does not consider text. */
function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return false;
  return /^(text\/|application\/(json|[\w.+-]*\+json|xml|x-www-form-urlencoded|javascript))/i.test(contentType);
}
