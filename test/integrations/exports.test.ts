/**
 * CSV export (api/integrations.md): UTF-8 with a BOM, the header row, the records the caller may
 * see through the entity's list filters, and an export that imports back as it was.
 */
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { everything, runToEnd, startJson } from '#test/integrations/imports-support.ts';

const T = 'exp';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };

/** The answer's rows as objects by header, after checking BOM and media type. */
function rowsOf(res: { status: number; headers: Record<string, string>; body: string }): Record<string, string>[] {
  expect(res.status, res.body.slice(0, 300)).toBe(200);
  expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(res.body.charCodeAt(0)).toBe(0xfeff);
  return parse(res.body, { bom: true, columns: true }) as Record<string, string>[];
}

beforeAll(async () => {
  for (const c of [root, mia, alice, wes, mark, sam]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  expect((await api(root).put('/v1/fields/accounts', { fields: [{ key: 'budget', label: '预算', type: 'number' }] })).status).toBe(200);
  for (const [who, body] of [
    [alice, { name: '星辰科技', email: 'hi@xingchen.cn', tier: 'A', tags: ['vip', '华东'], custom: { budget: 120000 } }],
    [alice, { name: 'Quote "Co", Ltd', tier: 'B', description: 'line one\nline two' }],
    [wes, { name: '西部物流', tier: 'A' }],
  ] as const) {
    expect((await api(who).post('/v1/accounts', body)).status).toBe(201);
  }
  expect((await api(mark).post('/v1/leads', { name: '线索', company: '某公司' })).status).toBe(201);
});

describe('GET /v1/exports/{entity}.csv', () => {
  it('an admin gets every account: BOM, header row, quoting, tags and custom values', async () => {
    const rows = rowsOf(await api(root).get('/v1/exports/accounts.csv'));
    expect(rows.map((r) => r.name).sort()).toEqual(['Quote "Co", Ltd', '星辰科技', '西部物流'].sort());
    const xc = rows.find((r) => r.name === '星辰科技')!;
    expect(xc).toMatchObject({ email: 'hi@xingchen.cn', tier: 'A', tags: 'vip;华东', ownerId: 'alice', 'custom.budget': '120000' });
    expect(rows.find((r) => r.name!.startsWith('Quote'))!.description).toBe('line one\nline two');
  });

  it('visibility and roles: a manager sees its team, a marketer reads tenant-wide; reps and support may not export', async () => {
    expect(rowsOf(await api(mia).get('/v1/exports/accounts.csv')).map((r) => r.name).sort()).toEqual(['Quote "Co", Ltd', '星辰科技'].sort());
    expect(rowsOf(await api(mark).get('/v1/exports/leads.csv')).map((r) => r.name)).toEqual(['线索']);
    expect(rowsOf(await api(mark).get('/v1/exports/accounts.csv')).length).toBe(3);
    expectProblem(await api(alice).get('/v1/exports/accounts.csv'), 403, 'forbidden');
    expectProblem(await api(sam).get('/v1/exports/contacts.csv'), 403, 'forbidden');
  });

  it("the list's filters apply; another entity's filter or an unknown file is refused", async () => {
    expect(rowsOf(await api(root).get('/v1/exports/accounts.csv?tier=A')).map((r) => r.name).sort()).toEqual(['星辰科技', '西部物流'].sort());
    expect(rowsOf(await api(root).get(`/v1/exports/accounts.csv?tag=${encodeURIComponent('华东')}`)).map((r) => r.name)).toEqual(['星辰科技']);
    expectFieldError(await api(root).get('/v1/exports/accounts.csv?status=new'), 'status');
    expectProblem(await api(root).get('/v1/exports/tickets.csv'), 404, 'not_found');
    expectProblem(await api(root).get('/v1/exports/accounts'), 404, 'not_found');
    // An empty export is still a file: the header row alone.
    const empty = await api(root).get('/v1/exports/contacts.csv');
    expect(rowsOf(empty)).toEqual([]);
    expect(empty.body).toMatch(/^\uFEFFid,accountId,name,/);
  });

  it('an export imports back: the same records in another tenant', async () => {
    const exported = await api(root).get('/v1/exports/accounts.csv');
    const other: Caller = { tenant: 'exp-copy', user: 'root', role: 'admin' };
    expect((await api(other).put('/v1/fields/accounts', { fields: [{ key: 'budget', label: '预算', type: 'number' }] })).status).toBe(200);
    // The owners, users of the copy's directory too, keep their records.
    for (const u of [alice, wes]) expect((await api({ ...u, tenant: other.tenant }).get('/v1/tasks')).status).toBe(200);
    const started = await startJson(other, { entity: 'accounts', csv: exported.body });
    expect(started.total).toBe(3);
    const done = await runToEnd(other, started.id);
    expect(done).toMatchObject({ created: 3, failed: 0 });
    const copied = await everything(other, 'accounts');
    const xc = copied.find((a) => a.name === '星辰科技')!;
    expect(xc).toMatchObject({ email: 'hi@xingchen.cn', tier: 'A', tags: ['vip', '华东'], ownerId: 'alice', custom: { budget: 120000 } });
    expect(copied.find((a) => a.name.startsWith('Quote'))).toMatchObject({ name: 'Quote "Co", Ltd', description: 'line one\nline two', ownerId: 'alice' });
  });
});
