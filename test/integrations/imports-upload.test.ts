/**
 * Large CSV imports through an upload (api/integrations.md "CSV import"): the S3 adapter's
 * requests (S3 has no local emulator here: `fetch` is replaced at the edge; the adapter's own
 * tests are test/integrations/s3-objects.test.ts), and the local
 * flow end to end through the HTTP API: create an upload, PUT the bytes to its URL, import by
 * its uploadId.
 */
import { describe, expect, it } from 'vitest';
import { signToken } from '#domain/marketing/tokens.ts';
import { putLocalUpload, s3UploadStore, uploadKey } from '#domain/integrations/upload-store.ts';
import { s3Objects } from '#domain/integrations/s3-objects.ts';
import { MAX_CSV_BYTES } from '#domain/integrations/import.ts';
import iconv from 'iconv-lite';
import { createRouter } from '#local/router.ts';
import { api, expectFieldError, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { everything, runToEnd } from '#test/integrations/imports-support.ts';

const route = createRouter();
const csv = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;
const admin = (tenant: string): Caller => ({ tenant, user: 'root', role: 'admin' });

/** PUTs the bytes to an upload URL as a client would (its path and query, through the local router). */
async function putTo(uploadUrl: string, bytes: Buffer | string) {
  const url = new URL(uploadUrl);
  const res = await route({ method: 'PUT', url: `${url.pathname}${url.search}`, headers: { 'content-type': 'text/csv' }, body: Buffer.from(bytes) });
  return { ...res, json: res.body ? JSON.parse(res.body) : undefined };
}

async function newUpload(caller: Caller, entity = 'accounts') {
  const res = await api(caller).post('/v1/imports/uploads', { entity });
  expect(res.status, res.body).toBe(201);
  return res.json as { uploadId: string; uploadUrl: string; method: string; headers: Record<string, string>; expiresAt: string };
}

describe('the S3 store (fetch replaced at the edge)', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
  /** The store over an adapter whose `fetch` records each request and answers the next of `answers`. */
  function storeWith(answers: (() => Response)[]) {
    const sent: { url: string; method: string }[] = [];
    const fetch = (async (url: string, init: RequestInit) => (sent.push({ url: String(url), method: init.method! }), answers.shift()!())) as typeof globalThis.fetch;
    return { store: s3UploadStore('crm-uploads', s3Objects('crm-uploads', { region: 'eu-central-1', credentials, fetch })), sent };
  }

  it('presigns a PUT of imports/<tenant>/<upload>.csv: virtual-hosted bucket, signature, 15 min, content-type signed', async () => {
    const { store } = storeWith([]);
    const { url, headers } = await store.presignPut('t1', 'u123', new Date('2026-06-01T08:00:00Z'), 900);
    const u = new URL(url);
    expect(u.host).toBe('crm-uploads.s3.eu-central-1.amazonaws.com');
    expect(u.pathname).toBe('/imports/t1/u123.csv');
    expect(u.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(u.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(u.searchParams.get('X-Amz-Date')).toBe('20260601T080000Z');
    expect(u.searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(['content-type', 'host']);
    expect(headers).toEqual({ 'content-type': 'text/csv' });
  });

  it('reads the object back with a GET; NoSuchKey is no upload; larger than 5 MB is a 413 before reading', async () => {
    const noSuchKey = () => new Response('<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>', { status: 404 });
    let cancelled = false;
    let pulled = false;
    const big = new ReadableStream({ pull: () => void (pulled = true), cancel: () => void (cancelled = true) }, { highWaterMark: 0 });
    const { store, sent } = storeWith([
      () => new Response('a,b', { headers: { 'content-length': '3' } }),
      noSuchKey,
      () => new Response(big, { headers: { 'content-length': String(MAX_CSV_BYTES + 1) } }),
    ]);

    expect((await store.read('t1', 'u123'))!.toString()).toBe('a,b');
    expect(sent[0]).toEqual({ method: 'GET', url: 'https://crm-uploads.s3.eu-central-1.amazonaws.com/imports/t1/u123.csv' });
    expect(await store.read('t1', 'gone')).toBeUndefined();
    await expect(store.read('t1', 'big')).rejects.toMatchObject({ status: 413, code: 'payload_too_large' });
    expect({ cancelled, pulled }).toEqual({ cancelled: true, pulled: false });
  });

  it('keys carry the tenant', () => {
    expect(uploadKey('t9', 'abc')).toBe('imports/t9/abc.csv');
  });
});

describe('the local flow through the HTTP API', () => {
  it('create an upload → PUT the bytes → POST /v1/imports {uploadId}: the import runs and the rows land', async () => {
    const root = admin('up1');
    const upload = await newUpload(root);
    expect(upload).toMatchObject({ method: 'PUT', headers: { 'content-type': 'text/csv' } });
    expect(upload.uploadUrl).toMatch(/\/_local\/uploads\/[^/?]+\?token=/);
    expect(Date.parse(upload.expiresAt)).toBeGreaterThan(0);

    const put = await putTo(upload.uploadUrl, csv('name,email,tier', 'Acme Ltd,info@acme.cn,A', '星辰科技,,B'));
    expect(put.status, put.body).toBe(200);

    const started = await api(root).post('/v1/imports', { entity: 'accounts', uploadId: upload.uploadId });
    expect(started.status, started.body).toBe(202);
    expect(started.json).toMatchObject({ entity: 'accounts', status: 'queued', total: 2 });
    expect(await runToEnd(root, started.json.id)).toMatchObject({ status: 'done', created: 2, failed: 0 });
    expect((await everything(root, 'accounts')).map((a) => a.name).sort()).toEqual(['Acme Ltd', '星辰科技']);
  });

  it('the upload is bytes: encoding decodes them (GB18030), mapping and onDuplicate apply as with a body', async () => {
    const root = admin('up2');
    const upload = await newUpload(root, 'leads');
    expect((await putTo(upload.uploadUrl, iconv.encode(csv('名字,公司', '张三,华为'), 'gb18030'))).status).toBe(200);
    const started = await api(root).post('/v1/imports', {
      entity: 'leads',
      uploadId: upload.uploadId,
      encoding: 'gb18030',
      mapping: { 名字: 'name', 公司: 'company' },
      onDuplicate: 'fail',
    });
    expect(started.status, started.body).toBe(202);
    expect(started.json).toMatchObject({ encoding: 'gb18030', onDuplicate: 'fail', total: 1 });
    expect(await runToEnd(root, started.json.id)).toMatchObject({ status: 'done', created: 1 });
    expect(await everything(root, 'leads')).toEqual([expect.objectContaining({ name: '张三', company: '华为' })]);
    // The same bytes read as UTF-8 do not decode: the 400 of a body.
    expectFieldError(await api(root).post('/v1/imports', { entity: 'leads', uploadId: upload.uploadId }), 'body');
  });

  it('a tampered URL is 403, an expired one 403, another upload id in the path 403; nothing is stored', async () => {
    const root = admin('up3');
    const upload = await newUpload(root);
    const url = new URL(upload.uploadUrl);
    const token = url.searchParams.get('token')!;
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expectProblem({ ...(await putTo(`${url.origin}${url.pathname}?token=${tampered}`, 'name\nX\n')), req: 'PUT tampered' }, 403, 'forbidden');
    expectProblem({ ...(await putTo(`${url.origin}/_local/uploads/other?token=${token}`, 'name\nX\n')), req: 'PUT other id' }, 403, 'forbidden');
    const expired = signToken({ tenantId: 'up3', kind: 'upload', ids: [upload.uploadId, String(Date.parse('2020-01-01T00:00:00Z'))] });
    expectProblem({ ...(await putTo(`${url.origin}${url.pathname}?token=${expired}`, 'name\nX\n')), req: 'PUT expired' }, 403, 'forbidden');
    expectProblem({ ...(await putTo(`${url.origin}${url.pathname}`, 'name\nX\n')), req: 'PUT no token' }, 403, 'forbidden');
    // None of them stored a file: the import finds no upload.
    expectProblem(await api(root).post('/v1/imports', { entity: 'accounts', uploadId: upload.uploadId }), 400, 'upload_missing');
  });

  it('expiry is checked against the time of the PUT', async () => {
    const expiresAt = Date.parse('2026-06-01T08:15:00Z');
    const token = signToken({ tenantId: 'up4', kind: 'upload', ids: ['u1', String(expiresAt)] });
    expect(await putLocalUpload('u1', token, Buffer.from('name\n'), new Date(expiresAt))).toBe('refused');
    expect(await putLocalUpload('u1', token, Buffer.from('name\n'), new Date(expiresAt - 1))).toBe('stored');
    expect(await putLocalUpload('u1', token, Buffer.alloc(MAX_CSV_BYTES + 1), new Date(expiresAt - 1))).toBe('too_large');
  });

  it("another tenant's uploadId is 400 upload_missing, as is one never uploaded", async () => {
    const upload = await newUpload(admin('up5a'));
    expect((await putTo(upload.uploadUrl, csv('name', 'Acme'))).status).toBe(200);
    expectProblem(await api(admin('up5b')).post('/v1/imports', { entity: 'accounts', uploadId: upload.uploadId }), 400, 'upload_missing');
    expectProblem(await api(admin('up5a')).post('/v1/imports', { entity: 'accounts', uploadId: 'neverUploaded' }), 400, 'upload_missing');
  });

  it('exactly one of csv and uploadId', async () => {
    const root = admin('up6');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'accounts' }), 'csv');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'accounts', csv: 'name\nA\n', uploadId: 'x1' }), 'csv');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'accounts', uploadId: '../x' }), 'uploadId');
  });

  it('the roles of POST /v1/imports: marketers upload leads and contacts, not accounts; support and reps nothing', async () => {
    const mark: Caller = { tenant: 'up7', user: 'mark', role: 'marketer' };
    expect((await api(mark).post('/v1/imports/uploads', { entity: 'leads' })).status).toBe(201);
    expectProblem(await api(mark).post('/v1/imports/uploads', { entity: 'accounts' }), 403, 'forbidden');
    expectProblem(await api({ tenant: 'up7', user: 'sam', role: 'support' }).post('/v1/imports/uploads', { entity: 'leads' }), 403, 'forbidden');
    expectProblem(await api({ tenant: 'up7', user: 'al', role: 'rep' }).post('/v1/imports/uploads', { entity: 'contacts' }), 403, 'forbidden');
    expectFieldError(await api(admin('up7')).post('/v1/imports/uploads', { entity: 'deals' }), 'entity');
    expectFieldError(await api(admin('up7')).post('/v1/imports/uploads', { entity: 'leads', extra: 1 }), 'extra');
  });
});
