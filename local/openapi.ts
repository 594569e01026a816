/**
 * Generates docs/openapi.json from the route table and each operation's zod schemas,
 * so the document describes exactly what the handlers validate. `npm run openapi`
 * rewrites it; a test fails when the committed copy is stale.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod/mini';
import type { Operation } from '#functions/middleware/http-function.ts';
import { routeKey, routes } from '#functions/routes.ts';
import { httpHandlers } from '#local/registry.ts';

const problem = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'stable snake_case code clients switch on' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

/** Bodies as clients send them; query parameters as validated (a string `limit` is coerced to an integer). */
const jsonSchema = (schema: z.ZodMiniType, io: 'input' | 'output' = 'input') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const errorResponses = (codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Problem${c}` }]));

export async function buildOpenApi(): Promise<Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { handler } = (await httpHandlers[route.fn]()) as unknown as { handler: { operations: Record<string, Operation> } };
    const op = handler.operations[routeKey(route)];
    if (!op) throw new Error(`route ${routeKey(route)} has no operation in functions/http/${route.fn}.ts`);
    const parameters: unknown[] = [];
    for (const name of route.path.match(/\{(\w+)\}/g) ?? []) {
      parameters.push({ name: name.slice(1, -1), in: 'path', required: true, schema: { type: 'string' } });
    }
    if (op.query) {
      const q = jsonSchema(op.query, 'output') as { properties?: Record<string, unknown> };
      const asSent = jsonSchema(op.query) as { required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: asSent.required?.includes(name) ?? false, schema });
      }
    }
    if (route.method === 'PATCH' || route.method === 'DELETE') {
      parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'the ETag of the version being changed; a stale one → 412' });
    }
    if (route.method === 'POST') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 }, description: 'repeats within 24 h return the first response' });
    }
    const success = op.accepted ? '202' : op.creates ? '201' : route.method === 'DELETE' ? '204' : route.path.startsWith('/t/c/') ? '302' : '200';
    // A GET of one record ends in its `{id}`; `/v1/targets/{period}` is a list of the month's targets.
    const isList = route.method === 'GET' && !route.path.endsWith('{id}') && !route.path.endsWith('/360');
    const okSchema = isList
      ? { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: { type: 'object' } }, nextCursor: { type: ['string', 'null'] } } }
      : { type: 'object' };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/\/v1|[{}]/g, '').split('/').map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('')}`,
      tags: [route.fn],
      // A public route proves itself by the signed token in its path, not a bearer token.
      security: route.public ? [] : [{ bearer: [] }],
      parameters,
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: {
                ...Object.fromEntries(
                  (route.method === 'PATCH' ? ['application/json', 'application/merge-patch+json'] : ['application/json']).map((t) => [t, { schema: jsonSchema(op.body!) }]),
                ),
                // A file as the body itself (a CSV import): its bytes, the options in the query.
                ...Object.fromEntries((op.rawBody ?? []).map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
              },
            },
          }
        : {}),
      responses: {
        [success]: success === '204'
          ? { description: 'done' }
          : route.public
            ? { description: publicResponse(route.path) }
            : op.file
              ? { description: 'a file', content: { 'text/csv': { schema: { type: 'string' } } } }
              : { description: 'OK', content: { 'application/json': { schema: okSchema } } },
        ...errorResponses([400, 401, 403, 404, 409, 412, 413, 415]),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'CRM API', version: '1', description: 'Generated from functions/routes.ts and the handlers\' zod schemas. The contract in prose: ../shared/API.md; choices where it is silent: docs/api-decisions.md.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Problem: problem },
      responses: Object.fromEntries(
        [400, 401, 403, 404, 409, 412, 413, 415].map((c) => [`Problem${c}`, { description: 'problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }]),
      ),
    },
    paths,
  };
}

/** What a public route answers (HTML, an image, a redirect: not JSON). */
function publicResponse(path: string): string {
  if (path.startsWith('/t/o/')) return 'a 1×1 image/gif; the open is recorded';
  if (path.startsWith('/t/c/')) return 'a redirect to the link of the campaign the token names; the click is recorded';
  return 'a text/html page (application/json when the request asked for JSON)';
}

export const OPENAPI_PATH = path.join(import.meta.dirname, '..', 'docs', 'openapi.json');

if (process.argv[1] === import.meta.filename) {
  await writeFile(OPENAPI_PATH, `${JSON.stringify(await buildOpenApi(), null, 2)}\n`);
  console.log(`wrote ${OPENAPI_PATH}`);
}
