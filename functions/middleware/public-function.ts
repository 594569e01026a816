/**
 * Builds a public HTTP function: routes with no identity (no JWT authorizer, no users
 * directory), each proving itself by a signed token in its path. Answers HTML to browsers
 * and problem+json to clients that asked for JSON; request bodies may be
 * `application/x-www-form-urlencoded` (RFC 8058 one-click unsubscribe, HTML forms).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DomainError, notFound, payloadTooLarge, unsupportedMediaType, validationFailed } from '#domain/errors.ts';
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import { logger } from '#functions/middleware/logger.ts';
import { problemResponse } from '#functions/middleware/problem.ts';
import { lowerCaseHeaders, readJsonBody } from '#functions/middleware/request.ts';

const MAX_FORM_BYTES = 8 * 1024;

export interface PublicInput {
  token: string;
  /** The form body (throws 415/413 for anything else); read after the token is checked, so a bad link is a 404 whatever came with it. */
  form(): URLSearchParams;
  /** The body as fields: a form (as strings) or, when the request is `application/json`, the parsed JSON object (400 `malformed_json`). For routes with `json: true`. */
  fields(): { fields: Record<string, unknown>; fromForm: boolean };
  now: Date;
  /** The request's own URL path (a form posts back to it). */
  path: string;
}

export type PublicResult =
  /** `json`: what a client that asked for JSON gets instead of the page (default `{title}`). */
  | { kind: 'html'; status?: number; title: string; body: string; json?: unknown }
  | { kind: 'redirect'; location: string }
  | { kind: 'gif' };

export interface PublicOperation {
  run(input: PublicInput): Promise<PublicResult>;
  /** For the API reference: what the route does, its stable id, and what it answers (functions/openapi/document.ts). */
  summary: string;
  operationId: string;
  answers: 'page' | 'gif' | 'redirect';
  /** Accepts a form body (POST). */
  form?: true;
  /** Also accepts a JSON body (`fields()`). */
  json?: true;
}

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

export function publicFunction(operations: Record<string, PublicOperation>) {
  const dispatch = async (event: Event, _context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const headers = lowerCaseHeaders(event);
    const json = wantsJson(headers);
    try {
      const op = operations[event.routeKey];
      const token = event.pathParameters?.token;
      if (!op || !token) throw notFound('link');
      const form = () => (op.form ? readForm(event, headers) : new URLSearchParams());
      const fields = () => (op.form ? readFields(event, headers, !!op.json) : { fields: {}, fromForm: false });
      const result = await op.run({ token, form, fields, now: new Date(), path: event.rawPath });
      switch (result.kind) {
        case 'redirect':
          return { statusCode: 302, headers: { ...SECURITY_HEADERS, location: result.location }, body: '' };
        case 'gif':
          return { statusCode: 200, headers: { ...SECURITY_HEADERS, 'content-type': 'image/gif' }, body: PIXEL.toString('base64'), isBase64Encoded: true };
        case 'html':
          return json
            ? { statusCode: result.status ?? 200, headers: { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(result.json ?? { title: result.title }) }
            : { statusCode: result.status ?? 200, headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body: page(result.title, result.body) };
      }
    } catch (err) {
      const domain = err instanceof DomainError ? err : undefined;
      if (!domain) logger.error('unhandled error', { error: err as Error, routeKey: event.routeKey });
      const problem = domain ?? new DomainError(500, 'internal_error', 'Something went wrong on our side.');
      if (json) return problemResponse(problem);
      const title = problem.status === 404 ? 'This link is not valid' : problem.status < 500 ? 'This could not be done' : 'Something went wrong';
      return {
        statusCode: problem.status,
        headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' },
        body: page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(problem.message)}</p>`),
      };
    }
  };
  const handler = middy<Event, APIGatewayProxyStructuredResultV2>().handler(dispatch);
  return Object.assign(handler, { operations });
}
