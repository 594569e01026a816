/**
 * CSV export (api/integrations.md): UTF-8 with a BOM, the header row, the records the caller may
 * see through the entity's list filters, and an export that imports back as it was. A large one
 * (or one asked for as JSON) is stored and answered as a link: the S3 adapter's requests (`fetch`
 * replaced at the edge), and the local flow end to end through the HTTP API, its answers
 * checked against the OpenAPI document.
 */
import { parse } from 'csv-parse/sync';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { s3UploadStore, exportKey } from '#domain/integrations/upload-store.ts';
import { s3Objects } from '#domain/integrations/s3-objects.ts';
import { signToken } from '#domain/marketing/tokens.ts';
import type { OpenApiDocument } from '#functions/openapi/document.ts';
import { call } from '#test/support/api.ts';
import { api, expectFieldError, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { mismatches, SchemaValidator } from '#test/docs/support.ts';
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

describe('the S3 store of exports (fetch replaced at the edge)', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
  const sent: { url: string; method: string; headers: Record<string, string>; body: Buffer }[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    sent.push({ url: String(url), method: init.method!, headers: init.headers as Record<string, string>, body: Buffer.from(init.body as Uint8Array) });
    return new Response(null, { status: 200 });
  }) as typeof globalThis.fetch;
  const store = s3UploadStore('crm-uploads', s3Objects('crm-uploads', { region: 'eu-central-1', credentials, fetch }));

  it('writes exports/<tenant>/<export>.csv with its media type and file name', async () => {
    await store.putExport('t1', 'e123', Buffer.from('\uFEFFid,name\r\n'), 'accounts.csv');
    expect(sent).toEqual([
      {
        method: 'PUT',
        url: 'https://crm-uploads.s3.eu-central-1.amazonaws.com/exports/t1/e123.csv',
        body: Buffer.from('\uFEFFid,name\r\n'),
        headers: expect.objectContaining({ 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="accounts.csv"' }),
      },
    ]);
    expect(exportKey('t9', 'abc')).toBe('exports/t9/abc.csv');
  });

  it('presigns a GET of it: virtual-hosted bucket, signature, 15 min, no header to send', async () => {
    const url = new URL(await store.presignGet('t1', 'e123', 'accounts.csv', new Date('2026-06-01T08:00:00Z'), 900));
    expect(url.host).toBe('crm-uploads.s3.eu-central-1.amazonaws.com');
    expect(url.pathname).toBe('/exports/t1/e123.csv');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260601T080000Z');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
  });
});

describe('a stored export, locally through the HTTP API', () => {
  let doc: OpenApiDocument;
  let validator: SchemaValidator;
  const route = { method: 'GET' as const, path: '/v1/exports/{file}' };
  /** GETs a path with no token, as a browser follows a link. */
  const anonymous = async (path: string) => ({ ...(await call(null, 'GET', path)), req: `GET ${path}` });
  /** GETs a download URL: its path and query (the local runtime's host). */
  const download = (url: string) => anonymous(`${new URL(url).pathname}${new URL(url).search}`);

  beforeAll(async () => {
    doc = (await call(null, 'GET', '/v1/openapi.json')).json as OpenApiDocument;
    validator = new SchemaValidator(doc);
  });
  afterEach(() => {
    delete process.env.EXPORT_INLINE_MAX_BYTES;
  });

  it('Accept: application/json → 200 {url, expiresAt, filename, rows, bytes}; the URL downloads the same CSV, without a token', async () => {
    const inline = await api(root).get('/v1/exports/accounts.csv?tier=A');
    const res = await api(root).get('/v1/exports/accounts.csv?tier=A', { headers: { accept: 'application/json' } });
    expect(res.status, res.body).toBe(200);
    expect(mismatches(doc, validator, route, res)).toEqual([]);
    expect(res.json).toMatchObject({ filename: 'accounts.csv', rows: 2, bytes: Buffer.byteLength(inline.body) });
    expect(Date.parse(res.json.expiresAt) - Date.now()).toBeGreaterThan(14 * 60 * 1000);
    const file = await download(res.json.url);
    expect(file.headers['content-disposition']).toBe('attachment; filename="accounts.csv"');
    expect(file.body).toBe(inline.body);
    expect(rowsOf(file).map((r) => r.name).sort()).toEqual(['星辰科技', '西部物流'].sort());
  });

  it('larger than an answer may be: 303 See Other to the stored file', async () => {
    process.env.EXPORT_INLINE_MAX_BYTES = '200';
    const res = await api(mia).get('/v1/exports/accounts.csv');
    expect(res.status, res.body).toBe(303);
    expect(mismatches(doc, validator, route, res)).toEqual([]);
    expect(res.body).toBe('');
    const file = await download(res.headers.location!);
    expect(rowsOf(file).map((r) => r.name).sort()).toEqual(['Quote "Co", Ltd', '星辰科技'].sort());
  });

  it('the URL is the credential: tampered, for another export, or expired → 403; a file that is gone → 404', async () => {
    const { url } = (await api(root).get('/v1/exports/leads.csv', { headers: { accept: 'application/json' } })).json;
    const u = new URL(url);
    const token = u.searchParams.get('token')!;
    const tampered = `${u.pathname}?token=${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}${token.slice(-1)}`;
    expectProblem(await anonymous(tampered), 403, 'forbidden');
    const other = (await api(root).get('/v1/exports/contacts.csv', { headers: { accept: 'application/json' } })).json.url as string;
    expectProblem(await anonymous(`${new URL(other).pathname}?token=${token}`), 403, 'forbidden');
    const id = u.pathname.split('/').at(-1)!;
    const expired = signToken({ tenantId: T, kind: 'export', ids: [id, String(Date.now() - 1000), 'leads.csv'] });
    expectProblem(await anonymous(`${u.pathname}?token=${expired}`), 403, 'forbidden');
    const unknown = signToken({ tenantId: T, kind: 'export', ids: ['01JZZZZZZZZZZZZZZZZZZZZZZZ', String(Date.now() + 60_000), 'leads.csv'] });
    expectProblem(await anonymous(`/_local/exports/01JZZZZZZZZZZZZZZZZZZZZZZZ?token=${unknown}`), 404, 'not_found');
    expect((await download(url)).status).toBe(200);
  });
});
