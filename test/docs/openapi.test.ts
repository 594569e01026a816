/**
 * The OpenAPI document the API serves (`GET /v1/openapi.json`): it describes every route of
 * functions/routes.ts, an integrator can use it (ids, summaries, tags, errors, servers, the
 * bearer scheme), and Redocly's recommended ruleset finds no error in it. What the routes
 * really answer against it: test/docs/responses.test.ts.
 */
import path from 'node:path';
import { lintFromString, loadConfig } from '@redocly/openapi-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument, routeCoverage, type BuiltDocument, type OpenApiDocument } from '#functions/openapi/document.ts';
import { apiDocument, documentedRoutes, loadOperations } from '#functions/openapi/operations.ts';
import { routeKey, routes, type Route } from '#functions/routes.ts';
import { call } from '#test/support/api.ts';
import { mismatches, SchemaValidator } from '#test/docs/support.ts';

let served: OpenApiDocument;
let built: BuiltDocument;

beforeAll(async () => {
  const res = await call(null, 'GET', '/v1/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  served = res.json as OpenApiDocument;
  built = await apiDocument();
});

const operationsOf = (doc: OpenApiDocument) =>
  Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, op })));

describe('GET /v1/openapi.json', () => {
  it('is the document the API builds, OpenAPI 3.1, served without a token', () => {
    expect(served.openapi).toMatch(/^3\.1\./);
    expect(served).toEqual(JSON.parse(JSON.stringify(built.document)));
  });

  it('describes every route of the route table but the reference page\'s own (openapi.routes.coverage = 1)', () => {
    const missing = documentedRoutes().filter((r) => served.paths[r.path]?.[r.method.toLowerCase()] === undefined).map(routeKey);
    expect(missing).toEqual([]);
    expect(routeCoverage(served, documentedRoutes())).toBe(1);
    // Only the page and its files are left out, and nothing the table does not have is in.
    expect(routes.filter((r) => !documentedRoutes().includes(r)).map(routeKey)).toEqual(['GET /docs', 'GET /docs/{asset}']);
    expect(operationsOf(served).map((o) => o.key).sort()).toEqual(documentedRoutes().map(routeKey).sort());
  });

  it('names each shared schema once: a resource every operation answers is one component, not one per operation', () => {
    const schemas = served.components?.schemas ?? {};
    const byContent = new Map<string, string[]>();
    for (const [name, schema] of Object.entries(schemas)) {
      const content = JSON.stringify(schema);
      byContent.set(content, [...(byContent.get(content) ?? []), name]);
    }
    expect([...byContent.values()].filter((names) => names.length > 1)).toEqual([]);
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['Account', 'Opportunity', 'Order', 'Problem']));
    expect(Object.keys(schemas).filter((n) => /^(Account|Opportunity|Order|Pipeline)\d+$/.test(n))).toEqual([]);
  });

  it('fails when a route of the table has no operation to describe it', async () => {
    const extra: Route = { method: 'GET', path: '/v1/not-served', fn: 'accounts' };
    const ops = await loadOperations();
    expect(() => buildOpenApiDocument([...routes, extra], ops)).toThrow(/GET \/v1\/not-served has no operation/);
    // …and a route missing from a document counts against the coverage.
    expect(routeCoverage(served, [...documentedRoutes(), extra])).toBeLessThan(1);
  });

  it('gives every operation a unique operationId, a summary, a tag, its error answers and its security', () => {
    const ids = new Set<string>();
    const tags = new Set(served.tags.map((t) => t.name));
    for (const { key, op } of operationsOf(served)) {
      expect(op.operationId, key).toMatch(/^[a-z][A-Za-z0-9]+$/);
      expect(ids.has(op.operationId), `${key}: operationId ${op.operationId} is not unique`).toBe(false);
      ids.add(op.operationId);
      expect(op.summary, key).toMatch(/^[A-Z].{5,}[^.]$/);
      expect(op.tags, key).toHaveLength(1);
      expect(tags.has(op.tags[0]!), `${key}: tag ${op.tags[0]} described`).toBe(true);
      // Every operation but the document itself (a static answer) can refuse something.
      if (key !== 'GET /v1/openapi.json') expect(Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)), `${key}: a 4xx`).toBe(true);
      expect(Object.keys(op.responses).some((s) => /^[23]\d\d$/.test(s)), `${key}: a success`).toBe(true);
      const isPublic = routes.find((r) => routeKey(r) === key)!.public;
      if (isPublic) {
        // A signed form post names its signature scheme; a capability link needs none.
        expect(op.security, key).toEqual(key === 'POST /in/forms/{id}' ? [{ formSignature: [] }] : []);
      } else {
        expect(op.security, `${key}: the document's bearer scheme applies`).toBeUndefined();
        for (const status of ['400', '401', '403', '404', '503']) expect(op.responses[status], `${key}: ${status}`).toBeDefined();
      }
    }
    expect(served.security).toEqual([{ bearer: [] }]);
    expect(served.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(served.components.securitySchemes.bearer).toMatchObject({ description: expect.stringMatching(/RFC8725/) });
    expect(served.servers).toEqual([{ url: '/', description: expect.any(String), 'x-internal': false }]);
  });

  it('declares the 503 timeout answer and the success status each operation really gives', () => {
    expect(served.components.responses.ServiceUnavailable).toMatchObject({ headers: { 'Retry-After': expect.anything() } });
    const op = (key: string) => {
      const [method, p] = key.split(' ') as [string, string];
      return served.paths[p]![method.toLowerCase()]!;
    };
    expect(Object.keys(op('POST /v1/accounts').responses)).toContain('201');
    expect(Object.keys(op('DELETE /v1/accounts/{id}').responses)).toContain('204');
    expect(Object.keys(op('GET /t/c/{token}').responses)).toContain('302');
    // A create that may find its resource already there answers 200 or 201.
    expect(Object.keys(op('POST /v1/suppressions').responses)).toEqual(expect.arrayContaining(['200', '201']));
    // The pool rules are one object, not a list: whatever its schema says, it is not made a page by its path.
    const rules = op('GET /v1/pool/rules').responses['200'] as { content: Record<string, { schema: { properties?: object } }> };
    expect(rules.content['application/json']!.schema.properties ?? {}).not.toHaveProperty('items');
  });

  it('every operation that answers a body declares its response schema (the document tells the truth)', () => {
    expect(built.missingResponseSchemas, 'declare `response` on these operations').toEqual([]);
  });
});

describe('the truth check of test/docs/responses.test.ts', () => {
  it('catches a body its schema refuses, an undeclared status or media type, a problem that is not one, a required header missing', () => {
    const route = { method: 'GET', path: '/v1/pool/rules' } as const;
    const doc = structuredClone(served);
    doc.paths['/v1/pool/rules']!.get!.responses['200'] = {
      description: 'the rules',
      content: { 'application/json': { schema: { type: 'object', required: ['releaseAfterDays'], properties: { releaseAfterDays: { type: 'integer' } } } } },
    };
    const v = new SchemaValidator(doc);
    const limits = { ratelimit: '"tenant";r=9;t=30', 'ratelimit-policy': '"tenant";q=10;w=60' };
    const answer = (status: number, contentType: string, json: unknown, headers: Record<string, string> = limits) =>
      ({ status, headers: { 'content-type': contentType, ...headers }, body: JSON.stringify(json), json });
    expect(mismatches(doc, v, route, answer(200, 'application/json', { releaseAfterDays: 30 }))).toEqual([]);
    expect(mismatches(doc, v, route, answer(200, 'application/json', { releaseAfterDays: '30' }))).not.toEqual([]);
    expect(mismatches(doc, v, route, answer(200, 'application/json', {}))).not.toEqual([]);
    expect(mismatches(doc, v, route, answer(418, 'application/json', {}))[0]).toMatch(/status 418 is not declared/);
    expect(mismatches(doc, v, route, answer(200, 'text/html', 'hi'))[0]).toMatch(/does not declare text\/html/);
    const problem = { type: 'https://crm.example.com/problems/not-found', title: 'Not Found', status: 404, detail: 'No such thing.', code: 'not_found' };
    expect(mismatches(doc, v, route, answer(404, 'application/problem+json', problem))).toEqual([]);
    expect(mismatches(doc, v, route, answer(404, 'application/problem+json', { ...problem, code: undefined }))).not.toEqual([]);
    // The error components declare the rate-limit headers required.
    expect(mismatches(doc, v, route, answer(404, 'application/problem+json', problem, {}))[0]).toMatch(/required header RateLimit/);
  });
});

describe("Redocly's recommended ruleset", () => {
  it('finds no error in the served document', async () => {
    const config = await loadConfig({ configPath: path.join(import.meta.dirname, '..', '..', 'redocly.yaml') });
    const problems = await lintFromString({ source: JSON.stringify(served), absoluteRef: 'openapi.json', config });
    const errors = problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`);
    expect(errors).toEqual([]);
  });
});
