/**
 * The OpenAPI 3.1 document of the API, built from the route table (functions/routes.ts) and
 * each route's operation: its `body` and `query` as clients send them (zod's JSON Schema of the
 * input), its `params`, and its `response` as the API answers it (the output: the same schema
 * `respond()` shapes the answer with). Nothing here is written by hand per route but the
 * summaries derivation cannot phrase well (`summaries.ts`).
 *
 * Pure: it takes the operations (functions/openapi/operations.ts loads them) and returns the
 * document plus what it could not describe yet (`missingResponseSchemas`).
 */
import * as z from 'zod/mini';
import { MAX } from '#domain/fields.ts';
import { MAX_FIELD_ERRORS } from '#domain/errors.ts';
import { routeKey, type Route } from '#functions/routes.ts';
import { describeRoute, tagOf, TAGS } from '#functions/openapi/summaries.ts';

export type JsonSchema = Record<string, unknown>;

/** What a route that does not answer JSON answers. */
export type NonJsonAnswer =
  /** An HTML page, or JSON when the request asks for JSON (the public routes of public-function.ts). */
  | 'page'
  /** An HTML page only. */
  | 'html'
  /** A 1×1 image/gif. */
  | 'gif'
  /** A 302 to another address. */
  | 'redirect'
  /** A static file (the reference page's scripts). */
  | 'asset';

/** What the document needs of an operation; httpFunction, publicFunction and the docs function provide it. */
export interface DescribedOperation {
  /** One line, imperative ("Create an account"); derived from the route when absent (summaries.ts). */
  summary?: string;
  /** Stable and unique; derived from the route when absent. */
  operationId?: string;
  description?: string;
  body?: z.ZodMiniType;
  query?: z.ZodMiniType;
  params?: z.ZodMiniType;
  response?: z.ZodMiniType;
  creates?: unknown;
  outcome?: unknown;
  /** Answers 202 with a Location: the work goes on in the background (a CSV import). */
  accepted?: string;
  /** Media types the body may also come in as bytes (a CSV file), the options in the query. */
  rawBody?: string[];
  /** Answers a file (CSV) instead of JSON. */
  file?: true;
  /** For routes that answer something other than JSON. */
  answers?: NonJsonAnswer;
  /** Public routes: accepts a form body (and `json`: a JSON body too). */
  form?: true;
  json?: true;
  /** Not part of the API an integrator calls (the reference page and its files): left out of the document. */
  hidden?: true;
  /** Answers no error for anything a client sends (a public, static answer: the document itself). */
  neverFails?: true;
  /** A public route called by machines: JSON answers (`response`, with these statuses) and problem+json errors. */
  jsonOnly?: true;
  /** A public route that proves itself by a Standard Webhooks signature of its body (`formSignature`). */
  signed?: true;
  jsonStatuses?: (200 | 201)[];
}

export interface BuiltDocument {
  document: OpenApiDocument;
  /**
   * Route keys of operations that answer a JSON body but declare no `response` schema yet: the
   * document says `{type: object}` for them, which tells an integrator nothing.
   */
  missingResponseSchemas: string[];
}

export interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  servers: { url: string; description?: string; 'x-internal'?: boolean }[];
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OperationObject>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, unknown>;
    headers: Record<string, unknown>;
    securitySchemes: Record<string, unknown>;
  };
}

export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

const PROBLEM = 'application/problem+json';
const JSON_TYPE = 'application/json';
const ID_SCHEMA: JsonSchema = { type: 'string', minLength: 1, maxLength: MAX.id, pattern: '^[A-Za-z0-9_-]+$' };
/** A public route's path token (public-function.ts: a longer one is a bad link). */
const TOKEN_SCHEMA: JsonSchema = { type: 'string', minLength: 1, maxLength: MAX.token, pattern: '^[^/]+$' };
/** A header holding an address (Location), or a short machine value (ETag, Cache-Control). */
const URL_HEADER: JsonSchema = { type: 'string', format: 'uri-reference', maxLength: MAX.url };
const WORD_HEADER: JsonSchema = { type: 'string', maxLength: MAX.code };
/**
 * Bodies that are not JSON, bounded by what the API sends or takes: its own pages are small; a
 * file (an export, the reference page's scripts) fits Lambda's 6 MB answer, and an import's raw
 * body is at most 5 MiB (domain/integrations/import.ts MAX_CSV_BYTES); the pixel is a 43-byte GIF.
 */
const MAX_PAGE_CHARS = 100_000;
const MAX_FILE_BYTES = 6 * 1024 * 1024;
const htmlSchema: JsonSchema = { type: 'string', maxLength: MAX_PAGE_CHARS };

/** RFC 9457 problem details, as functions/middleware/problem.ts writes them. */
export const problemSchema: JsonSchema = {
  type: 'object',
  description:
    'An error (RFC 9457 problem details). `code` is a stable snake_case word to switch on; a `409` may carry ' +
    'more fields about the conflict (a duplicate: `existingId`, `inPool`, `ownerId`).',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri', maxLength: MAX.url },
    title: { type: 'string', maxLength: MAX.name },
    status: { type: 'integer', format: 'int32', minimum: 400, maximum: 599 },
    detail: { type: 'string', maxLength: MAX.freeText },
    code: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', maxLength: MAX.code },
    errors: {
      type: 'array',
      description: `One entry per invalid field (\`validation_failed\`), the first ${MAX_FIELD_ERRORS}.`,
      maxItems: MAX_FIELD_ERRORS,
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string', maxLength: MAX.freeText }, message: { type: 'string', maxLength: MAX.freeText } },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: true,
};

/** The error answers of the API: status → component name, and the codes each carries. */
const ERRORS = {
  400: { name: 'BadRequest', codes: 'validation_failed (with `errors`), invalid_cursor, malformed_json' },
  401: {
    name: 'Unauthorized',
    codes: 'unauthenticated: no valid bearer token. In the cloud API Gateway\'s JWT authorizer answers `{"message":"Unauthorized"}` (application/json) before the API runs',
  },
  403: { name: 'Forbidden', codes: 'forbidden: the role may never do this' },
  404: { name: 'NotFound', codes: 'not_found: no such resource, or not visible to the caller' },
  409: {
    name: 'Conflict',
    codes:
      'conflicts with the current state: duplicate, idempotency_key_reused, concurrent_update, invalid_transition, ' +
      'pool_cap_reached, claim_limit_reached, claim_cooldown, not_in_pool, lock_limit_reached, overpayment, stage_in_use, ' +
      'already_answered, suppression_locked, …',
  },
  412: { name: 'PreconditionFailed', codes: 'version_mismatch: If-Match names an older version' },
  413: { name: 'PayloadTooLarge', codes: 'payload_too_large: the body is over 256 KB' },
  415: { name: 'UnsupportedMediaType', codes: 'unsupported_media_type: the body is not application/json' },
  429: {
    name: 'TooManyRequests',
    codes:
      'rate_limited: the tenant, the API key or (public routes) the client IP made more requests this minute than its limit; ' +
      'Retry-After says in how many seconds the window resets (the RateLimit header names the policy at 0)',
  },
  503: {
    name: 'ServiceUnavailable',
    codes: 'timeout: the request ran out of time; retry it with the same Idempotency-Key (Retry-After says when)',
  },
} as const satisfies Record<number, { name: string; codes: string }>;
type ErrorStatus = keyof typeof ERRORS;

const problemContent = { [PROBLEM]: { schema: { $ref: '#/components/schemas/Problem' } } };

/**
 * The rate-limit headers (functions/middleware/rate-limit.ts), as draft-ietf-httpapi-ratelimit-headers-11
 * defines them: on every answer of a caller the API knows (a tenant, an API key, or on public routes a client IP).
 */
const RATE_LIMIT_HEADERS = {
  RateLimit: {
    description:
      'What is left of each policy in force: `"tenant";r=<requests left>;t=<seconds until the window resets>`, and ' +
      '`"apikey";…` for an API key (a Structured Fields list, draft-ietf-httpapi-ratelimit-headers-11). Public routes: `"ip";…`.',
    schema: { type: 'string', maxLength: 200, examples: ['"tenant";r=942;t=17'] },
  },
  'RateLimit-Policy': {
    description:
      'The policies in force: `"tenant";q=<requests a minute>;w=60`, plus `"apikey";q=…;w=60` for an API key ' +
      '(`GET /v1/rate-limits` shows them; an admin changes them with `PUT`). Public routes: `"ip";q=600;w=60` per client IP.',
    schema: { type: 'string', maxLength: 200, examples: ['"tenant";q=1000;w=60'] },
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 3600 } },
};

const rateLimitHeaderRefs = (required: boolean) =>
  Object.fromEntries(
    (['RateLimit', 'RateLimit-Policy'] as const).map((name) => [
      name,
      required ? { $ref: `#/components/headers/${name}` } : { ...RATE_LIMIT_HEADERS[name], required: false },
    ]),
  );

function headerComponents(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(RATE_LIMIT_HEADERS).map(([name, h]) => [name, { ...h, required: true }]));
}

function errorComponents(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, { name, codes }] of Object.entries(ERRORS)) {
    out[name] = {
      description: `${status}: ${codes}.`,
      content:
        status === '401'
          ? { ...problemContent, [JSON_TYPE]: { schema: { type: 'object', properties: { message: { type: 'string', const: 'Unauthorized' } } } } }
          : problemContent,
      headers: {
        // A 401 may come from API Gateway's authorizer, before the API (and its limiter) runs.
        ...rateLimitHeaderRefs(status !== '401'),
        ...(status === '429' || status === '503' ? { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } : {}),
      },
    };
  }
  // Public routes answer browsers with a page and clients that asked for JSON with problem+json.
  out.PublicError = {
    description:
      'An HTML page saying what went wrong, or problem+json when the request asked for JSON (404 not_found: the link is not valid; ' +
      '429 rate_limited: too many requests from this client IP this minute, see Retry-After).',
    content: { 'text/html': { schema: htmlSchema }, ...problemContent },
    headers: { ...rateLimitHeaderRefs(true), 'Retry-After': { ...RATE_LIMIT_HEADERS['Retry-After'], required: false, description: 'On a 429: seconds to wait.' } },
  };
  return out;
}

/** The errors an operation can answer, by what it is. */
function errorStatuses(route: Route, op: DescribedOperation): ErrorStatus[] | 'public' {
  // Even a static answer is refused past its client IP's limit.
  if (op.neverFails) return [429];
  // A machine's public route: a bad signature is 401 (an unknown target looks the same), then the body's checks.
  if (op.jsonOnly) return [400, 401, 413, 415, 429];
  if (route.public) return 'public';
  const statuses: ErrorStatus[] = [400, 401, 403, 404];
  if (route.method !== 'GET') statuses.push(409);
  if (route.method === 'PATCH' || route.method === 'DELETE' || route.method === 'PUT') statuses.push(412);
  if (op.body) statuses.push(413, 415);
  statuses.push(429, 503);
  return statuses;
}

// ---------------------------------------------------------------------------------------
// zod → JSON Schema, with shared definitions lifted into components

class SchemaCollector {
  readonly components: Record<string, JsonSchema> = {};
  /** Each component's name by its content: a schema met again (every operation of a resource) is one component. */
  private readonly nameOf = new Map<string, string>();

  /** The JSON Schema of `schema`; its `$defs` become components (refs rewritten to them). */
  convert(schema: z.ZodMiniType, io: 'input' | 'output', nameHint: string): JsonSchema {
    const raw = withIntegerFormats(z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' })) as JsonSchema;
    const { $schema: _dialect, $defs, ...root } = raw as JsonSchema & { $defs?: Record<string, JsonSchema> };
    // Each definition by its local ref; a schema that refers to itself (`#`) is a component of its own.
    const defs: [ref: string, name: string, def: JsonSchema][] = Object.entries($defs ?? {}).map(([name, def]) => [`#/$defs/${name}`, name, def]);
    const selfRef = JSON.stringify(root).includes('"$ref":"#"');
    if (selfRef) defs.push(['#', nameHint, root]);

    // Content is compared with every ref pointing at its definition's own name, so the same schema
    // converted for two operations compares equal; a different schema under a taken name gets another.
    const asNamed = new Map(defs.map(([ref, name]) => [ref, `#/components/schemas/${clean(name)}`]));
    const renames = new Map<string, string>();
    const fresh: [target: string, def: JsonSchema][] = [];
    for (const [ref, name, def] of defs) {
      const content = JSON.stringify(rewriteRefs(def, asNamed));
      let chosen = this.nameOf.get(content);
      if (!chosen) {
        chosen = this.reserve(clean(name), io);
        this.nameOf.set(content, chosen);
        fresh.push([chosen, def]);
      }
      renames.set(ref, `#/components/schemas/${chosen}`);
    }
    for (const [name, def] of fresh) this.components[name] = rewriteRefs(def, renames) as JsonSchema;
    return selfRef ? { $ref: renames.get('#')! } : (rewriteRefs(root, renames) as JsonSchema);
  }

  /** A free component name: the schema's own, then `…Input` for a request's form, then numbered. */
  private reserve(name: string, io: 'input' | 'output'): string {
    const candidates = io === 'input' ? [name, `${name}Input`] : [name];
    let chosen = candidates.find((c) => !(c in this.components));
    for (let i = 2; !chosen; i++) if (!(`${name}${i}` in this.components)) chosen = `${name}${i}`;
    this.components[chosen] = {};
    return chosen;
  }
}

const clean = (name: string) => name.replace(/[^A-Za-z0-9._-]/g, '_');

const INT32 = 2 ** 31;

/**
 * zod states an integer's bounds (at least JavaScript's safe range) but not its OpenAPI format:
 * `int32` when the bounds fit 32 bits, else `int64` (a safe integer always fits 64).
 */
function withIntegerFormats(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withIntegerFormats);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withIntegerFormats(v);
  const types = [out.type].flat();
  if (types.includes('integer') && out.format === undefined) {
    const fits = (n: unknown) => typeof n === 'number' && n >= -INT32 && n < INT32;
    out.format = fits(out.minimum ?? out.exclusiveMinimum) && fits(out.maximum ?? out.exclusiveMaximum) ? 'int32' : 'int64';
  }
  return out;
}

function rewriteRefs(value: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renames));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === '$ref' && typeof v === 'string' && renames.has(v) ? renames.get(v) : rewriteRefs(v, renames);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The document

const pascal = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export interface DocumentOptions {
  /** `info.version`; default "1". */
  version?: string;
}

export function buildOpenApiDocument(routes: readonly Route[], operations: ReadonlyMap<string, DescribedOperation>, opts: DocumentOptions = {}): BuiltDocument {
  const schemas = new SchemaCollector();
  const paths: OpenApiDocument['paths'] = {};
  const missingResponseSchemas: string[] = [];
  const operationIds = new Map<string, string>();
  const usedTags = new Set<string>();

  for (const route of routes) {
    const key = routeKey(route);
    const op = operations.get(key);
    if (!op) throw new Error(`route ${key} has no operation in functions/http/${route.fn}.ts`);
    if (op.hidden) continue;
    const derived = describeRoute(route);
    const operationId = op.operationId ?? derived.operationId;
    const clash = operationIds.get(operationId);
    if (clash) throw new Error(`operationId ${operationId} of ${key} is also that of ${clash}: give one of them its own`);
    operationIds.set(operationId, key);
    const tag = tagOf(route);
    usedTags.add(tag);
    const hint = pascal(operationId);

    const parameters: unknown[] = [];
    const paramsSchema = op.params ? (schemas.convert(op.params, 'input', `${hint}Params`) as { properties?: Record<string, JsonSchema> }) : undefined;
    for (const [, name] of route.path.matchAll(/\{(\w+)\}/g)) {
      parameters.push({
        name,
        in: 'path',
        required: true,
        schema: paramsSchema?.properties?.[name!] ?? (route.public ? TOKEN_SCHEMA : ID_SCHEMA),
      });
    }
    if (op.query) {
      // The values as validated (a `limit` sent as text is an integer); required as sent.
      const validated = schemas.convert(op.query, 'output', `${hint}Query`) as { properties?: Record<string, JsonSchema> };
      const asSent = schemas.convert(op.query, 'input', `${hint}Query`) as { required?: string[] };
      for (const [name, schema] of Object.entries(validated.properties ?? {})) {
        const { description, ...rest } = schema as JsonSchema & { description?: string };
        parameters.push({ name, in: 'query', required: asSent.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) });
      }
    }
    if (!route.public) {
      if (route.method === 'PATCH' || route.method === 'DELETE' || route.method === 'PUT') {
        parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string', pattern: '^(W/)?"\\d+"$', maxLength: 14 }, description: 'The ETag of the version being changed; a stale one answers 412 and changes nothing.' });
      }
      if (route.method === 'POST') {
        parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255 }, description: 'A repeat by the same user within 24 h answers the first response again and does nothing twice.' });
      }
    }

    const operation: OperationObject = {
      operationId,
      summary: op.summary ?? derived.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [tag],
      ...(route.public ? { security: op.signed ? [{ formSignature: [] }] : [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...requestBodyOf(route, op, schemas, hint),
      responses: {},
    };

    // Success answers.
    if (op.answers) {
      Object.assign(operation.responses, nonJsonResponses(op.answers, op.response && schemas.convert(op.response, 'output', `${hint}Response`)));
    } else if (op.jsonOnly) {
      if (!op.response) missingResponseSchemas.push(key);
      const schema = op.response ? schemas.convert(op.response, 'output', `${hint}Response`) : { type: 'object' };
      for (const status of op.jsonStatuses ?? [200]) {
        operation.responses[String(status)] = { description: status === 201 ? 'Created.' : 'OK', content: { [JSON_TYPE]: { schema } } };
      }
    } else if (op.file) {
      operation.responses['200'] = { description: 'The file: UTF-8 CSV with a BOM (Excel opens it as it is).', content: { 'text/csv': { schema: { type: 'string', maxLength: MAX_FILE_BYTES } } } };
      if (op.response) {
        // A file that may be stored instead (an export too large for an answer): its link.
        const link = schemas.convert(op.response, 'output', `${hint}Link`);
        operation.responses['200'] = {
          description: 'The file: UTF-8 CSV with a BOM (Excel opens it as it is); with `Accept: application/json`, the link that downloads it.',
          content: { 'text/csv': { schema: { type: 'string', maxLength: MAX_FILE_BYTES } }, [JSON_TYPE]: { schema: link } },
        };
        operation.responses['303'] = {
          description: 'The file is too large to answer here: it is stored, and Location downloads it (a GET with no other credential) for 15 minutes.',
          headers: { Location: { description: 'Where to download the file.', schema: { type: 'string', format: 'uri', maxLength: MAX.presignedUrl } } },
        };
      }
    } else if (op.accepted) {
      if (!op.response) missingResponseSchemas.push(key);
      const schema = op.response ? schemas.convert(op.response, 'output', `${hint}Response`) : { type: 'object' };
      operation.responses['202'] = {
        description: 'Accepted: it runs in the background; Location is where to follow it.',
        headers: { Location: { description: 'Where to follow it.', schema: URL_HEADER } },
        content: { [JSON_TYPE]: { schema } },
      };
    } else {
      const answersBody = !(route.method === 'DELETE' && !op.response);
      if (answersBody && !op.response) missingResponseSchemas.push(key);
      const schema = op.response ? schemas.convert(op.response, 'output', `${hint}Response`) : { type: 'object' };
      // `outcome` without `creates`: a 201 with no resource to point at (an upload URL), so no Location.
      const created = op.creates !== undefined || op.outcome !== undefined;
      if (!answersBody) operation.responses['204'] = { description: 'Done; no body.' };
      if (answersBody && (!created || (op.creates !== undefined && op.outcome))) {
        operation.responses['200'] = { description: created ? 'It was already there: the resource as it is.' : 'OK', content: { [JSON_TYPE]: { schema } } };
      }
      if (answersBody && created) {
        operation.responses['201'] = {
          description: 'Created.',
          ...(op.creates !== undefined ? { headers: { Location: { description: 'Where the new resource is.', schema: URL_HEADER } } } : {}),
          content: { [JSON_TYPE]: { schema } },
        };
      }
    }

    // Error answers.
    const errors = errorStatuses(route, op);
    if (errors === 'public') {
      operation.responses['404'] = { $ref: '#/components/responses/PublicError' };
      operation.responses['429'] = { $ref: '#/components/responses/PublicError' };
      if (op.form) {
        for (const status of [400, 409, 413, 415]) operation.responses[String(status)] = { $ref: '#/components/responses/PublicError' };
      }
    } else {
      for (const status of errors) operation.responses[String(status)] = { $ref: `#/components/responses/${ERRORS[status].name}` };
    }

    // Every answer of a known caller carries the rate-limit headers (the error components declare them too).
    for (const response of Object.values(operation.responses) as { $ref?: string; headers?: Record<string, unknown> }[]) {
      if (!response.$ref) response.headers = { ...response.headers, ...rateLimitHeaderRefs(true) };
    }

    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }

  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: 'CRM API',
      version: opts.version ?? '1',
      summary: 'Sales, marketing and service CRM: accounts, the public pool, opportunities, campaigns, tickets.',
      description:
        'Generated from the route table and the zod schemas the handlers validate with and shape their answers by, ' +
        'so it describes exactly what the API does. JSON in and out, camelCase; errors are `application/problem+json` ' +
        'with a stable `code`. Lists answer `{items, nextCursor}`; pass `cursor` back to walk them. ' +
        'Requests are rate-limited per tenant and per API key (`GET /v1/rate-limits`): every answer carries the ' +
        '`RateLimit` and `RateLimit-Policy` headers, and past a limit the API answers `429 rate_limited` with `Retry-After`.',
      contact: { name: 'CRM API maintainers', url: 'https://crm.example.com/support' },
      license: { name: 'Proprietary', url: 'https://crm.example.com/terms' },
    },
    // Relative: the document is served by the API it describes, so its own address is the API's, whatever the stage.
    servers: [
      {
        url: '/',
        description: 'The API that serves this document: production, a staging stage or the local runtime alike (each serves its own).',
        'x-internal': false,
      },
    ],
    security: [{ bearer: [] }],
    tags: TAGS.filter((t) => usedTags.has(t.name)).concat(
      [...usedTags].filter((t) => !TAGS.some((d) => d.name === t)).map((name) => ({ name, description: name })),
    ),
    paths,
    components: {
      schemas: { Problem: problemSchema, ...schemas.components },
      responses: errorComponents(),
      headers: { ...headerComponents(), [CORS_HEADER]: corsHeader },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A Cognito ID token (a JWT carrying the tenant, the user, the role and the team) or an API key `crm_…`. ' +
            'Tokens are verified as RFC8725 (JSON Web Token Best Current Practices) asks (functions/auth/authorizer.ts, ' +
            'aws-jwt-verify): the signature must be by a key of the user pool\'s published JWKS named by the header\'s `kid`, ' +
            'with an asymmetric algorithm (RS256 as Cognito signs; the JWK\'s own `alg` must match; `none` and HMAC ' +
            'algorithms are refused); the issuer must be the user pool, the audience its app client, `token_use` must be ' +
            '`id` (an access token is refused), and `exp` (required) and `nbf` are checked with no grace. ' +
            'An API key is not a JWT: an opaque random secret, looked up by its SHA-256 hash.',
        },
        formSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'webhook-signature',
          description:
            'A public form\'s post is signed as Standard Webhooks sign: `webhook-signature` is the HMAC-SHA256 of ' +
            '`webhook-id`.`webhook-timestamp`.body under the form\'s secret (current, or the previous one during a ' +
            'rotation); a timestamp more than 5 minutes off is refused, and a repeated `webhook-id` answers its first answer again.',
        },
      },
    },
  };
  withCorsHeader(document);
  return { document, missingResponseSchemas };
}

const CORS_HEADER = 'Access-Control-Allow-Origin';
const corsHeader = {
  description:
    'Set by API Gateway\'s CORS configuration (infra/api-stack.ts `corsAllowOrigins`, default `*`) on answers to a request ' +
    'that names an `Origin`; the local runtime does not send it.',
  schema: { type: 'string', maxLength: MAX.url },
};

/** Every answer, and every error answer of the components, declares the CORS header API Gateway adds. */
function withCorsHeader(document: OpenApiDocument): void {
  const add = (response: Record<string, unknown>) => {
    if (response.$ref) return;
    response.headers = { ...(response.headers as object | undefined), [CORS_HEADER]: { $ref: `#/components/headers/${CORS_HEADER}` } };
  };
  for (const ops of Object.values(document.paths)) {
    for (const op of Object.values(ops)) for (const response of Object.values(op.responses)) add(response as Record<string, unknown>);
  }
  for (const response of Object.values(document.components.responses)) add(response as Record<string, unknown>);
}

function requestBodyOf(route: Route, op: DescribedOperation, schemas: SchemaCollector, hint: string): Pick<OperationObject, 'requestBody'> {
  if (route.public && op.jsonOnly && op.body) {
    return { requestBody: { required: true, content: { [JSON_TYPE]: { schema: schemas.convert(op.body, 'input', `${hint}Body`) } } } };
  }
  if (route.public) {
    if (!op.form) return {};
    const form = { type: 'object', additionalProperties: { type: 'string', maxLength: MAX.freeText } };
    return {
      requestBody: {
        required: false,
        content: {
          'application/x-www-form-urlencoded': { schema: form },
          ...(op.json ? { [JSON_TYPE]: { schema: { type: 'object' } } } : {}),
        },
      },
    };
  }
  if (!op.body) return {};
  const schema = schemas.convert(op.body, 'input', `${hint}Body`);
  const types = route.method === 'PATCH' ? [JSON_TYPE, 'application/merge-patch+json'] : [JSON_TYPE];
  const content: Record<string, unknown> = Object.fromEntries(types.map((t) => [t, { schema }]));
  // A file as the body itself (a CSV import): its bytes, the options in the query.
  for (const t of op.rawBody ?? []) content[t] = { schema: { type: 'string', contentMediaType: t, maxLength: MAX_FILE_BYTES } };
  return { requestBody: { required: true, content } };
}

function nonJsonResponses(answers: NonJsonAnswer, json: JsonSchema = { type: 'object' }): Record<string, unknown> {
  switch (answers) {
    case 'page':
      return {
        '200': {
          description: 'An HTML page; JSON when the request asked for JSON (`Accept` or `Content-Type: application/json`).',
          content: { 'text/html': { schema: htmlSchema }, [JSON_TYPE]: { schema: json } },
        },
      };
    case 'html':
      return { '200': { description: 'An HTML page.', content: { 'text/html': { schema: htmlSchema } } } };
    case 'gif':
      return { '200': { description: 'A transparent 1×1 GIF.', content: { 'image/gif': { schema: { type: 'string', contentMediaType: 'image/gif', maxLength: 64 } } } } };
    case 'redirect':
      return { '302': { description: 'A redirect to the address the link stands for.', headers: { Location: { description: 'Where to go.', schema: { ...URL_HEADER, format: 'uri' } } } } };
    case 'asset':
      return {
        '200': {
          description: 'The file (cacheable; its ETag changes with its content).',
          headers: {
            ETag: { description: 'The file\'s version.', schema: WORD_HEADER },
            'Cache-Control': { description: 'How long to keep it.', schema: WORD_HEADER },
          },
          content: { 'text/javascript': { schema: { type: 'string', maxLength: MAX_FILE_BYTES } }, 'text/css': { schema: { type: 'string', maxLength: MAX_FILE_BYTES } } },
        },
        '304': { description: 'Not modified (If-None-Match named the current ETag).' },
      };
  }
}

/** Routes of the table the document describes, over all routes (the `openapi.routes.coverage` figure). */
export function routeCoverage(document: OpenApiDocument, routes: readonly Route[]): number {
  if (routes.length === 0) return 1;
  const described = routes.filter((r) => document.paths[r.path]?.[r.method.toLowerCase()] !== undefined);
  return described.length / routes.length;
}
