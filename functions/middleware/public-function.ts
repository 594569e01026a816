/**
 * Builds a public HTTP function: routes with no identity (no JWT authorizer, no users
 * directory), each proving itself by a signed token in its path, or (inbound forms) by a
 * signature of the raw body. Answers HTML to browsers and problem+json to clients that asked
 * for JSON (`jsonOnly` routes: always JSON); request bodies may be
 * `application/x-www-form-urlencoded` (RFC 8058 one-click unsubscribe, HTML forms), or read raw
 * before any parsing (`rawBody`, for a signature) and then as JSON (`jsonBody`).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { MAX, upTo } from '#domain/fields.ts';
import { DomainError, notFound, payloadTooLarge, unsupportedMediaType, validationFailed } from '#domain/errors.ts';
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import { tokenTenant } from '#domain/marketing/tokens.ts';
import { runAsTenant } from '#domain/table/tenant-client.ts';
import { problemOf, problemResponse } from '#functions/middleware/problem.ts';
import { limitPublicRequest, rateLimited, withRateLimitHeaders } from '#functions/middleware/rate-limit.ts';
import { lowerCaseHeaders, MAX_BODY_BYTES, readJsonBody } from '#functions/middleware/request.ts';
import type { PublicResult } from '#domain/public-result.ts';

const MAX_FORM_BYTES = 8 * 1024;

export interface PublicInput {
  /**
   * The path's one parameter: the signed token of `/u/…`, `/s/…`, `/t/…`; the form id of
   * `/in/forms/{id}` (which proves itself by its signature instead).
   */
  token: string;
  /** The form body (throws 415/413 for anything else); read after the token is checked, so a bad link is a 404 whatever came with it. */
  form(): URLSearchParams;
  /** The body as fields: a form (as strings) or, when the request is `application/json`, the parsed JSON object (400 `malformed_json`). For routes with `json: true`. */
  fields(): { fields: Record<string, unknown>; fromForm: boolean };
  now: Date;
  /** The request's own URL path (a form posts back to it). */
  path: string;
  /** Request headers, lower-cased. */
  headers: Record<string, string>;
  /** The body exactly as it came (UTF-8), for a signature over it; over 256 KB → 413. Empty when there is none. */
  rawBody(): string;
  /** The body as JSON (413, 415 unless `application/json`, 400 `malformed_json`); undefined when there is none. */
  jsonBody(): unknown;
}

export type { PublicResult };

export interface PublicOperation {
  run(input: PublicInput): Promise<PublicResult>;
  /** For the API reference: what the route does, its stable id, and what it answers (functions/openapi/document.ts). */
  summary: string;
  operationId: string;
  /** Absent for a `jsonOnly` route: it answers `response` with the statuses of `jsonStatuses`. */
  answers?: 'page' | 'gif' | 'redirect';
  /** A `jsonOnly` route's success statuses (e.g. 201 for a new record, 200 for one found). */
  jsonStatuses?: (200 | 201)[];
  /** Accepts a form body (POST). */
  form?: true;
  /** Also accepts a JSON body (`fields()`). */
  json?: true;
  /**
   * For a route that answers a page: the schema of what a client that asked for JSON gets instead
   * (`result.json`, default `{title}`). Like `Operation.response`, it shapes the answer: keys it
   * does not name are dropped, a mismatch is a bug.
   */
  response?: z.ZodMiniType;
  /** Called by machines, not browsers: every answer and every error is JSON (problem+json), whatever `Accept` says. */
  jsonOnly?: true;
  /** Proves itself by a Standard Webhooks signature of the body (the document names the scheme). */
  signed?: true;
  /** The body's schema, for the OpenAPI document (the operation validates it itself, once it may read it). */
  body?: z.ZodMiniType;
  /**
   * Whose request this is, from its proof (default: the tenant a genuine signed token names).
   * The operation then runs in that tenant's scope (domain/table/tenant-client.ts); with no tenant
   * it runs unscoped, and in the cloud reaches no tenant's keys at all.
   */
  tenantOf?: (token: string) => Promise<string | undefined>;
}

/** The JSON answer of a page that names none: its title. */
export const pageTitleView = z.lazy(() => z.object({ title: upTo(MAX.name) }));

/** A transparent 1×1 GIF. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;
}

type Event = APIGatewayProxyEventV2;

/** The title of an error page: what the person who opened the link can do about it. */
export function errorPageTitle(status: number): string {
  if (status === 404) return 'This link is not valid';
  if (status === 429) return 'Too many requests';
  // A 503 (busy, or timed out) passes: the page says to retry, and Retry-After says when.
  if (status === 503) return 'Please try again in a moment';
  return status < 500 ? 'This could not be done' : 'Something went wrong';
}

function wantsJson(headers: Record<string, string>): boolean {
  const accept = headers.accept ?? '';
  const type = (headers['content-type'] ?? '').toLowerCase();
  return (/\bapplication\/(problem\+)?json\b/.test(accept) && !/\btext\/html\b/.test(accept)) || type.startsWith('application/json');
}

function readForm(event: Event, headers: Record<string, string>): URLSearchParams {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') return new URLSearchParams();
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_FORM_BYTES) throw payloadTooLarge();
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw unsupportedMediaType();
  return new URLSearchParams(text);
}

function readRawBody(event: Event): string {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') return '';
  const bytes = Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length > MAX_BODY_BYTES) throw payloadTooLarge();
  return bytes.toString('utf8');
}

function readFields(event: Event, headers: Record<string, string>, acceptsJson: boolean): { fields: Record<string, unknown>; fromForm: boolean } {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (acceptsJson && type === 'application/json') {
    const body = readJsonBody(event, headers, false);
    if (body === undefined) return { fields: {}, fromForm: false };
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw validationFailed([{ path: 'body', message: 'expected an object' }], 'The body is not valid.');
    }
    return { fields: body as Record<string, unknown>, fromForm: false };
  }
  return { fields: Object.fromEntries(readForm(event, headers)), fromForm: true };
}

function jsonAnswer(op: PublicOperation, result: Extract<PublicResult, { kind: 'html' }>): unknown {
  const body = result.json ?? { title: result.title };
  return op.response ? op.response.parse(body) : body;
}

export function publicFunction(operations: Record<string, PublicOperation>) {
  // Limited per client IP (functions/middleware/rate-limit.ts): the caller is nobody until its token is checked.
  const dispatch = async (event: Event, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const decision = limitPublicRequest(event);
    return withRateLimitHeaders(await answer(event, context, decision.allowed ? undefined : decision.retryAfter), decision);
  };
  const answer = async (event: Event, _context: Context, refusedFor: number | undefined): Promise<APIGatewayProxyStructuredResultV2> => {
    const headers = lowerCaseHeaders(event);
    const op = operations[event.routeKey];
    const json = op?.jsonOnly || wantsJson(headers);
    try {
      if (refusedFor !== undefined) throw rateLimited(refusedFor);
      const token = event.pathParameters?.token ?? event.pathParameters?.id;
      // A signed route checks its id itself (a bad one is a 401 there, as any bad signature).
      if (!op || !token || (!op.signed && token.length > MAX.token)) throw notFound('link');
      const form = () => (op.form ? readForm(event, headers) : new URLSearchParams());
      const fields = () => (op.form ? readFields(event, headers, !!op.json) : { fields: {}, fromForm: false });
      const rawBody = () => readRawBody(event);
      const jsonBody = () => readJsonBody(event, headers, false);
      const input = { token, form, fields, now: new Date(), path: event.rawPath, headers, rawBody, jsonBody };
      const tenantId = await (op.tenantOf ?? tokenTenant)(token);
      const result = await (tenantId ? runAsTenant(tenantId, () => op.run(input)) : op.run(input));
      switch (result.kind) {
        case 'json':
          return { statusCode: result.status, headers: { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(result.body) };
        case 'redirect':
          return { statusCode: 302, headers: { ...SECURITY_HEADERS, location: result.location }, body: '' };
        case 'gif':
          return { statusCode: 200, headers: { ...SECURITY_HEADERS, 'content-type': 'image/gif' }, body: PIXEL.toString('base64'), isBase64Encoded: true };
        case 'html':
          return json
            ? { statusCode: result.status ?? 200, headers: { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(jsonAnswer(op, result)) }
            : { statusCode: result.status ?? 200, headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body: page(result.title, result.body) };
      }
    } catch (err) {
      const { problem, retryAfter } = problemOf(err, event.routeKey);
      const later: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
      if (json) {
        const answer = problemResponse(problem);
        return { ...answer, headers: { ...answer.headers, ...later } };
      }
      const title = errorPageTitle(problem.status);
      return {
        statusCode: problem.status,
        headers: { ...SECURITY_HEADERS, ...later, 'content-type': 'text/html; charset=utf-8' },
        body: page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(problem.message)}</p>`),
      };
    }
  };
  const handler = middy<Event, APIGatewayProxyStructuredResultV2>().handler(dispatch);
  return Object.assign(handler, { operations });
}
