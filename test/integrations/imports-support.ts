/** Helpers for the CSV import tests: raw-byte requests through the local router, running an import to its end. */
import { expect } from 'vitest';
import { createRouter } from '#local/router.ts';
import { tokenFor, type Caller } from '#test/support/api.ts';
import { api, listAll, send, type Sent } from '#test/support/fixtures.ts';
import { runImport, type RunOptions } from '#domain/integrations/import-runner.ts';

const route = createRouter();

/** POST /v1/imports with the CSV as the raw body (bytes as given), options in the query. */
export async function postRaw(caller: Caller, bytes: Buffer, query: string, contentType = 'text/csv'): Promise<Sent> {
  const res = await route({
    method: 'POST',
    url: `/v1/imports?${query}`,
    headers: { authorization: `Bearer ${await tokenFor(caller)}`, 'content-type': contentType },
    body: bytes,
  });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  expect(res.status, `raw import answered ${res.status}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
  return { ...res, json, req: `POST /v1/imports?${query} (raw ${contentType})` };
}

export const now = new Date('2026-06-01T08:00:00Z');

/** Runs the import to its end (as the consumer would) and answers it as its creator reads it. */
export async function runToEnd(caller: Caller, id: string, opts: Partial<RunOptions> = {}): Promise<Record<string, any>> {
  await runImport(caller.tenant, id, { now, ...opts });
  const got = await api(caller).get(`/v1/imports/${id}`);
  expect(got.status, got.body).toBe(200);
  return got.json;
}

/** Starts an import with a JSON body; expects 202. */
export async function startJson(caller: Caller, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await api(caller).post('/v1/imports', body);
  expect(res.status, res.body).toBe(202);
  return res.json;
}

/** Every record of a collection the caller lists. */
export const everything = (caller: Caller, collection: string) => listAll<Record<string, any>>(caller, `/v1/${collection}`);

export async function getImport(caller: Caller, id: string): Promise<Record<string, any>> {
  const res = await send(caller, 'GET', `/v1/imports/${id}`);
  expect(res.status, res.body).toBe(200);
  return res.json;
}
