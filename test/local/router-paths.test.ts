/**
 * The local router never answers 500 for what a client sent in the path: malformed
 * percent-encoding in a path id, and job names that are properties of every object.
 */
import { describe, expect, it } from 'vitest';
import { routes } from '#functions/routes.ts';
import { call } from '#test/support/api.ts';
import { expectProblem, send, type Caller } from '#test/support/fixtures.ts';

const admin: Caller = { tenant: 'router-paths', user: 'root', role: 'admin' };
const MALFORMED = ['%E0%A4%A', '%', '%ED%A0%80', 'a%2', '%zz'];

describe('the local router', () => {
  it('a malformed percent-encoded path id is a 404 on every route with a path parameter (401 for a signed form)', async () => {
    for (const r of routes.filter((x) => /\{\w+\}/.test(x.path))) {
      for (const bad of MALFORMED) {
        // A public route answers browsers in HTML; asked for JSON, it answers problem+json like the rest.
        const opts = r.public ? { headers: { accept: 'application/json' } } : undefined;
        const res = await send(admin, r.method, r.path.replace(/\{\w+\}/, bad), r.method === 'GET' || r.method === 'DELETE' ? undefined : {}, opts);
        // A signed form's route answers an unknown form like a bad signature (api/integrations.md): 401.
        if (r.path.startsWith('/in/forms/')) expectProblem(res, 401, 'unauthenticated');
        else expectProblem(res, 404, 'not_found');
      }
    }
  });

  it('POST /_local/jobs/<an Object property> is a 404, not a 500', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '%E0%A4%A']) {
      const res = await call(admin, 'POST', `/_local/jobs/${name}`, {});
      expect(res.status, `${name}: ${res.body}`).toBe(404);
      expect(res.json.code).toBe('not_found');
    }
  });
});
