/**
 * Duplicate prevention for leads (issue 3 points 1–2, API.md §5 Duplicates): a lead's company,
 * email and phone are unique among leads and checked against accounts and contacts, race-proof;
 * a conversion refuses a company that is an account's, or an email/phone that is a contact's.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey } from '#domain/table/keys.ts';
import { api, expectProblem, fetchRecord, listAll, uniq, type Caller, type Sent } from '#test/support/fixtures.ts';

const T = 'lead-dups';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'lead-dups-other', user: 'alice', role: 'rep', team: 'east' };

const token = () => uniq('d').replace(/\W/g, '').toLowerCase();
let phoneSeq = 0;
/** A fresh valid CN mobile number, and two other ways of writing it. */
function phone() {
  const digits = `1360${String(Date.now() % 1e4).padStart(4, '0')}${String(++phoneSeq).padStart(3, '0')}`;
  return { e164: `+86${digits}`, spaced: `+86 ${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}`, dashed: `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`, plain: digits };
}

function expectDuplicate(res: Sent, want: { existingId: string; entity: string; matchedOn: string[]; ownerId?: string; inPool?: boolean }) {
  expectProblem(res, 409, 'duplicate');
  expect(res.json.existingId, res.body).toBe(want.existingId);
  expect(res.json.entity, res.body).toBe(want.entity);
  expect(res.json.matchedOn, res.body).toEqual(want.matchedOn);
  expect(res.json.inPool, res.body).toBe(want.inPool ?? false);
  if (want.ownerId === undefined) expect('ownerId' in res.json, `no ownerId for a record the caller cannot open: ${res.body}`).toBe(false);
  else expect(res.json.ownerId, res.body).toBe(want.ownerId);
}

beforeAll(async () => {
  for (const c of [alice, bob, mia, root, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('leads against leads', () => {
  it('company, email and phone are unique among leads, however they are written', async () => {
    const k = token();
    const p = phone();
    const first = await api(alice).post('/v1/leads', { name: '甲', company: `星辰${k}科技有限公司`, email: `Lead.${k}@Example.CN`, phone: p.spaced });
    expect(first.status, first.body).toBe(201);
    const id = first.json.id as string;

    // The owner sees who holds it; another rep only that someone does; a marketer reads every lead.
    expectDuplicate(await api(alice).post('/v1/leads', { name: '乙', company: `星辰${k}科技` }), { existingId: id, entity: 'lead', matchedOn: ['name'], ownerId: 'alice' });
    expectDuplicate(await api(bob).post('/v1/leads', { name: '乙', email: `lead.${k}@example.cn` }), { existingId: id, entity: 'lead', matchedOn: ['email'] });
    expectDuplicate(await api(mark).post('/v1/leads', { name: '乙', phone: p.dashed }), { existingId: id, entity: 'lead', matchedOn: ['phone'], ownerId: 'alice' });
    expectDuplicate(await api(mia).post('/v1/leads', { name: '乙', company: `星辰${k}科技 集团`, phone: p.plain }), {
      existingId: id,
      entity: 'lead',
      matchedOn: ['name', 'phone'],
      ownerId: 'alice',
    });
    // Another tenant is another world.
    expect((await api(other).post('/v1/leads', { name: '甲', company: `星辰${k}科技有限公司`, email: `lead.${k}@example.cn`, phone: p.spaced })).status).toBe(201);
    expect((await listAll(root, '/v1/leads')).filter((l) => l.company?.includes(k))).toHaveLength(1);
  });

  it('ten reps creating the same lead at once: one 201, nine 409 duplicate naming it', async () => {
    const k = token();
    const reps = Array.from({ length: 10 }, (_, i): Caller => ({ tenant: T, user: `racer${i}`, role: 'rep', team: 'east' }));
    const answers = await Promise.all(reps.map((r) => api(r).post('/v1/leads', { name: `王${k}`, company: `同一家公司 ${k}`, email: `same.${k}@example.cn` })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201), `statuses ${statuses}`).toHaveLength(1);
    const winner = answers.find((a) => a.status === 201)!;
    for (const a of answers.filter((x) => x.status !== 201)) {
      expectProblem(a, 409, 'duplicate');
      expect(a.json.existingId).toBe(winner.json.id);
      expect(a.json.entity).toBe('lead');
    }
    expect((await listAll(root, '/v1/leads')).filter((l) => l.company === `同一家公司 ${k}`)).toHaveLength(1);
  });

  it('PATCH claims new values and frees old ones; a reformatted phone changes nothing; delete frees everything', async () => {
    const k = token();
    const p = phone();
    const a = (await api(alice).post('/v1/leads', { name: 'A', company: `Acme ${k} Inc.`, email: `a.${k}@acme.cn`, phone: p.spaced })).json;
    const b = (await api(alice).post('/v1/leads', { name: 'B', email: `b.${k}@acme.cn` })).json;
    expectDuplicate(await api(alice).patch(`/v1/leads/${b.id}`, { email: `A.${k}@acme.cn` }), { existingId: a.id, entity: 'lead', matchedOn: ['email'], ownerId: 'alice' });
    expect((await fetchRecord(alice, 'leads', b.id))!.version).toBe(1);

    const reformatted = await api(alice).patch(`/v1/leads/${a.id}`, { phone: p.dashed, company: `ACME ${k}` });
    expect(reformatted.status, reformatted.body).toBe(200);
    const moved = await api(alice).patch(`/v1/leads/${a.id}`, { email: `a2.${k}@acme.cn` });
    expect(moved.status, moved.body).toBe(200);
    expect((await api(alice).patch(`/v1/leads/${b.id}`, { email: `a.${k}@acme.cn` })).status, 'the old email is free').toBe(200);
    expectDuplicate(await api(bob).post('/v1/leads', { name: 'C', phone: p.plain }), { existingId: a.id, entity: 'lead', matchedOn: ['phone'] });
    // Clearing a value frees it too.
    expect((await api(alice).patch(`/v1/leads/${a.id}`, { phone: null })).status).toBe(200);
    expect((await api(bob).post('/v1/leads', { name: 'C', phone: p.plain })).status).toBe(201);

    expect((await api(alice).delete(`/v1/leads/${a.id}`)).status).toBe(204);
    expect((await api(bob).post('/v1/leads', { name: 'D', company: `acme ${k} llc`, email: `a2.${k}@acme.cn` })).status).toBe(201);
  });
});

describe('leads against accounts and contacts', () => {
  it('a lead whose company is an account’s name, or whose email or phone is an account’s or a contact’s → 409 naming it', async () => {
    const k = token();
    const p = phone();
    const q = phone();
    const account = (await api(bob).post('/v1/accounts', { name: `海川${k}股份有限公司`, phone: q.e164 })).json;
    const contact = (await api(bob).post('/v1/contacts', { name: '赵六', email: `zhao.${k}@haichuan.cn`, phone: p.e164, accountId: account.id })).json;

    expectDuplicate(await api(alice).post('/v1/leads', { name: 'x', company: `海川${k}` }), { existingId: account.id, entity: 'account', matchedOn: ['name'] });
    expectDuplicate(await api(mia).post('/v1/leads', { name: 'x', company: `海川${k}` }), { existingId: account.id, entity: 'account', matchedOn: ['name'], ownerId: 'bob' });
    expectDuplicate(await api(alice).post('/v1/leads', { name: 'x', phone: q.dashed }), { existingId: account.id, entity: 'account', matchedOn: ['phone'] });
    expectDuplicate(await api(alice).post('/v1/leads', { name: 'x', email: `ZHAO.${k}@haichuan.cn` }), { existingId: contact.id, entity: 'contact', matchedOn: ['email'] });
    expectDuplicate(await api(root).post('/v1/leads', { name: 'x', phone: p.spaced }), { existingId: contact.id, entity: 'contact', matchedOn: ['phone'], ownerId: 'bob' });
    // …and by PATCH.
    const lead = (await api(alice).post('/v1/leads', { name: 'y', email: `y.${k}@example.cn` })).json;
    expectDuplicate(await api(alice).patch(`/v1/leads/${lead.id}`, { company: `海川${k}有限公司` }), { existingId: account.id, entity: 'account', matchedOn: ['name'] });
    expect((await listAll(root, '/v1/leads')).filter((l) => l.name === 'x')).toEqual([]);
  });

  it('a duplicate of a pool account says inPool: true', async () => {
    const k = token();
    const account = (await api(bob).post('/v1/accounts', { name: `公海 ${k}` })).json;
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: entityKey(T, 'ACCOUNT', account.id),
        UpdateExpression: 'SET poolStatus = :p, ownerId = :null REMOVE ownerPk, ownerSk',
        ExpressionAttributeValues: { ':p': 'pool', ':null': null },
      }),
    );
    const res = await api(alice).post('/v1/leads', { name: 'x', company: `公海 ${k}` });
    expectProblem(res, 409, 'duplicate');
    expect(res.json).toMatchObject({ existingId: account.id, entity: 'account', inPool: true });
  });

  it('GET /v1/duplicates reports leads as entity "lead", with ownerId only for callers who may open them', async () => {
    const k = token();
    const lead = (await api(alice).post('/v1/leads', { name: 'z', company: `查重 ${k}`, email: `dup.${k}@example.cn` })).json;
    const asBob = await api(bob).get(`/v1/duplicates?name=${encodeURIComponent(`查重 ${k} 有限公司`)}&email=dup.${k}@EXAMPLE.cn`);
    expect(asBob.status, asBob.body).toBe(200);
    expect(asBob.json.items).toEqual([{ id: lead.id, entity: 'lead', matchedOn: ['name', 'email'], inPool: false }]);
    const asMark = await api(mark).get(`/v1/duplicates?email=dup.${k}@example.cn`);
    expect(asMark.json.items).toEqual([{ id: lead.id, entity: 'lead', matchedOn: ['email'], inPool: false, ownerId: 'alice' }]);
  });
});

describe('conversion and duplicates', () => {
  it('without accountId, a company that is an account’s name → 409 duplicate; with that accountId it converts', async () => {
    const k = token();
    const lead = (await api(alice).post('/v1/leads', { name: '钱七', company: `后来的客户 ${k}`, email: `qian.${k}@example.cn` })).json;
    // Accounts do not check leads: the account can appear after the lead.
    const account = (await api(alice).post('/v1/accounts', { name: `后来的客户 ${k} 有限公司` })).json;
    const refused = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expectDuplicate(refused, { existingId: account.id, entity: 'account', matchedOn: ['name'], ownerId: 'alice' });
    expect((await fetchRecord(alice, 'leads', lead.id))!.status).toBe('new');
    expect((await listAll(root, `/v1/contacts?q=${encodeURIComponent('钱七')}`)).filter((c) => c.email === `qian.${k}@example.cn`)).toEqual([]);

    const ok = await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: account.id });
    expect(ok.status, ok.body).toBe(200);
    expect(ok.json.accountId).toBe(account.id);
  });

  it('an email or phone that is a contact’s → 409 duplicate naming the contact, even with accountId', async () => {
    const k = token();
    const p = phone();
    const lead = (await api(alice).post('/v1/leads', { name: '孙八', email: `sun.${k}@example.cn`, phone: p.spaced })).json;
    const account = (await api(alice).post('/v1/accounts', { name: `孙八的公司 ${k}` })).json;
    const contact = (await api(bob).post('/v1/contacts', { name: '孙八 (bob)', phone: p.plain })).json;
    expectDuplicate(await api(alice).post(`/v1/leads/${lead.id}/convert`, {}), { existingId: contact.id, entity: 'contact', matchedOn: ['phone'] });
    expectDuplicate(await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: account.id }), { existingId: contact.id, entity: 'contact', matchedOn: ['phone'] });
    expect((await fetchRecord(alice, 'leads', lead.id))!).toMatchObject({ status: 'new', version: 1 });
    expect((await listAll(root, `/v1/accounts?q=${encodeURIComponent('孙八')}`)).map((a) => a.id)).toEqual([account.id]);
  });

  it('a conversion hands the lead’s values to the account and contact: new leads with them now meet those', async () => {
    const k = token();
    const p = phone();
    const lead = (await api(alice).post('/v1/leads', { name: '周九', company: `转化公司 ${k}`, email: `zhou.${k}@example.cn`, phone: p.spaced })).json;
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expect(res.status, res.body).toBe(200);
    expectDuplicate(await api(bob).post('/v1/leads', { name: 'again', company: `转化公司 ${k}` }), { existingId: res.json.accountId, entity: 'account', matchedOn: ['name'] });
    expectDuplicate(await api(bob).post('/v1/leads', { name: 'again', email: `zhou.${k}@example.cn` }), { existingId: res.json.contactId, entity: 'contact', matchedOn: ['email'] });
    const found = await api(alice).get(`/v1/duplicates?email=zhou.${k}@example.cn&phone=${encodeURIComponent(p.plain)}`);
    expect(found.json.items).toEqual([{ id: res.json.contactId, entity: 'contact', matchedOn: ['email', 'phone'], inPool: false, ownerId: 'alice' }]);
    // Deleting the converted lead touches no guard of the account or contact.
    expect((await api(alice).delete(`/v1/leads/${lead.id}`)).status).toBe(204);
    expectDuplicate(await api(bob).post('/v1/leads', { name: 'again', company: `转化公司 ${k}` }), { existingId: res.json.accountId, entity: 'account', matchedOn: ['name'] });
  });
});
