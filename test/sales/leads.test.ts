/**
 * Leads (API.md §5): create, read, change, delete, list with filters, visibility by role,
 * status rules, hand-off from marketing to sales. Through the HTTP API with real tokens.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'leads';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'leads-other', user: 'root', role: 'admin' };

let n = 0;
const token = () => `${uniq('x').replace(/\W/g, '').toLowerCase()}${++n}`;
const leadBody = (extra: Record<string, unknown> = {}) => {
  const k = token();
  return { name: `张伟 ${k}`, company: `星辰科技 ${k} 有限公司`, email: `zhang.${k}@example.cn`, source: 'trade fair', ...extra };
};

beforeAll(async () => {
  // Everyone in the directory, so assignments can name them.
  for (const c of [alice, bob, wes, mia, max, root, sam, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('leads: CRUD', () => {
  it('creates with defaults, reads with ETag, patches with If-Match, deletes', async () => {
    const body = leadBody({ name: '  李娜 ', title: '采购经理', phone: '138-0013-8000', tags: ['expo'] });
    const created = await api(alice).post('/v1/leads', body);
    expect(created.status, created.body).toBe(201);
    expect(created.json).toMatchObject({
      name: '李娜',
      company: body.company,
      email: body.email,
      phone: '138-0013-8000',
      title: '采购经理',
      source: 'trade fair',
      status: 'new',
      tags: ['expo'],
      ownerId: 'alice',
      createdBy: 'alice',
      version: 1,
    });
    expect(created.json.ownerTeamId).toBeUndefined();
    for (const f of ['convertedAt', 'accountId', 'contactId', 'opportunityId']) expect(created.json[f]).toBeUndefined();
    const id = created.json.id as string;
    expect(created.headers.location).toBe(`/v1/leads/${id}`);

    const got = await api(alice).get(`/v1/leads/${id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    expect(got.json).toEqual(created.json);

    const patched = await api(alice).patch(`/v1/leads/${id}`, { status: 'working', title: null }, { headers: { 'if-match': '"1"' } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json).toMatchObject({ status: 'working', version: 2 });
    expect('title' in patched.json).toBe(false);
    expectProblem(await api(alice).patch(`/v1/leads/${id}`, { status: 'qualified' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');

    expect((await api(alice).delete(`/v1/leads/${id}`)).status).toBe(204);
    expectProblem(await api(alice).get(`/v1/leads/${id}`), 404, 'not_found');
    expectProblem(await api(root).get(`/v1/leads/${id}`), 404, 'not_found');
  });

  it('statuses move freely among new, working, qualified, disqualified; converted only by converting', async () => {
    const id = (await api(alice).post('/v1/leads', leadBody())).json.id as string;
    for (const status of ['working', 'disqualified', 'working', 'qualified', 'new'] as const) {
      const res = await api(alice).patch(`/v1/leads/${id}`, { status, ...(status === 'disqualified' ? { disqualifiedReason: 'no budget' } : {}) });
      expect(res.status, res.body).toBe(200);
      expect(res.json.status).toBe(status);
    }
    const before = (await api(alice).get(`/v1/leads/${id}`)).json;
    expectProblem(await api(alice).patch(`/v1/leads/${id}`, { status: 'converted' }), 409, 'invalid_transition');
    expect((await api(alice).get(`/v1/leads/${id}`)).json).toEqual(before);
    // A new lead may start in any open status, never converted.
    expect((await api(alice).post('/v1/leads', leadBody({ status: 'qualified' }))).json.status).toBe('qualified');
    expectFieldError(await api(alice).post('/v1/leads', leadBody({ status: 'converted' })), 'status');
    expectFieldError(await api(alice).patch(`/v1/leads/${id}`, { status: 'won' }), 'status');
  });

  it('server-owned and conversion fields cannot be sent', async () => {
    for (const field of ['convertedAt', 'accountId', 'contactId', 'opportunityId', 'convertedBy', 'createdBy', 'id', 'version']) {
      expectFieldError(await api(alice).post('/v1/leads', leadBody({ [field]: 'x' })), field);
    }
    const id = (await api(alice).post('/v1/leads', leadBody())).json.id as string;
    for (const field of ['convertedAt', 'accountId', 'contactId', 'opportunityId']) {
      expectFieldError(await api(alice).patch(`/v1/leads/${id}`, { [field]: 'x' }), field);
    }
    expectFieldError(await api(alice).post('/v1/leads', { company: 'no name' }), 'name');
    expectFieldError(await api(alice).post('/v1/leads', leadBody({ email: 'not-an-email' })), 'email');
    expectFieldError(await api(alice).patch(`/v1/leads/${id}`, { name: null }), 'name');
  });
});

describe('leads: who sees and changes what', () => {
  it('reps see their own; managers their team; admins and marketers all; support nothing', async () => {
    const id = (await api(alice).post('/v1/leads', leadBody())).json.id as string;
    const expectations: [Caller, number][] = [
      [alice, 200], [bob, 404], [wes, 404], [mia, 200], [max, 404], [root, 200], [mark, 200], [sam, 403], [other, 404],
    ];
    for (const [c, status] of expectations) expect((await api(c).get(`/v1/leads/${id}`)).status, `${c.user}`).toBe(status);
    for (const [c, lists] of [[alice, true], [bob, false], [mia, true], [max, false], [root, true], [mark, true], [other, false]] as const) {
      expect((await listAll(c, '/v1/leads')).some((l) => l.id === id), `${c.user} lists it`).toBe(lists);
    }
    expectProblem(await api(sam).get('/v1/leads'), 403, 'forbidden');
    expectProblem(await api(sam).post('/v1/leads', leadBody()), 403, 'forbidden');
  });

  it("marketers read every lead but change only their own; others' are 403", async () => {
    const id = (await api(alice).post('/v1/leads', leadBody())).json.id as string;
    expectProblem(await api(mark).patch(`/v1/leads/${id}`, { status: 'working' }), 403, 'forbidden');
    expectProblem(await api(mark).delete(`/v1/leads/${id}`), 403, 'forbidden');
    expectProblem(await api(mark).post(`/v1/leads/${id}/convert`, {}), 403, 'forbidden');
    expect((await api(alice).get(`/v1/leads/${id}`)).json.version).toBe(1);

    const own = await api(mark).post('/v1/leads', leadBody({ source: 'campaign: spring expo' }));
    expect(own.status, own.body).toBe(201);
    expect(own.json.ownerId).toBe('mark');
    expect((await api(mark).patch(`/v1/leads/${own.json.id}`, { status: 'qualified' })).status).toBe(200);
  });

  it('marketing hands a lead to any sales user (on create or by patch), then only reads it', async () => {
    const handed = await api(mark).post('/v1/leads', leadBody({ ownerId: 'wes' }));
    expect(handed.status, handed.body).toBe(201);
    expect(handed.json.ownerId).toBe('wes');
    expect((await api(wes).get(`/v1/leads/${handed.json.id}`)).status).toBe(200);
    expect((await api(max).get(`/v1/leads/${handed.json.id}`)).status, "wes's manager sees it").toBe(200);
    expectProblem(await api(mark).patch(`/v1/leads/${handed.json.id}`, { status: 'working' }), 403, 'forbidden');

    const own = (await api(mark).post('/v1/leads', leadBody())).json.id as string;
    const moved = await api(mark).patch(`/v1/leads/${own}`, { ownerId: 'alice', status: 'qualified' });
    expect(moved.status, moved.body).toBe(200);
    expect(moved.json.ownerId).toBe('alice');
    expect((await api(mia).get(`/v1/leads/${own}`)).status).toBe(200);

    // Only to sales users, and only to users the directory holds.
    expectFieldError(await api(mark).post('/v1/leads', leadBody({ ownerId: 'sam' })), 'ownerId');
    expectFieldError(await api(mark).post('/v1/leads', leadBody({ ownerId: 'nobody' })), 'ownerId');
  });

  it('reps cannot give leads away; managers reassign within their team; admins anywhere', async () => {
    const id = (await api(alice).post('/v1/leads', leadBody())).json.id as string;
    expectProblem(await api(alice).patch(`/v1/leads/${id}`, { ownerId: 'bob' }), 403, 'forbidden');
    expectProblem(await api(alice).post('/v1/leads', leadBody({ ownerId: 'bob' })), 403, 'forbidden');
    expectProblem(await api(mia).patch(`/v1/leads/${id}`, { ownerId: 'wes' }), 403, 'forbidden');
    const toBob = await api(mia).patch(`/v1/leads/${id}`, { ownerId: 'bob' });
    expect(toBob.status, toBob.body).toBe(200);
    expect((await api(bob).get(`/v1/leads/${id}`)).status).toBe(200);
    expectProblem(await api(alice).get(`/v1/leads/${id}`), 404, 'not_found');
    const toWes = await api(root).patch(`/v1/leads/${id}`, { ownerId: 'wes' });
    expect(toWes.json.ownerId).toBe('wes');
    expect((await api(max).get(`/v1/leads/${id}`)).status).toBe(200);
    expectProblem(await api(mia).get(`/v1/leads/${id}`), 404, 'not_found');
  });
});

describe('leads: lists', () => {
  const T2 = 'leads-lists';
  const ann: Caller = { tenant: T2, user: 'ann', role: 'rep', team: 'north' };
  const ben: Caller = { tenant: T2, user: 'ben', role: 'rep', team: 'north' };
  const cat: Caller = { tenant: T2, user: 'cat', role: 'rep', team: 'south' };
  const meg: Caller = { tenant: T2, user: 'meg', role: 'manager', team: 'north' };
  const boss: Caller = { tenant: T2, user: 'boss', role: 'admin' };
  const mkt: Caller = { tenant: T2, user: 'mkt', role: 'marketer' };
  const made: Record<string, { id: string; name: string; status: string; ownerId: string }> = {};

  beforeAll(async () => {
    const plan: [Caller, string, string][] = [
      [ann, 'Alpha 阿尔法', 'new'],
      [ann, 'alpine', 'working'],
      [ann, 'Beta', 'qualified'],
      [ben, 'ＡＬＰＨＡ wide', 'working'],
      [ben, 'Gamma', 'new'],
      [cat, 'alphabet', 'working'],
      [cat, 'Delta', 'disqualified'],
    ];
    for (const [who, name, status] of plan) {
      const k = token();
      const res = await api(who).post('/v1/leads', { name, status, email: `${k}@lists.cn` });
      expect(res.status, res.body).toBe(201);
      made[name] = { id: res.json.id, name, status, ownerId: who.user };
    }
  });

  const names = async (c: Caller, query = '') => (await listAll(c, `/v1/leads${query ? `?${query}` : ''}`)).map((l) => l.name as string);

  it('name order; each role its own partition', async () => {
    expect(await names(ann)).toEqual(['Alpha 阿尔法', 'alpine', 'Beta']);
    expect(await names(meg)).toEqual(['ＡＬＰＨＡ wide', 'Alpha 阿尔法', 'alpine', 'Beta', 'Gamma']);
    expect(await names(boss)).toEqual(['ＡＬＰＨＡ wide', 'Alpha 阿尔法', 'alphabet', 'alpine', 'Beta', 'Delta', 'Gamma']);
    expect(await names(mkt)).toEqual(await names(boss));
  });

  it('status, ownerId (and me), q as a case- and width-insensitive name prefix, and combinations', async () => {
    expect(await names(boss, 'status=working')).toEqual(['ＡＬＰＨＡ wide', 'alphabet', 'alpine']);
    expect(await names(mkt, 'status=working&q=alp')).toEqual(['ＡＬＰＨＡ wide', 'alphabet', 'alpine']);
    expect(await names(boss, 'status=working&q=ALPHA')).toEqual(['ＡＬＰＨＡ wide', 'alphabet']);
    expect(await names(meg, 'status=working')).toEqual(['ＡＬＰＨＡ wide', 'alpine']);
    expect(await names(ann, 'status=working')).toEqual(['alpine']);
    expect(await names(ann, 'ownerId=me')).toEqual(['Alpha 阿尔法', 'alpine', 'Beta']);
    expect(await names(boss, 'ownerId=cat')).toEqual(['alphabet', 'Delta']);
    expect(await names(boss, 'ownerId=cat&status=disqualified')).toEqual(['Delta']);
    expect(await names(meg, 'ownerId=ben&q=ga')).toEqual(['Gamma']);
    expect(await names(ann, 'ownerId=ben'), 'another rep’s leads are not listed to a rep').toEqual([]);
    expect(await names(meg, 'ownerId=cat'), 'another team’s leads are not listed to a manager').toEqual([]);
    expect(await names(boss, 'q=%E9%98%BF')).toEqual([]); // 阿 is not a prefix of any name
    expect(await names(boss, 'q=alpha%20%E9%98%BF')).toEqual(['Alpha 阿尔法']);
  });

  it('a status change moves the lead between status lists; pages walk every item once', async () => {
    const id = made['Gamma']!.id;
    expect((await api(ben).patch(`/v1/leads/${id}`, { status: 'qualified' })).status).toBe(200);
    expect(await names(boss, 'status=new')).toEqual(['Alpha 阿尔法']);
    expect(await names(boss, 'status=qualified')).toEqual(['Beta', 'Gamma']);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; json: any } = await api(boss).get(`/v1/leads?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.items.map((l: { id: string }) => l.id));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(Object.values(made).map((m) => m.id).sort());
  });

  it('bad filters are 400', async () => {
    expectFieldError(await api(boss).get('/v1/leads?status=won'), 'status');
    expectFieldError(await api(boss).get('/v1/leads?source=x'), 'source');
  });
});
