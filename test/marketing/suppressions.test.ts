/**
 * The suppression list (api/marketing.md): normalized addresses, POST 201 then 200 unchanged
 * (also when two POSTs race), `complained` wins over an earlier reason and can never be deleted,
 * the domain API that campaigns and workflows call, and the email in the path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { normalizeEmail, suppress, suppressedAmong } from '#domain/marketing/suppressions.ts';

const T = 'supp';
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const other: Caller = { tenant: 'supp-other', user: 'mark', role: 'marketer' };
const now = new Date('2026-05-01T00:00:00Z');

beforeAll(async () => {
  for (const c of [mark, root, alice, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('suppression list over HTTP', () => {
  it('POST adds a normalized manual entry (201, Location); again → 200 unchanged; GET, list, DELETE', async () => {
    const first = await api(mark).post('/v1/suppressions', { email: '  Zhang.Wei+News@Example.CN ' });
    expect(first.status, first.body).toBe(201);
    expect(first.json).toMatchObject({ id: 'zhang.wei+news@example.cn', email: 'zhang.wei+news@example.cn', reason: 'manual', version: 1 });
    // '@' and '+' are plain path characters (RFC 3986 pchar): the Location names the address as it is.
    expect(first.headers.location).toBe('/v1/suppressions/zhang.wei+news@example.cn');
    const again = await api(root).post('/v1/suppressions', { email: 'ZHANG.WEI+news@example.cn' });
    expect(again.status, again.body).toBe(200);
    expect(again.json).toEqual(first.json);
    // The email in the path, encoded or not, in any case.
    for (const path of [first.headers.location!, '/v1/suppressions/zhang.wei+news@example.cn', '/v1/suppressions/Zhang.Wei%2BNews%40Example.CN']) {
      const got = await api(mark).get(path);
      expect(got.status, `${path}: ${got.body}`).toBe(200);
      expect(got.json).toEqual(first.json);
    }
    expect((await listAll(mark, '/v1/suppressions')).map((s) => s.email)).toContain('zhang.wei+news@example.cn');
    expect(await listAll(other, '/v1/suppressions')).toEqual([]);
    expectProblem(await api(other).get(first.headers.location!), 404, 'not_found');

    expect((await api(mark).delete('/v1/suppressions/Zhang.Wei+News@example.cn')).status).toBe(204);
    expectProblem(await api(mark).get(first.headers.location!), 404, 'not_found');
    expectProblem(await api(mark).delete(first.headers.location!), 404, 'not_found');
    expect((await api(mark).post('/v1/suppressions', { email: 'zhang.wei+news@example.cn' })).status).toBe(201);
  });

  it('bad input and roles', async () => {
    expectFieldError(await api(mark).post('/v1/suppressions', { email: 'not an email' }), 'email');
    expectFieldError(await api(mark).post('/v1/suppressions', { email: 'a@b.cn', reason: 'complained' }), 'reason');
    expectFieldError(await api(mark).post('/v1/suppressions', {}), 'email');
    expectProblem(await api(alice).post('/v1/suppressions', { email: 'a@b.cn' }), 403, 'forbidden');
    expectProblem(await api(alice).get('/v1/suppressions'), 403, 'forbidden');
    expectProblem(await api(mark).get('/v1/suppressions/nobody@nowhere.cn'), 404, 'not_found');
  });

  it('two POSTs of one address at once → one 201, one 200, one entry', async () => {
    for (let round = 0; round < 5; round++) {
      const email = `race${round}@example.cn`;
      const answers = await Promise.all([api(mark).post('/v1/suppressions', { email }), api(root).post('/v1/suppressions', { email: email.toUpperCase() })]);
      expect(answers.map((a) => a.status).sort(), answers.map((a) => a.body).join('\n')).toEqual([200, 201]);
      expect(answers[0]!.json).toEqual(answers[1]!.json);
    }
    const listed = (await listAll(mark, '/v1/suppressions')).filter((s) => s.email.startsWith('race'));
    expect(listed).toHaveLength(5);
  });

  it('a complained entry cannot be deleted: 409 suppression_locked, still there', async () => {
    await suppress(T, 'Angry@Example.cn', { reason: 'complained', campaignId: 'cmp-9', now });
    const res = await api(mark).delete('/v1/suppressions/angry@example.cn');
    expectProblem(res, 409, 'suppression_locked');
    expect((await api(mark).get('/v1/suppressions/angry@example.cn')).json).toMatchObject({ reason: 'complained', campaignId: 'cmp-9' });
  });

  it('DELETE honours If-Match', async () => {
    await api(mark).post('/v1/suppressions', { email: 'versioned@example.cn' });
    expectProblem(await api(mark).delete('/v1/suppressions/versioned@example.cn', { headers: { 'if-match': '"2"' } }), 412, 'version_mismatch');
    expect((await api(mark).delete('/v1/suppressions/versioned@example.cn', { headers: { 'if-match': '"1"' } })).status).toBe(204);
  });
});

describe('the domain API (campaigns, workflows)', () => {
  it('normalizeEmail trims and lower-cases', () => {
    expect(normalizeEmail('  Li.Lei@Example.CN\t')).toBe('li.lei@example.cn');
  });

  it('suppress is idempotent; complained wins over an earlier reason, and nothing wins over complained', async () => {
    expect(await suppress(T, 'Bounce@Example.cn', { reason: 'bounced', now })).toEqual({ created: true });
    expect(await suppress(T, 'bounce@example.cn', { reason: 'unsubscribed', campaignId: 'c1', now })).toEqual({ created: false });
    let entry = (await api(mark).get('/v1/suppressions/bounce@example.cn')).json;
    expect(entry).toMatchObject({ reason: 'bounced', version: 1 });
    expect(entry.campaignId).toBeUndefined();

    expect(await suppress(T, 'bounce@example.cn', { reason: 'complained', campaignId: 'c2', now: new Date('2026-05-02T00:00:00Z') })).toEqual({ created: false });
    entry = (await api(mark).get('/v1/suppressions/bounce@example.cn')).json;
    expect(entry).toMatchObject({ reason: 'complained', campaignId: 'c2', version: 2, createdAt: now.toISOString(), updatedAt: '2026-05-02T00:00:00.000Z' });
    expect(await suppress(T, 'bounce@example.cn', { reason: 'manual', now })).toEqual({ created: false });
    expect(await suppress(T, 'bounce@example.cn', { reason: 'complained', now })).toEqual({ created: false });
    expect((await api(mark).get('/v1/suppressions/bounce@example.cn')).json).toEqual(entry);
  });

  it('a complaint racing a manual delete: the address ends up suppressed as complained', async () => {
    for (let round = 0; round < 5; round++) {
      const email = `delrace${round}@example.cn`;
      await api(mark).post('/v1/suppressions', { email });
      const [del] = await Promise.all([api(mark).delete(`/v1/suppressions/${email}`), suppress(T, email, { reason: 'complained', now })]);
      expect([204, 409]).toContain(del.status);
      const got = await api(mark).get(`/v1/suppressions/${email}`);
      expect(got.status, got.body).toBe(200);
      expect(got.json.reason).toBe('complained');
    }
  });

  it('suppressedAmong answers the normalized suppressed addresses, for more than 100 at once', async () => {
    const emails = Array.from({ length: 230 }, (_, i) => `Bulk${i}@Example.cn`);
    for (const e of emails.filter((_, i) => i % 50 === 0)) await suppress(T, e, { reason: 'manual', now });
    const found = await suppressedAmong(T, [...emails, ' BULK0@example.cn ', 'nobody@example.cn']);
    expect([...found].sort()).toEqual(['bulk0@example.cn', 'bulk100@example.cn', 'bulk150@example.cn', 'bulk200@example.cn', 'bulk50@example.cn']);
    expect(await suppressedAmong('supp-other', emails)).toEqual(new Set());
    expect(await suppressedAmong(T, [])).toEqual(new Set());
  });
});
