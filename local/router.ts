/**
 * The local stand-in for API Gateway: matches a request against the one route table, runs
 * the cloud's own Lambda authorizer (functions/auth/authorizer.ts, with the local keys and no
 * cache), builds the payload-2.0 event with the authorizer's context and calls the very
 * handler Lambda would run. Also serves the local-only routes (`GET /health`,
 * `POST /_local/jobs/{job}`, the mailbox).
 */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DomainError } from '#domain/errors.ts';
import { problemResponse } from '#functions/middleware/problem.ts';
import { routeKey, routes, type Route } from '#functions/routes.ts';
import type { Authorizer } from '#functions/auth/authorizer.ts';
import type { AuthorizerContext } from '#functions/middleware/identity.ts';
import { localAuthorizerConfig } from '#local/auth.ts';
import { authorizerEvent, buildEvent, type IncomingRequest } from '#local/api-gateway-event.ts';
import { httpHandlers, jobHandlers } from '#local/registry.ts';

export interface LocalResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as text (a binary body, such as the open pixel's GIF, also in `bytes`). */
  body: string;
  bytes?: Buffer;
}

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  params: string[];
}

const compiled: CompiledRoute[] = routes.map((route) => {
  const params: string[] = [];
  const segments = route.path.split('/').map((segment) => {
    const param = /^\{(\w+)\}$/.exec(segment);
    if (!param) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    params.push(param[1]!);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${segments.join('/')}$`), params };
});

/**
 * A path segment, percent-decoded; a malformed escape (`%E0%A4%A`, a bare `%`, an encoded lone
 * surrogate) is kept as sent: no id looks like that, so the handler answers 404, never a 500.
 */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function matchRoute(method: string, path: string) {
  for (const c of compiled) {
    if (c.route.method !== method.toUpperCase()) continue;
    const m = c.pattern.exec(path);
    if (!m) continue;
    const pathParameters = Object.fromEntries(c.params.map((p, i) => [p, decodeSegment(m[i + 1]!)]));
    return { route: c.route, routeKey: routeKey(c.route), pathParameters: c.params.length ? pathParameters : undefined };
  }
  return undefined;
}

const json = (status: number, body: unknown, contentType = 'application/json'): LocalResponse => ({
  status,
  headers: { 'content-type': contentType },
  body: JSON.stringify(body),
});

/** The same problem+json the handlers' error middleware writes. */
const problem = (status: number, code: string, detail: string) => toResponse(problemResponse(new DomainError(status, code, detail)));

/** What API Gateway makes of a request's credentials: the authorizer's context, or the status it answers instead. */
type Authorized = { context: AuthorizerContext } | { status: 401 | 403 };

let authorizer: Promise<Authorizer> | undefined;
/** Loaded on first use: it reaches the table, whose client must not exist before the runtime sets its endpoint. */
function localAuthorizer(): Promise<Authorizer> {
  authorizer ??= Promise.all([import('#functions/auth/authorizer.ts'), localAuthorizerConfig()]).then(([m, config]) => m.createAuthorizer(config));
  authorizer.catch(() => (authorizer = undefined));
  return authorizer;
}

async function authorize(req: IncomingRequest, route: { routeKey: string; pathParameters: Record<string, string> | undefined }): Promise<Authorized> {
  const header = req.headers.authorization ?? req.headers.Authorization;
  const value = Array.isArray(header) ? header.join(',') : header;
  // A missing or empty identity source: API Gateway answers 401 without calling the authorizer.
  if (!value) return { status: 401 };
  const event = authorizerEvent(buildEvent(req, route, undefined), [value]);
  try {
    const result = await (await localAuthorizer())(event);
    return result.isAuthorized ? { context: result.context } : { status: 403 };
  } catch (err) {
    if (err instanceof Error && err.message === 'Unauthorized') return { status: 401 };
    throw err;
  }
}

const refused = (status: 401 | 403) =>
  status === 401 ? problem(401, 'unauthenticated', 'A valid bearer token is required.') : problem(403, 'forbidden', 'The authorizer refused this request.');

export interface RouterHooks {
  /** Called after every /v1 request: the local event relay delivers what it recorded. */
  afterRequest?: () => void;
}

export function createRouter(hooks: RouterHooks = {}) {
  return async function handle(req: IncomingRequest): Promise<LocalResponse> {
    const [path = '/'] = req.url.split('?');
    const method = req.method.toUpperCase();

    if (method === 'GET' && path === '/health') return json(200, { status: 'ok' });

    const job = /^\/_local\/jobs\/([^/]+)$/.exec(path);
    if (job && method === 'POST') return runJob(req, decodeSegment(job[1]!));
    if (path === '/_local/mail' || path === '/_local/mail/events') {
      // Loaded on first use: it reaches the table, whose client must not exist before the runtime sets its endpoint.
      const { localMailRoute, isMailRoute } = await import('#local/mailbox-routes.ts');
      const routeKey = `${method} ${path}`;
      if (isMailRoute(routeKey)) {
        const auth = await authorize(req, { routeKey, pathParameters: undefined });
        if (!('context' in auth)) return refused(auth.status);
        const result = await localMailRoute(req, routeKey, auth.context);
        hooks.afterRequest?.();
        return toResponse(result);
      }
    }

    const upload = /^\/_local\/uploads\/([^/]+)$/.exec(path);
    if (upload && method === 'PUT') return putUpload(req, decodeSegment(upload[1]!));
    const download = /^\/_local\/exports\/([^/]+)$/.exec(path);
    if (download && method === 'GET') return getExport(req, decodeSegment(download[1]!));

    const match = matchRoute(method, path);
    if (!match) return problem(404, 'not_found', 'No such route.');

    // The authorizer answers before any function runs; public routes have none (and no `authorizer` in their event).
    let context: AuthorizerContext | undefined;
    if (!match.route.public) {
      const auth = await authorize(req, match);
      if (!('context' in auth)) return refused(auth.status);
      context = auth.context;
    }
    const event = buildEvent(req, match, context);
    const { handler } = await httpHandlers[match.route.fn]();
    const result = await handler(event, lambdaContext(match.route.fn));
    hooks.afterRequest?.();
    return toResponse(result);
  };
}

/**
 * S3's side of a presigned PUT, locally (domain/integrations/upload-store.ts): no bearer token, the
 * signed `token` in the query is the credential. 403 for a tampered or expired URL, like S3.
 */
async function putUpload(req: IncomingRequest, uploadId: string): Promise<LocalResponse> {
  // Loaded on first use, like the mailbox: the store's key file lives under the runtime's data dir.
  const { putLocalUpload } = await import('#domain/integrations/upload-store.ts');
  const { id } = await import('#domain/fields.ts');
  if (!id.safeParse(uploadId).success) return problem(404, 'not_found', 'No such upload.');
  const token = new URLSearchParams(req.url.split('?')[1] ?? '').get('token') ?? '';
  const bytes = req.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const result = await putLocalUpload(uploadId, token, bytes, new Date());
  if (result === 'refused') return problem(403, 'forbidden', 'The upload URL is not valid or has expired.');
  if (result === 'too_large') return problem(413, 'payload_too_large', 'The CSV is larger than 5 MB.');
  return { status: 200, headers: {}, body: '' };
}

/**
 * S3's side of an export's presigned GET, locally: the signed `token` in the query is the
 * credential (403 for a tampered or expired URL, like S3); the CSV as stored, as a download.
 */
async function getExport(req: IncomingRequest, exportId: string): Promise<LocalResponse> {
  const { attachment, EXPORT_CONTENT_TYPE, getLocalExport } = await import('#domain/integrations/upload-store.ts');
  const token = new URLSearchParams(req.url.split('?')[1] ?? '').get('token') ?? '';
  const found = await getLocalExport(exportId, token, new Date());
  if (found === 'refused') return problem(403, 'forbidden', 'The download URL is not valid or has expired.');
  if (!found) return problem(404, 'not_found', 'No such export (a day after it was made, it is gone).');
  return { status: 200, headers: { 'content-type': EXPORT_CONTENT_TYPE, 'content-disposition': attachment(found.filename) }, body: found.bytes.toString('utf8'), bytes: found.bytes };
}

async function runJob(req: IncomingRequest, name: string): Promise<LocalResponse> {
  const auth = await authorize(req, { routeKey: `POST /_local/jobs/${name}`, pathParameters: undefined });
  if (!('context' in auth)) return refused(auth.status);
  if (auth.context.role !== 'admin') return problem(403, 'forbidden', 'Only an admin may run jobs.');
  // Own keys only: `__proto__`, `constructor` or `toString` are not jobs.
  const load = Object.hasOwn(jobHandlers, name) ? jobHandlers[name] : undefined;
  if (!load) return problem(404, 'not_found', `No job named ${name}.`);
  let now: string | undefined;
  const text = req.body === undefined ? '' : req.body.toString();
  if (text.trim()) {
    try {
      const parsed = JSON.parse(text) as { now?: unknown };
      if (parsed.now !== undefined && (typeof parsed.now !== 'string' || Number.isNaN(Date.parse(parsed.now)))) {
        return problem(400, 'validation_failed', '`now` must be an ISO-8601 timestamp.');
      }
      now = parsed.now as string | undefined;
    } catch {
      return problem(400, 'malformed_json', 'The body is not valid JSON.');
    }
  }
  const { handler } = await load();
  return json(200, await handler(now ? { now } : {}));
}

function toResponse(result: APIGatewayProxyStructuredResultV2): LocalResponse {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const body = result.body ?? '';
  if (!result.isBase64Encoded) return { status: result.statusCode ?? 200, headers, body };
  const bytes = Buffer.from(body, 'base64');
  return { status: result.statusCode ?? 200, headers, body: bytes.toString('utf8'), bytes };
}

function lambdaContext(fn: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: `crm-${fn}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:crm-${fn}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/crm-${fn}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

