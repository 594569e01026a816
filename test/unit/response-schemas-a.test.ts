/**
 * Every operation of the sales-side HTTP functions that answers a body declares its answer's
 * schema (`Operation.response`): what shapes the answer and what the OpenAPI document says.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import type { Operation } from '#functions/middleware/http-function.ts';
import { routeKey, routes, type HttpFunctionName } from '#functions/routes.ts';
import { httpHandlers } from '#local/registry.ts';
import { KEY_ATTRIBUTES } from '#domain/table/keys.ts';

const SALES_FUNCTIONS: HttpFunctionName[] = [
  'accounts', 'contacts', 'activities', 'tasks', 'users', 'pool', 'notifications', 'duplicates',
  'leads', 'quotes', 'orders', 'targets', 'pipelines', 'opportunities', 'analytics',
];

const salesRoutes = routes.filter((r) => SALES_FUNCTIONS.includes(r.fn));

/** Attributes of the table that never reach a client. A notification's `entityType` is its own field (what it is about). */
const INTERNAL = [...KEY_ATTRIBUTES.filter((k) => k !== 'entityType'), 'formerOwners', 'amountMinor', 'historyCount', 'stageVisits', 'memberOf'];

async function operationOf(route: (typeof routes)[number]): Promise<Operation> {
  const { handler } = (await httpHandlers[route.fn]()) as unknown as { handler: { operations: Record<string, Operation> } };
  const op = handler.operations[routeKey(route)];
  if (!op) throw new Error(`no operation for ${routeKey(route)}`);
  return op;
}

/** Every property name anywhere in a JSON Schema. */
function propertyNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((s) => propertyNames(s, out));
  else if (schema && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v && typeof v === 'object') Object.keys(v).forEach((name) => out.add(name));
      propertyNames(v, out);
    }
  }
  return out;
}

describe('response schemas of the sales functions', () => {
  it('covers every function named here', () => {
    expect(new Set(salesRoutes.map((r) => r.fn))).toEqual(new Set(SALES_FUNCTIONS));
  });

  // DELETE answers 204 and no body; every other route of these functions answers one.
  it.each(salesRoutes.filter((r) => r.method !== 'DELETE').map((r) => [routeKey(r), r] as const))('%s declares its answer', async (_key, route) => {
    const op = await operationOf(route);
    expect(op.response).toBeDefined();
    // The document describes it as sent: no transform or other shape JSON Schema cannot say.
    const json = z.toJSONSchema(op.response!, { io: 'output' });
    // Keys and internal attributes of the table never reach a client.
    const names = propertyNames(json);
    for (const internal of INTERNAL) expect(names).not.toContain(internal);
    // A list (it takes `limit`) answers a page.
    // Through the query's JSON Schema: the query schemas are z.lazy (built on first use, domain/fields.ts).
    const takesLimit = !!op.query && 'limit' in ((z.toJSONSchema(op.query, { io: 'input' }) as { properties?: object }).properties ?? {});
    if (takesLimit) expect(json).toMatchObject({ required: expect.arrayContaining(['items', 'nextCursor']) });
  });

  it('pool rules are one object, not a list', async () => {
    const rules = z.toJSONSchema((await operationOf({ method: 'GET', path: '/v1/pool/rules', fn: 'pool' })).response!, { io: 'output' });
    expect(propertyNames(rules)).toContain('releaseAfterDays');
    expect(propertyNames(rules)).not.toContain('items');
  });

  it.each(salesRoutes.filter((r) => r.method === 'DELETE').map((r) => [routeKey(r), r] as const))('%s answers 204 and declares none', async (_key, route) => {
    expect((await operationOf(route)).response).toBeUndefined();
  });
});
