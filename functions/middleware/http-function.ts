/**
 * Builds the Lambda handler of one HTTP function (a resource group) from its operations,
 * keyed by route key exactly as functions/routes.ts declares them. Middleware order:
 * rate-limit headers on every answer → problem+json errors → identity (the authorizer's context)
 * → the caller's tenant scope (every table request reaches only the tenant's keys:
 * domain/table/tenant-client.ts) → users directory, a key's lastUsedAt → rate limit (429) →
 * parse and validate → run the
 * use case (idempotently for POST) → map the result to status, ETag and Location.
 */
import { createHash } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import type { Identity } from '#domain/identity.ts';
import { notFound } from '#domain/errors.ts';
import { applyCustomInput, presentCustomIn, type CustomFieldsUse } from '#functions/middleware/custom-fields.ts';
import type { PageRequest } from '#domain/table/query.ts';
import { identityFromContext, recordCaller } from '#functions/middleware/identity.ts';
import { runAsTenant } from '#domain/table/tenant-client.ts';
import { SHARED_KEY_PREFIXES } from '#domain/table/tenant-scope.ts';
import { idempotencyScope, requestHash, runIdempotent } from '#functions/middleware/idempotency.ts';
import { problemJson } from '#functions/middleware/problem.ts';
import { enforceRateLimit, rateLimitHeadersMiddleware } from '#functions/middleware/rate-limit.ts';
import { etag, lowerCaseHeaders, parseIfMatch, readJsonBody, readRawBody, validate } from '#functions/middleware/request.ts';

export interface OperationInput<B, Q> {
  ctx: UseCaseContext;
  body: B;
  query: Q;
  params: Record<string, string>;
  ifMatch: number | undefined;
  /** Present for list operations: limit, cursor and the cursor's binding to this caller and query. */
  page: PageRequest;
  /** The body's bytes when it came in one of the operation's `rawBody` media types (then `body` is undefined). */
  raw?: { bytes: Buffer; mediaType: string };
  /** The request's headers, names in lower case (content negotiation: `accept`). */
  headers: Record<string, string>;
}

/** A non-JSON answer (a CSV export): sent as is, with its media type. */
export interface FileAnswer {
  contentType: string;
  /** Text, sent as the body (API Gateway passes text/* through as it is). */
  text: string;
  filename?: string;
}

/**
 * A file answered by a link instead (too large for a Lambda answer, or asked for as JSON): `303 See
 * Other` to `link.url`, or with `json`, `200` with `link` as the JSON body (shaped by `response`).
 */
export interface FileLinkAnswer {
  link: { url: string };
  json: boolean;
}

export interface Operation<B = unknown, Q = unknown, R = unknown> {
  run(input: OperationInput<B, Q>): Promise<R>;
  /** One line for the API reference ("Create an account"); derived from the route when absent (functions/openapi/summaries.ts). */
  summary?: string;
  body?: z.ZodMiniType<B>;
  query?: z.ZodMiniType<Q>;
  /** Loads what the query's rules need, before they run (the duplicate search's domain rule needs the public suffix list). */
  beforeQuery?: (query: Record<string, string | undefined>) => Promise<void> | undefined;
  /**
   * Set for a create: answers 201 with `Location: <creates>/<id>`, or the Location the function
   * names (a sub-resource without a route of its own: a ticket's comment). Otherwise 200, or 204 for no result.
   */
  creates?: string | ((created: { params: Record<string, string>; result: R }) => string);
  /**
   * For a create that may find its resource already there (a suppression): the result says which
   * (`created` false → 200 instead of 201) and what to answer. Derived from the result, so an
   * Idempotency-Key replay answers the first status again.
   */
  outcome?: (result: R) => { created: boolean; body: unknown };
  /** Path parameters other than ids (an email): this schema replaces the id rule below. */
  params?: z.ZodMiniType<Record<string, string>>;
  /** The records in the body and the result carry custom field values (middleware/custom-fields.ts). */
  custom?: CustomFieldsUse;
  /**
   * The answer's schema: what the OpenAPI document declares for the success status, and what
   * shapes the answer (parsed with it: keys it does not name are dropped, a mismatch is a bug).
   * Every operation that answers a body names one; without one, a DELETE answers 204 and any
   * other operation is listed in the document's `missingResponseSchemas`.
   */
  response?: z.ZodMiniType;
  /**
   * Answers `202 Accepted` with `Location: <accepted>/<id>` instead of a 201: the resource exists
   * at once but its work goes on in the background (a CSV import).
   */
  accepted?: string;
  /** The largest body this operation takes, in bytes: an exception to the API's 256 KB, made here explicitly. */
  maxBodyBytes?: number;
  /** Media types besides JSON whose body is given raw (`OperationInput.raw`), not parsed: `text/csv`. */
  rawBody?: string[];
  /** The result is a `FileAnswer`, not JSON, or a `FileLinkAnswer` (then `response` is the link's JSON schema). */
  file?: true;
}

/** Helper that keeps each operation's body, query and result types tied together. */
export function operation<B = undefined, Q = undefined, R = unknown>(op: Operation<B, Q, R>): Operation {
  return op as Operation;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const emptyBody = z.lazy(() => z.strictObject({}));
const noQuery = z.lazy(() => z.strictObject({}));
const pathParams = z.lazy(() => z.record(z.string(), z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9_-]+$/))));

/** The Lambda authorizer's context arrives under `requestContext.authorizer.lambda` (payload 2.0). */
type Event = APIGatewayProxyEventV2 & { requestContext: { authorizer?: { lambda?: unknown } } };

export interface HttpFunctionOptions {
  /** Keys outside the tenant this function's use cases touch (functions/routes.ts `sharedKeys`). */
  sharedKeys?: readonly (keyof typeof SHARED_KEY_PREFIXES)[];
}

export function httpFunction(operations: Record<string, Operation>, options: HttpFunctionOptions = {}) {
  const shared = (options.sharedKeys ?? []).map((k) => SHARED_KEY_PREFIXES[k]);
  const dispatch = async (event: Event, _context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const op = operations[event.routeKey];
    if (!op) throw notFound('route');
    const identity = identityFromContext(event.requestContext.authorizer?.lambda);
    return runAsTenant(identity.tenantId, () => handle(op, event, identity), shared);
  };

  const handle = async (op: Operation, event: Event, identity: Identity): Promise<APIGatewayProxyStructuredResultV2> => {
    const now = new Date();
    await recordCaller(identity, now);
    await enforceRateLimit(event, identity);
    const headers = lowerCaseHeaders(event);
    const method = event.requestContext.http.method.toUpperCase();

    // Path ids are validated like input, but a malformed id is simply one that does not exist.
    const parsedParams = (op.params ?? pathParams).safeParse(event.pathParameters ?? {});
    if (!parsedParams.success) throw notFound();
    const params = parsedParams.data;

    const raw = op.rawBody ? readRawBody(event, headers, op.rawBody, op.maxBodyBytes) : undefined;
    const rawBody = raw ? undefined : readJsonBody(event, headers, method === 'PATCH', op.maxBodyBytes);
    // No body counts as `{}`; a JSON `null` body is a body, and not an object.
    const parsedBody = raw ? undefined : validate(op.body ?? z.optional(emptyBody), rawBody === undefined ? (op.body ? {} : undefined) : rawBody, 'body');
    // Custom values are typed by the tenant's definitions of the moment: the strict schema, extended.
    const body = op.custom ? await applyCustomInput(identity.tenantId, op.custom, parsedBody) : parsedBody;
    const rawQuery = event.queryStringParameters ?? {};
    await op.beforeQuery?.(rawQuery);
    const query = validate(op.query ?? noQuery, rawQuery, 'query') as Record<string, unknown>;

    const { limit, cursor, ...filters } = query as { limit?: number; cursor?: string };
    const page: PageRequest = {
      limit: limit ?? 25,
      cursor,
      scope: { tenantId: identity.tenantId, userId: identity.userId, query: JSON.stringify([event.routeKey, params, sorted(filters)]) },
    };

    const ifMatch = parseIfMatch(headers);
    const hashed = raw ? { query: rawQuery, sha256: createHash('sha256').update(raw.bytes).digest('base64url') } : rawBody;
    const idempotency = method === 'POST' ? idempotencyScope(headers, requestHash(event.routeKey, params, hashed)) : undefined;
    const ctx: UseCaseContext = { identity, now, ...(idempotency ? { idempotency } : {}) };

    const result = await runIdempotent(identity, idempotency, () =>
      op.run({ ctx, body, query, params, ifMatch, page, headers, ...(raw ? { raw } : {}) }),
    );
    return respond(op, op.custom ? await presentCustomIn(identity.tenantId, op.custom, result) : result, params);
  };

  const handler = middy<Event, APIGatewayProxyStructuredResultV2>().use(rateLimitHeadersMiddleware()).use(problemJson()).handler(dispatch);
  // The operations stay reachable for the OpenAPI document (functions/openapi/).
  return Object.assign(handler, { operations });
}

function respond(op: Operation, result: unknown, params: Record<string, string>): APIGatewayProxyStructuredResultV2 {
  if (result === undefined) return { statusCode: 204 };
  if (op.file && 'link' in (result as object)) {
    const { link, json } = result as FileLinkAnswer;
    if (!json) return { statusCode: 303, headers: { location: link.url } };
    return { statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(op.response ? op.response.parse(link) : link) };
  }
  if (op.file) {
    const file = result as FileAnswer;
    return {
      statusCode: 200,
      headers: {
        'content-type': file.contentType,
        ...(file.filename ? { 'content-disposition': `attachment; filename="${file.filename}"` } : {}),
      },
      body: file.text,
    };
  }
  const { created, body: unshaped } = op.outcome ? op.outcome(result) : { created: !!op.creates, body: result };
  const body = op.response ? op.response.parse(unshaped) : unshaped;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  const { version, id } = body as { version?: unknown; id?: unknown };
  if (typeof version === 'number') headers.etag = etag(version);
  if (typeof op.creates === 'function') headers.location = op.creates({ params, result: body });
  else if (op.creates) headers.location = `${op.creates}/${String(id)}`;
  if (op.accepted) headers.location = `${op.accepted}/${String(id)}`;
  return { statusCode: op.accepted ? 202 : created ? 201 : 200, headers, body: JSON.stringify(body) };
}

function sorted(o: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
