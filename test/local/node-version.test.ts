/**
 * Node 22 everywhere (issue 11 point 8): `npm start`, `npm test` and `npm run bench` run on the
 * Node.js the `node` dev dependency pins (npm scripts find node_modules/.bin/node first), the
 * major version Lambda runs (infra/crm-function.ts: NODEJS_22_X), not the machine's Node 20.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };

describe('Node.js version', () => {
  it('the tests run on Node 22, the version the node dev dependency pins', () => {
    expect(pkg.devDependencies.node).toMatch(/^22\./);
    expect(process.versions.node).toBe(pkg.devDependencies.node);
  });
});
