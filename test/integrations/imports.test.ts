/**
 * CSV import (api/integrations.md "CSV import"): encodings, headers and mapping, tags and custom
 * fields, duplicates in each mode, bad rows, limits, roles, the background run (event, job,
 * budget), killed halfway and resumed, two runners at once.
 */
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { InjectedCrash, runImport } from '#domain/integrations/import-runner.ts';
import { commitRows, isReady, prepareRow, type ImportJob } from '#domain/integrations/import-rows.ts';
import { repCounterKey } from '#domain/pool/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { chunkKey } from '#domain/integrations/import.ts';
import { api, expectFieldError, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { everything, getImport, now, postRaw, runToEnd, startJson } from '#test/integrations/imports-support.ts';

const callers = (tenant: string) => ({
  root: { tenant, user: 'root', role: 'admin' } as Caller,
  mia: { tenant, user: 'mia', role: 'manager', team: 'east' } as Caller,
  max: { tenant, user: 'max', role: 'manager', team: 'west' } as Caller,
  alice: { tenant, user: 'alice', role: 'rep', team: 'east' } as Caller,
  mark: { tenant, user: 'mark', role: 'marketer' } as Caller,
  sam: { tenant, user: 'sam', role: 'support' } as Caller,
});

async function inDirectory(...cs: Caller[]) {
  for (const c of cs) expect((await api(c).get('/v1/tasks')).status).toBe(200);
}

const csv = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;

describe('encodings and headers', () => {
  it('UTF-8 in a JSON body: 202 with the import and its Location, then the rows are accounts of the importer', async () => {
    const { root } = callers('enc1');
    const started = await api(root).post('/v1/imports', {
      entity: 'accounts',
      csv: csv('name,email,phone,domain,tier,tags', 'Acme Ltd,info@acme.cn,+86 138 0013 8000,https://www.acme.com.cn/about,A,vip;renewal', '星辰科技,,,,B,'),
    });
    expect(started.status, started.body).toBe(202);
    expect(started.headers.location).toBe(`/v1/imports/${started.json.id}`);
    expect(started.json).toMatchObject({ entity: 'accounts', status: 'queued', total: 2, processed: 0, created: 0, errors: [], finishedAt: null, version: 1 });
    const done = await runToEnd(root, started.json.id);
    expect(done).toMatchObject({ status: 'done', total: 2, processed: 2, created: 2, updated: 0, skipped: 0, failed: 0, errors: [] });
    expect(done.finishedAt).toEqual(expect.any(String));
    const accounts = await everything(root, 'accounts');
    expect(accounts.map((a) => a.name).sort()).toEqual(['Acme Ltd', '星辰科技']);
    const acme = accounts.find((a) => a.name === 'Acme Ltd')!;
    // The create route's rules: the domain as its registrable domain, tags split, the importer owns it.
    expect(acme).toMatchObject({ email: 'info@acme.cn', domain: 'acme.com.cn', tier: 'A', tags: ['vip', 'renewal'], ownerId: 'root', poolStatus: 'owned' });
  });

  it('UTF-8 with a BOM as a raw text/csv body, Chinese headers, tags split on ； too', async () => {
    const { root } = callers('enc2');
    const text = `\uFEFF${csv('名称,邮箱,电话,网址,标签,行业,等级', '华为技术有限公司,hw@example.cn,13800138000,huawei.com,重点；华南;大客户,通信,A')}`;
    const res = await postRaw(root, Buffer.from(text, 'utf8'), 'entity=accounts');
    expect(res.status, res.body).toBe(202);
    expect(res.json.columns).toEqual([
      { header: '名称', field: 'name' },
      { header: '邮箱', field: 'email' },
      { header: '电话', field: 'phone' },
      { header: '网址', field: 'domain' },
      { header: '标签', field: 'tags' },
      { header: '行业', field: 'industry' },
      { header: '等级', field: 'tier' },
    ]);
    expect((await runToEnd(root, res.json.id)).created).toBe(1);
    const [a] = await everything(root, 'accounts');
    expect(a).toMatchObject({ name: '华为技术有限公司', email: 'hw@example.cn', domain: 'huawei.com', tags: ['重点', '华南', '大客户'], industry: '通信', tier: 'A' });
  });

  it('GB18030 bytes (a Chinese Excel file) with encoding=gb18030; the same bytes read as UTF-8 → 400', async () => {
    const { root } = callers('enc3');
    const bytes = iconv.encode(csv('姓名,公司,手机,职位,来源', '张伟,星火网络科技有限公司,13900139000,采购经理,展会'), 'gb18030');
    expect(bytes.equals(Buffer.from(csv('姓名'), 'utf8'))).toBe(false);
    const res = await postRaw(root, bytes, 'entity=leads&encoding=gb18030');
    expect(res.status, res.body).toBe(202);
    expect((await runToEnd(root, res.json.id)).created).toBe(1);
    const [lead] = await everything(root, 'leads');
    expect(lead).toMatchObject({ name: '张伟', company: '星火网络科技有限公司', phone: '13900139000', title: '采购经理', source: '展会', status: 'new' });
    // As octet-stream too (how a client sends bytes in the cloud, where API Gateway passes text/* as text).
    const again = await postRaw(root, iconv.encode(csv('姓名,手机', '李娜,13700137000'), 'gb18030'), 'entity=leads&encoding=gb18030', 'application/octet-stream');
    expect(again.status, again.body).toBe(202);
    // Without the encoding, GB18030 bytes are not UTF-8: a 400 that says which encoding to name.
    const wrong = await postRaw(root, bytes, 'entity=leads');
    expectProblem(wrong, 400, 'validation_failed');
    expect(wrong.body).toContain('gb18030');
  });

  it('an explicit mapping wins over the guess; unmapped columns are ignored; no name column → 400', async () => {
    const { root } = callers('map1');
    const started = await startJson(root, {
      entity: 'contacts',
      csv: csv('客户名,Mail,phone,Notes,Shoe size', '王小明,wang@example.cn,13600136000,likes tea,42'),
      // `phone` would map by itself; the mapping sends it nowhere else, and maps two headers no guess knows.
      mapping: { 客户名: 'name', Mail: 'email', Notes: 'title' },
    });
    expect(started.columns).toEqual([
      { header: '客户名', field: 'name' },
      { header: 'Mail', field: 'email' },
      { header: 'phone', field: 'phone' },
      { header: 'Notes', field: 'title' },
    ]);
    expect((await runToEnd(root, started.id)).created).toBe(1);
    const [c] = await everything(root, 'contacts');
    expect(c).toMatchObject({ name: '王小明', email: 'wang@example.cn', phone: '13600136000', title: 'likes tea' });

    expectFieldError(await api(root).post('/v1/imports', { entity: 'contacts', csv: csv('Full name,email', 'x,y@z.cn') }), 'csv');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'contacts', csv: csv('name'), mapping: { name: 'shoeSize' } }), 'mapping');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'contacts', csv: csv('name,姓名', 'a,b') }), 'csv');
    expectFieldError(await api(root).post('/v1/imports', { entity: 'contacts', csv: 'name,"unclosed\n' }), 'csv');
  });

  it('custom fields: typed by the tenant definitions like the create route; a bad value fails its row', async () => {
    const { root } = callers('cust1');
    const fields = await api(root).put('/v1/fields/contacts', {
      fields: [
        { key: 'budget', label: '预算', type: 'number' },
        { key: 'vip', label: 'VIP', type: 'boolean' },
        { key: 'interests', label: '兴趣', type: 'multiselect', options: ['CRM', 'ERP', 'BI'] },
        { key: 'region', label: '区域', type: 'select', options: ['华东', '华南'], required: true },
      ],
    });
    expect(fields.status, fields.body).toBe(200);
    const started = await startJson(root, {
      entity: 'contacts',
      csv: csv(
        'name,custom.budget,custom.vip,custom.interests,custom.region,custom.unknownKey',
        '甲,"120,000.5",是,CRM；BI,华东,ignored',
        '乙,lots,false,,华南,',
        '丙,1,true,,,',
      ),
    });
    expect(started.columns.map((c: { field: string }) => c.field)).toEqual(['name', 'custom.budget', 'custom.vip', 'custom.interests', 'custom.region']);
    const done = await runToEnd(root, started.id);
    expect(done).toMatchObject({ created: 1, failed: 2 });
    expect(done.errors).toEqual([
      { row: 2, code: 'validation_failed', message: expect.stringContaining('custom.budget') },
      { row: 3, code: 'validation_failed', message: expect.stringContaining('custom.region') },
    ]);
    const [c] = await everything(root, 'contacts');
    expect(c!.custom).toEqual({ budget: 120000.5, vip: true, interests: ['CRM', 'BI'], region: '华东' });
  });
});

describe('duplicates, bad rows, owners', () => {
  const T = 'dup';
  const { root, mia, alice, max } = callers(T);
  const rows = csv(
    'name,email,industry,tags',
    '星辰科技有限公司,new@xingchen.cn,制造,imported', // row 1: the stored 星辰科技 by name
    'Brand New Co,brand@new.cn,,', // row 2: new
    'Brand New Co.,other@new.cn,零售,', // row 3: row 2 again (by name)
    'Alice Corp,,能源,', // row 4: alice's stored account (by name)
  );

  async function setUp(tenantSuffix: string) {
    const c = callers(`${T}-${tenantSuffix}`);
    await inDirectory(c.root, c.mia, c.alice, c.max);
    const stored = await api(c.root).post('/v1/accounts', { name: '星辰科技', email: 'old@xingchen.cn' });
    const alices = await api(c.alice).post('/v1/accounts', { name: 'Alice Corp' });
    expect(stored.status).toBe(201);
    expect(alices.status).toBe(201);
    return { ...c, storedId: stored.json.id as string, alicesId: alices.json.id as string };
  }

  it('skip: stored and earlier-row duplicates are skipped, the rest created', async () => {
    const c = await setUp('skip');
    const done = await runToEnd(c.root, (await startJson(c.root, { entity: 'accounts', csv: rows })).id);
    expect(done).toMatchObject({ total: 4, processed: 4, created: 1, skipped: 3, failed: 0, updated: 0 });
    expect((await everything(c.root, 'accounts')).length).toBe(3);
    expect((await api(c.root).get(`/v1/accounts/${c.storedId}`)).json).toMatchObject({ email: 'old@xingchen.cn', version: 1 });
  });

  it('fail: each duplicate row fails with code duplicate and its row number', async () => {
    const c = await setUp('fail');
    const done = await runToEnd(c.root, (await startJson(c.root, { entity: 'accounts', csv: rows, onDuplicate: 'fail' })).id);
    expect(done).toMatchObject({ created: 1, failed: 3 });
    expect(done.errors.map((e: { row: number; code: string }) => [e.row, e.code])).toEqual([[1, 'duplicate'], [3, 'duplicate'], [4, 'duplicate']]);
  });

  it('update: merge-patches the non-empty fields into records the importer may change; others fail', async () => {
    const c = await setUp('upd');
    // mia manages team east: alice's account is hers to change; the admin's 星辰科技 is not.
    const done = await runToEnd(c.mia, (await startJson(c.mia, { entity: 'accounts', csv: rows, onDuplicate: 'update' })).id);
    expect(done).toMatchObject({ created: 1, updated: 2, failed: 1 });
    expect(done.errors).toEqual([{ row: 1, code: 'duplicate', message: expect.stringContaining(c.storedId) }]);
    const alices = (await api(c.root).get(`/v1/accounts/${c.alicesId}`)).json;
    expect(alices).toMatchObject({ name: 'Alice Corp', industry: '能源', ownerId: 'alice', version: 2 });
    // Row 3 merged into row 2's new record: a later row's values win, empty cells change nothing.
    const brand = (await everything(c.root, 'accounts')).find((a) => a.name.startsWith('Brand New'))!;
    expect(brand).toMatchObject({ name: 'Brand New Co.', email: 'other@new.cn', industry: '零售', ownerId: 'mia' });
    // The admin may change anything: the same file again updates 星辰科技.
    const again = await runToEnd(c.root, (await startJson(c.root, { entity: 'accounts', csv: rows, onDuplicate: 'update' })).id);
    expect(again).toMatchObject({ created: 0, updated: 4, failed: 0 });
    expect((await api(c.root).get(`/v1/accounts/${c.storedId}`)).json).toMatchObject({ email: 'new@xingchen.cn', industry: '制造', tags: ['imported'] });
  });

  it('bad rows fail alone, with their row numbers (1 = the first data row) and reasons', async () => {
    await inDirectory(root, alice);
    const done = await runToEnd(
      root,
      (
        await startJson(root, {
          entity: 'accounts',
          csv: csv('name,email,tier,ownerId', 'Good One,,A,', ',nobody@x.cn,,', 'Bad Mail,not-an-email,,', '', 'Bad Tier,,Z,', 'Alices,,,alice', 'Ghosts,,,ghost'),
        })
      ).id,
    );
    // The blank line is no row: rows are counted among data rows.
    expect(done).toMatchObject({ total: 6, created: 2, failed: 4 });
    expect(done.errors.map((e: { row: number }) => e.row)).toEqual([2, 3, 4, 6]);
    expect(done.errors[0].message).toContain('name');
    expect(done.errors[1].message).toContain('email');
    expect(done.errors[2].message).toContain('tier');
    expect(done.errors[3]).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('ghost') });
    expect((await listAll(root, '/v1/accounts?ownerId=alice')).map((a) => a.name)).toEqual(['Alices']);
  });

  it('owners: an ownerId column for admins and managers (within the team); a marketer may not name owners', async () => {
    const { mark } = callers(T);
    await inDirectory(mia, max, alice, mark);
    const done = await runToEnd(mia, (await startJson(mia, { entity: 'leads', csv: csv('name,ownerId', '线索一,alice', '线索二,max') })).id);
    expect(done).toMatchObject({ created: 1, failed: 1 });
    expect(done.errors[0]).toMatchObject({ row: 2, code: 'forbidden' });
    expectProblem(await api(mark).post('/v1/imports', { entity: 'leads', csv: csv('name,ownerId', 'x,alice') }), 403, 'forbidden');
  });
});

describe('limits and roles', () => {
  const { root, mia, max, alice, mark, sam } = callers('lim');

  it('a CSV over 5 MB → 413 (raw and in JSON); more than 50,000 rows → 400; nothing is created', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 1, 'a');
    big.write('name\n');
    expectProblem(await postRaw(root, big, 'entity=accounts'), 413, 'payload_too_large');
    expectProblem(await api(root).post('/v1/imports', { entity: 'accounts', csv: big.toString('utf8') }), 413, 'payload_too_large');
    const tooMany = `name\n${'x\n'.repeat(50_001)}`;
    const res = await api(root).post('/v1/imports', { entity: 'accounts', csv: tooMany });
    expectFieldError(res, 'csv');
    expect(res.body).toContain('50000');
    expect(await listAll(root, '/v1/imports')).toEqual([]);
  });

  it('roles: admin and manager for every entity, marketer leads and contacts, nobody else; raw bodies need their entity', async () => {
    await inDirectory(root, mia, max, alice, mark, sam);
    const body = (entity: string) => ({ entity, csv: csv('name', `${entity} of someone`) });
    for (const entity of ['accounts', 'contacts', 'leads']) {
      expect((await api(mia).post('/v1/imports', body(entity))).status).toBe(202);
      for (const who of [alice, sam]) expectProblem(await api(who).post('/v1/imports', body(entity)), 403, 'forbidden');
    }
    expectProblem(await api(mark).post('/v1/imports', body('accounts')), 403, 'forbidden');
    const marks = await startJson(mark, body('contacts'));
    expect((await runToEnd(mark, marks.id)).created).toBe(1);
    expect((await startJson(mark, body('leads'))).status).toBe('queued');
    expectFieldError(await postRaw(mia, Buffer.from(csv('name', 'x')), ''), 'entity');
    expectFieldError(await postRaw(mia, Buffer.from(csv('name', 'x')), 'entity=tickets'), 'entity');
    expectProblem(await api(mia).post('/v1/imports', 'name\nx\n', { raw: 'name\nx\n', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');

    // Its creator and admins read an import; other importers do not see it, other roles may not.
    expect((await api(root).get(`/v1/imports/${marks.id}`)).status).toBe(200);
    expectProblem(await api(mia).get(`/v1/imports/${marks.id}`), 404, 'not_found');
    expectProblem(await api(alice).get(`/v1/imports/${marks.id}`), 403, 'forbidden');
    expect((await listAll(mark, '/v1/imports')).map((i) => i.id)).toContain(marks.id);
    expect((await listAll(mia, '/v1/imports')).map((i) => i.id)).not.toContain(marks.id);
    expect((await listAll(root, '/v1/imports')).length).toBeGreaterThanOrEqual(5);
    expectProblem(await api(sam).get('/v1/imports'), 403, 'forbidden');
  });
});

describe('the background run', () => {
  const rowsOf = (n: number, prefix: string) => csv('name,email', ...Array.from({ length: n }, (_, i) => `${prefix} ${i + 1},${prefix.toLowerCase()}${i + 1}@example.cn`));

  it('the import.created event starts the run (the local bus: the imports consumer); GET shows the progress', async () => {
    const { root } = callers('bg1');
    const started = await startJson(root, { entity: 'leads', csv: rowsOf(30, 'Evt') });
    await deliverPending(publisher());
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 30, created: 30 });
    expect((await everything(root, 'leads')).length).toBe(30);
  });

  it('a run that runs out of time stops with its progress saved; the import-runner job goes on', async () => {
    const { root } = callers('bg2');
    const started = await startJson(root, { entity: 'accounts', csv: rowsOf(130, 'Budget') });
    const first = await runImport(root.tenant, started.id, { now, maxRows: 50 });
    expect(first.processed).toBe(50);
    expect(await getImport(root, started.id)).toMatchObject({ status: 'running', processed: 50, created: 50, finishedAt: null });
    const job = await api(root).post('/_local/jobs/import-runner', { now: now.toISOString() });
    expect(job.status, job.body).toBe(200);
    // Other tests' imports left queued in this file's table are resumed too.
    expect(job.json).toMatchObject({ job: 'import-runner' });
    expect(job.json.processed).toBeGreaterThanOrEqual(80);
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 130, created: 130 });
    // Done imports leave the due index: the next run has nothing to do.
    expect((await api(root).post('/_local/jobs/import-runner', { now: now.toISOString() })).json.processed).toBe(0);
  });

  it('KILLED HALFWAY AND RESUMED: every row is imported once, and counted once', async () => {
    const { root } = callers('kill');
    const started = await startJson(root, { entity: 'accounts', csv: rowsOf(250, 'Kill') });
    // Dies in the middle of the second batch: 100 rows saved, up to ~27 more applied but not saved.
    await expect(runImport(root.tenant, started.id, { now, crashAfterRows: 120 })).rejects.toBeInstanceOf(InjectedCrash);
    const halfway = await getImport(root, started.id);
    expect(halfway).toMatchObject({ status: 'running', processed: 100, created: 100 });
    const landed = (await everything(root, 'accounts')).length;
    expect(landed).toBeGreaterThanOrEqual(120);
    // The dead runner's lease holds for 5 minutes; a run within them finds the import busy.
    expect((await runImport(root.tenant, started.id, { now })).status).toBe('busy');
    const later = new Date(now.getTime() + 6 * 60 * 1000);
    const report = await runImport(root.tenant, started.id, { now: later });
    expect(report).toMatchObject({ processed: 150, status: 'done' });
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 250, created: 250, skipped: 0, failed: 0 });
    const names = (await everything(root, 'accounts')).map((a) => a.name);
    expect(names.length).toBe(250);
    expect(new Set(names).size).toBe(250);
    // The owner's account count (the pool's cap counter), added per batch with its progress: once per account too.
    expect((await getItem(repCounterKey(root.tenant, 'root')))?.owned).toBe(250);
  });

  it('KILLED, a landed record deleted, then RESUMED: its row is not imported again (the marker of its transaction says it was), and its owner counted once', async () => {
    const { root } = callers('kill-del');
    const started = await startJson(root, { entity: 'accounts', csv: rowsOf(200, 'Del') });
    await expect(runImport(root.tenant, started.id, { now, crashAfterRows: 110 })).rejects.toBeInstanceOf(InjectedCrash);
    expect(await getImport(root, started.id)).toMatchObject({ processed: 100 });
    // A row past the saved cursor whose record landed: someone deletes it before the resume.
    const landed = (await everything(root, 'accounts')).find((a) => Number(String(a.name).split(' ')[1]) > 100);
    expect(landed).toBeDefined();
    expect((await api(root).delete(`/v1/accounts/${landed!.id}`)).status).toBe(204);
    await runImport(root.tenant, started.id, { now: new Date(now.getTime() + 6 * 60 * 1000) });
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 200, created: 200 });
    const names = (await everything(root, 'accounts')).map((a) => a.name);
    expect(names).not.toContain(landed!.name);
    expect(names.length).toBe(199);
    // 200 created (counted per batch from the rows and the markers), one deleted.
    expect((await getItem(repCounterKey(root.tenant, 'root')))?.owned).toBe(199);
  });

  it('an import whose rows are gone (their 30 days passed) ends failed, off the due list, instead of retrying forever', async () => {
    const { root } = callers('gone');
    const started = await startJson(root, { entity: 'leads', csv: rowsOf(5, 'Gone') });
    await db.send(new DeleteCommand({ TableName: tableName(), Key: chunkKey(root.tenant, started.id, 0) }));
    expect(await runImport(root.tenant, started.id, { now })).toMatchObject({ processed: 0, status: 'failed' });
    const failed = await getImport(root, started.id);
    expect(failed).toMatchObject({ status: 'failed', processed: 0, finishedAt: expect.any(String) });
    expect(failed.errors.at(-1)).toMatchObject({ row: 1, code: 'import_failed' });
    expect((await runImport(root.tenant, started.id, { now })).status).toBe('busy');
  });

  it('two runners at once on one import: each row once', async () => {
    const { root } = callers('twins');
    const started = await startJson(root, { entity: 'contacts', csv: rowsOf(220, 'Twin') });
    const reports = await Promise.all([
      runImport(root.tenant, started.id, { now, runnerId: 'a' }),
      runImport(root.tenant, started.id, { now, runnerId: 'b' }),
    ]);
    expect(reports.reduce((n, r) => n + r.processed, 0)).toBe(220);
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 220, created: 220 });
    const names = (await everything(root, 'contacts')).map((c) => c.name);
    expect(names.length).toBe(220);
    expect(new Set(names).size).toBe(220);
  });

  it('two runners whose leases overlap (a lease lapsed under a slow runner): rows still land once', async () => {
    const { root } = callers('twins2');
    const started = await startJson(root, { entity: 'leads', csv: rowsOf(150, 'Lap') });
    // b starts with a clock past a's lease: both run at once, on the same rows.
    const reports = await Promise.all([
      runImport(root.tenant, started.id, { now, runnerId: 'a' }),
      runImport(root.tenant, started.id, { now: new Date(now.getTime() + 6 * 60 * 1000), runnerId: 'b' }),
    ]);
    // Whoever lost a batch stopped; whatever is left, the job finishes.
    await runImport(root.tenant, started.id, { now: new Date(now.getTime() + 20 * 60 * 1000) });
    expect(reports.some((r) => r.processed > 0)).toBe(true);
    expect(await getImport(root, started.id)).toMatchObject({ status: 'done', processed: 150, created: 150 });
    const names = (await everything(root, 'leads')).map((c) => c.name);
    expect(names.length).toBe(150);
    expect(new Set(names).size).toBe(150);
  });
});

describe('several rows in one transaction', () => {
  it('a row whose guard is taken after the read-ahead cancels the shared transaction: it alone is skipped, the others land, and a rerun lands nothing twice', async () => {
    const { root } = callers('shared');
    await inDirectory(root);
    const job: ImportJob = {
      id: 'shared-1',
      entity: 'accounts',
      importer: { tenantId: root.tenant, userId: 'root', role: 'admin' },
      columns: [
        { column: 0, header: 'name', field: 'name' },
        { column: 1, header: 'email', field: 'email' },
      ],
      onDuplicate: 'skip',
      defs: [],
    };
    const rows = [['One Co', 'one@x.cn'], ['Two Co', 'two@x.cn'], ['Three Co', 'three@x.cn']];
    const ready = (await Promise.all(rows.map((cells, i) => prepareRow(job, i + 1, cells, now)))).filter(isReady);
    expect(ready).toHaveLength(3);
    // Between the runner's read of the guards and its commit, someone saves Two Co.
    expect((await api(root).post('/v1/accounts', { name: 'Two Co.' })).status).toBe(201);
    expect((await commitRows(job, ready)).map((o) => o.kind)).toEqual(['created', 'skipped', 'created']);
    const names = async () => (await everything(root, 'accounts')).map((a) => a.name).sort();
    expect(await names()).toEqual(['One Co', 'Three Co', 'Two Co.']);
    // The same rows again (a twin runner, a rerun): their records (ids derived from the rows) are there, nothing lands twice.
    expect((await commitRows(job, ready)).map((o) => o.kind)).toEqual(['created', 'skipped', 'created']);
    expect(await names()).toEqual(['One Co', 'Three Co', 'Two Co.']);
  });

  it('rows touching one item (contacts of one account check it) go to different transactions', async () => {
    const { root } = callers('same-account');
    const account = await api(root).post('/v1/accounts', { name: '同一客户' });
    expect(account.status).toBe(201);
    const lines = Array.from({ length: 12 }, (_, i) => `联系人 ${i + 1},c${i + 1}@same.cn,${account.json.id}`);
    const done = await runToEnd(root, (await startJson(root, { entity: 'contacts', csv: csv('name,email,accountId', ...lines) })).id);
    expect(done).toMatchObject({ total: 12, created: 12, failed: 0 });
    expect((await listAll(root, `/v1/contacts?accountId=${account.json.id}`)).length).toBe(12);
  });
});
