import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { routes } from '#functions/routes.ts';
import { buildOpenApi, OPENAPI_PATH } from '#local/openapi.ts';

describe('docs/openapi.json', () => {
  it('describes every route of the route table, and is up to date (npm run openapi)', async () => {
    const generated = (await buildOpenApi()) as { paths: Record<string, Record<string, unknown>> };
    for (const r of routes) expect(generated.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    const committed = JSON.parse(await readFile(OPENAPI_PATH, 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(generated)));
  });
});
