/** Turning an API Gateway v2 event into validated input: body, query, path, If-Match. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { MAX, queryInt, text } from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import {
  malformedJson,
  payloadTooLarge,
  unsupportedMediaType,
  validationFailed,
  DomainError,
} from '#domain/errors.ts';

export const MAX_BODY_BYTES = 256 * 1024;

export function lowerCaseHeaders(event: APIGatewayProxyEventV2): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

/** Raw JSON of the body, after size, media type and syntax checks. `undefined` when there is no body. */
export function readJsonBody(event: APIGatewayProxyEventV2, headers: Record<string, string>, allowMergePatch: boolean, maxBytes = MAX_BODY_BYTES): unknown {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const bytes = Buffer.byteLength(raw, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes > maxBytes) throw payloadTooLarge(maxBytes);
  const mediaType = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const accepted = mediaType === 'application/json' || (allowMergePatch && mediaType === 'application/merge-patch+json');
  if (!accepted) throw unsupportedMediaType();
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  try {
    return JSON.parse(text);
  } catch {
    throw malformedJson();
  }
}

/**
 * The body's bytes when its media type is one of `mediaTypes` (an operation that takes a file:
 * `text/csv`); `undefined` for any other type, which is then read as JSON. API Gateway hands
 * text types over as text and the rest base64-encoded: either way these are the bytes sent.
 */
export function readRawBody(
  event: APIGatewayProxyEventV2,
  headers: Record<string, string>,
  mediaTypes: string[],
  maxBytes = MAX_BODY_BYTES,
): { bytes: Buffer; mediaType: string } | undefined {
  const mediaType = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!mediaTypes.includes(mediaType)) return undefined;
  const raw = event.body ?? '';
  const bytes = Buffer.from(raw, event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length > maxBytes) throw payloadTooLarge(maxBytes);
  return { bytes, mediaType };
}

// English messages in `errors[].message` (zod mini ships without a locale).
z.config(en());

export function validate<T>(schema: z.ZodMiniType<T>, input: unknown, where: 'body' | 'query' | 'path'): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw validationFailed(
    parsed.error.issues.map((issue) => ({
      path: [where, ...issue.path.map(String), ...('keys' in issue ? [(issue.keys as string[]).join(',')] : [])].join('.'),
      message: issue.message,
    })),
    `The ${where} is not valid.`,
  );
}

/** `If-Match: "3"` (or W/"3") → 3. Anything else is a 400: a client that sends If-Match means it. */
export function parseIfMatch(headers: Record<string, string>): number | undefined {
  const raw = headers['if-match'];
  if (raw === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(raw);
  if (!m) throw validationFailed([{ path: 'header.if-match', message: 'expected a quoted version, as in ETag' }]);
  return Number(m[1]);
}

export const etag = (version: number) => `"${version}"`;

/**
 * Query strings: strict, with the shared `limit` and `cursor` of every list. Built on first use
 * (domain/fields.ts): spread as `...listParams()` inside a query's z.lazy.
 */
export const listParams = builtOnFirstUse(() => ({
  limit: z._default(queryInt(1, MAX.page), 25),
  cursor: z.optional(text(1, MAX.cursor)),
}));

export function isDomainError(err: unknown): err is DomainError {
  return err instanceof DomainError;
}
