/**
 * The duplicate search loads the phone and domain normalizers' data only for a query that needs it
 * (issue 11 point 6: a function does not pay for it at start-up), and before the query's domain
 * rule runs on it. Its own file: a fresh module graph, where nothing has loaded them yet.
 */
import { describe, expect, it } from 'vitest';
import { normalizersLoaded } from '#domain/accounts/normalize.ts';
import { api, expectProblem, type Caller } from '#test/support/fixtures.ts';

const rep: Caller = { tenant: 'dupondemand', user: 'rita', role: 'rep' };
const q = (params: Record<string, string>) => `/v1/duplicates?${new URLSearchParams(params).toString()}`;

describe('GET /v1/duplicates: the normalizers on demand', () => {
  it('a search by name or email does not load them; one by domain loads them first, and its rule holds', async () => {
    expect(normalizersLoaded()).toBe(false);
    const byName = await api(rep).get(q({ name: 'Acme Ltd', email: 'info@acme.cn' }));
    expect(byName.status).toBe(200);
    expect(byName.json).toEqual({ items: [], nextCursor: null });
    expect(normalizersLoaded()).toBe(false);

    const badDomain = await api(rep).get(q({ domain: 'localhost' }));
    expectProblem({ ...badDomain, req: 'domain=localhost' }, 400, 'validation_failed');
    expect(badDomain.json.errors).toEqual([{ path: 'query.domain', message: 'not a domain name (e.g. acme.com.cn)' }]);
    expect(normalizersLoaded()).toBe(true);
    expect((await api(rep).get(q({ domain: 'https://www.acme.com.cn/about' }))).status).toBe(200);
  });
});
