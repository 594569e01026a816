/**
 * Duplicates and leads (API.md §5 leads; issue 11 point 1). Two leads may not share an email or
 * phone (409 duplicate, race-proof), but several leads may name one company, and a lead is never
 * refused because an account or contact shares its company, email or phone: conversion settles
 * that (409 duplicate without accountId), and `GET /v1/duplicates` shows it.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalizeCompanyName } from '#domain/accounts/normalize.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey, uniqueKey } from '#domain/table/keys.ts';
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

const created = (res: Sent) => {
  expect(res.status, res.body).toBe(201);
  return res.json as Record<string, any>;
};
const dupUrl = (params: Record<string, string>) => `/v1/duplicates?${new URLSearchParams(params).toString()}`;

describe('leads against leads: email and phone are unique, the company is not', () => {
  it('a second lead with the same email or phone, however written → 409 naming it; with the same company → 201', async () => {
    const k = token();
    const p = phone();
    const first = created(await api(alice).post('/v1/leads', { name: '甲', company: `星辰${k}科技有限公司`, email: `Lead.${k}@Example.CN`, phone: p.spaced }));
    const id = first.id as string;

    // Two people of one firm: the company, however written, refuses nothing.
    created(await api(bob).post('/v1/leads', { name: '乙', company: `星辰${k}科技` }));
    created(await api(alice).post('/v1/leads', { name: '丙', company: `星辰${k}科技 集团` }));
    // The owner sees who holds it; another rep only that someone does; a marketer reads every lead.
    expectDuplicate(await api(bob).post('/v1/leads', { name: '丁', company: `星辰${k}科技`, email: `lead.${k}@example.cn` }), { existingId: id, entity: 'lead', matchedOn: ['email'] });
    expectDuplicate(await api(mark).post('/v1/leads', { name: '丁', phone: p.dashed }), { existingId: id, entity: 'lead', matchedOn: ['phone'], ownerId: 'alice' });
    expectDuplicate(await api(mia).post('/v1/leads', { name: '丁', email: `LEAD.${k}@example.cn`, phone: p.plain }), {
      existingId: id,
      entity: 'lead',
      matchedOn: ['email', 'phone'],
      ownerId: 'alice',
    });
    // Another tenant is another world.
    created(await api(other).post('/v1/leads', { name: '甲', company: `星辰${k}科技有限公司`, email: `lead.${k}@example.cn`, phone: p.spaced }));
    expect((await listAll(root, '/v1/leads')).filter((l) => l.company?.includes(k)).map((l) => l.name).sort()).toEqual(['丙', '乙', '甲']);
  });

  it('ten reps creating leads with one email at once: one 201, nine 409 duplicate naming it', async () => {
    const k = token();
    const reps = Array.from({ length: 10 }, (_, i): Caller => ({ tenant: T, user: `racer${i}`, role: 'rep', team: 'east' }));
    const answers = await Promise.all(reps.map((r, i) => api(r).post('/v1/leads', { name: `王${k} ${i}`, company: `同一家公司 ${k}`, email: i % 2 ? `same.${k}@example.cn` : `SAME.${k}@Example.cn` })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201), `statuses ${statuses}`).toHaveLength(1);
    const winner = answers.find((a) => a.status === 201)!;
    for (const a of answers.filter((x) => x.status !== 201)) {
      expectProblem(a, 409, 'duplicate');
      expect(a.json.existingId).toBe(winner.json.id);
      expect(a.json.entity).toBe('lead');
      expect(a.json.matchedOn).toEqual(['email']);
    }
    expect((await listAll(root, '/v1/leads')).filter((l) => l.company === `同一家公司 ${k}`).map((l) => l.id)).toEqual([winner.json.id]);
  });

  it('ten leads of one firm created at once: all 201', async () => {
    const k = token();
    const reps = Array.from({ length: 10 }, (_, i): Caller => ({ tenant: T, user: `firm${i}`, role: 'rep', team: 'east' }));
    const answers = await Promise.all(reps.map((r, i) => api(r).post('/v1/leads', { name: `员工 ${i}`, company: `一家公司 ${k} 有限公司`, email: `staff${i}.${k}@example.cn` })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    const found = await listAll(root, dupUrl({ name: `一家公司 ${k}` }));
    expect(found.map((x) => x.id).sort()).toEqual(answers.map((a) => a.json.id).sort());
  });

  it('ten leads PATCHed to one phone at once: one 200, nine 409 duplicate naming it, the losers unchanged', async () => {
    const k = token();
    const p = phone();
    const ids = await Promise.all(Array.from({ length: 10 }, async (_, i) => created(await api(alice).post('/v1/leads', { name: `改号 ${k} ${i}` })).id as string));
    const writings = [p.e164, p.spaced, p.dashed, p.plain];
    const answers = await Promise.all(ids.map((id, i) => api(alice).patch(`/v1/leads/${id}`, { phone: writings[i % writings.length] })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200), `statuses ${statuses}`).toHaveLength(1);
    const winner = answers.find((a) => a.status === 200)!;
    for (const [i, a] of answers.entries()) {
      if (a === winner) continue;
      expectDuplicate(a, { existingId: winner.json.id, entity: 'lead', matchedOn: ['phone'], ownerId: 'alice' });
      expect(await fetchRecord(alice, 'leads', ids[i]!)).toMatchObject({ version: 1 });
    }
    expect((await listAll(alice, dupUrl({ phone: p.plain }))).map((x) => x.id)).toEqual([winner.json.id]);
  });

  it('PATCH claims new values and frees old ones; a reformatted phone changes nothing; delete frees everything', async () => {
    const k = token();
    const p = phone();
    const a = (await api(alice).post('/v1/leads', { name: 'A', company: `Acme ${k} Inc.`, email: `a.${k}@acme.cn`, phone: p.spaced })).json;
    const b = (await api(alice).post('/v1/leads', { name: 'B', email: `b.${k}@acme.cn` })).json;
    expectDuplicate(await api(alice).patch(`/v1/leads/${b.id}`, { email: `A.${k}@acme.cn` }), { existingId: a.id, entity: 'lead', matchedOn: ['email'], ownerId: 'alice' });
    expect((await fetchRecord(alice, 'leads', b.id))!.version).toBe(1);
    // Taking another lead's company is no duplicate.
    expect((await api(alice).patch(`/v1/leads/${b.id}`, { company: `ACME ${k}` })).status).toBe(200);

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

describe('leads against accounts and contacts: never refused, shown by GET /v1/duplicates', () => {
  it('a lead whose company is an account’s name, or whose email or phone is an account’s or a contact’s → 201, on create and PATCH', async () => {
    const k = token();
    const p = phone();
    const q = phone();
    const account = created(await api(bob).post('/v1/accounts', { name: `海川${k}股份有限公司`, email: `info.${k}@haichuan.cn`, phone: q.e164 }));
    const contact = created(await api(bob).post('/v1/contacts', { name: '赵六', email: `zhao.${k}@haichuan.cn`, phone: p.e164, accountId: account.id }));

    const byCompany = created(await api(alice).post('/v1/leads', { name: 'x1', company: `海川${k}` }));
    const sameFirm = created(await api(mia).post('/v1/leads', { name: 'x2', company: `海川${k}有限公司`, email: `ZHAO.${k}@haichuan.cn` }));
    const byPhones = created(await api(root).post('/v1/leads', { name: 'x3', phone: p.spaced }));
    const byAccount = created(await api(alice).post('/v1/leads', { name: 'x4', email: `INFO.${k}@haichuan.cn` }));
    // …and by PATCH.
    const later = created(await api(alice).post('/v1/leads', { name: 'y', email: `y.${k}@example.cn` }));
    const patched = await api(alice).patch(`/v1/leads/${later.id}`, { company: `海川${k} 集团`, phone: q.dashed });
    expect(patched.status, patched.body).toBe(200);

    // The search shows every side of it, the account and contact included.
    const asRoot = await listAll(root, dupUrl({ name: `海川${k}`, email: `zhao.${k}@haichuan.cn`, phone: p.plain }));
    const leadIds = [byCompany.id, sameFirm.id, byPhones.id, later.id].sort();
    expect(asRoot).toEqual([
      { id: account.id, entity: 'account', matchedOn: ['name'], inPool: false, ownerId: 'bob' },
      { id: contact.id, entity: 'contact', matchedOn: ['email', 'phone'], inPool: false, ownerId: 'bob' },
      ...leadIds.map((id) => ({
        id,
        entity: 'lead',
        matchedOn: id === sameFirm.id ? ['name', 'email'] : id === byPhones.id ? ['phone'] : ['name'],
        inPool: false,
        ownerId: id === sameFirm.id ? 'mia' : id === byPhones.id ? 'root' : 'alice',
      })),
    ]);
    // alice sees bob's account and contact without their owner.
    const asAlice = await listAll(alice, dupUrl({ email: `info.${k}@haichuan.cn`, phone: q.plain }));
    expect(asAlice).toEqual([
      { id: account.id, entity: 'account', matchedOn: ['email', 'phone'], inPool: false },
      ...[byAccount.id, later.id].sort().map((id) => ({ id, entity: 'lead', matchedOn: id === later.id ? ['phone'] : ['email'], inPool: false, ownerId: 'alice' })),
    ]);
  });

  it('a lead named after an account converts into it with accountId (200), and without → 409 duplicate naming it', async () => {
    const k = token();
    const account = created(await api(alice).post('/v1/accounts', { name: `老客户 ${k} 有限公司` }));
    const first = created(await api(alice).post('/v1/leads', { name: '采购 甲', company: `老客户 ${k}`, email: `buyer1.${k}@example.cn` }));
    const second = created(await api(alice).post('/v1/leads', { name: '采购 乙', company: `老客户 ${k}`, email: `buyer2.${k}@example.cn` }));

    expectDuplicate(await api(alice).post(`/v1/leads/${first.id}/convert`, {}), { existingId: account.id, entity: 'account', matchedOn: ['name'], ownerId: 'alice' });
    expect(await fetchRecord(alice, 'leads', first.id)).toMatchObject({ status: 'new', version: 1 });
    expect((await listAll(root, `/v1/accounts?q=${encodeURIComponent(`老客户 ${k}`)}`)).map((a) => a.id)).toEqual([account.id]);

    // Two people of one firm: two contacts on the one account.
    for (const lead of [first, second]) {
      const ok = await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: account.id });
      expect(ok.status, ok.body).toBe(200);
      expect(ok.json).toMatchObject({ status: 'converted', accountId: account.id });
    }
    const contacts = await listAll(alice, `/v1/contacts?accountId=${account.id}`);
    expect(contacts.map((c) => c.email).sort()).toEqual([`buyer1.${k}@example.cn`, `buyer2.${k}@example.cn`]);
  });

  it('a lead whose email or phone is a contact’s → 201; its conversion → 409 duplicate naming the contact, nothing made', async () => {
    const k = token();
    const p = phone();
    const contact = created(await api(bob).post('/v1/contacts', { name: '李四', email: `li.${k}@example.cn`, phone: p.e164 }));
    const byEmail = created(await api(alice).post('/v1/leads', { name: '李四', company: `李四的公司 ${k}`, email: `LI.${k}@example.cn` }));
    const byPhone = created(await api(alice).post('/v1/leads', { name: '李四 (手机)', phone: p.dashed }));
    expectDuplicate(await api(alice).post(`/v1/leads/${byEmail.id}/convert`, {}), { existingId: contact.id, entity: 'contact', matchedOn: ['email'] });
    expectDuplicate(await api(alice).post(`/v1/leads/${byPhone.id}/convert`, {}), { existingId: contact.id, entity: 'contact', matchedOn: ['phone'] });
    for (const lead of [byEmail, byPhone]) expect(await fetchRecord(alice, 'leads', lead.id)).toMatchObject({ status: 'new', version: 1 });
    expect(await listAll(root, `/v1/accounts?q=${encodeURIComponent(`李四的公司 ${k}`)}`)).toEqual([]);
  });

  it('a lead named after a pool account → 201; its conversion → 409 duplicate with inPool: true', async () => {
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
    const lead = created(await api(alice).post('/v1/leads', { name: 'x', company: `公海 ${k}` }));
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
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
  it('without accountId, a company that became an account’s name since → 409 duplicate; with that accountId it converts', async () => {
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

  it('an email or phone that became a contact’s since → 409 duplicate naming the contact, even with accountId', async () => {
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

  it('a conversion hands the lead’s values to the account and contact: new leads may take them again, and meet them at conversion', async () => {
    const k = token();
    const p = phone();
    const lead = (await api(alice).post('/v1/leads', { name: '周九', company: `转化公司 ${k}`, email: `zhou.${k}@example.cn`, phone: p.spaced })).json;
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expect(res.status, res.body).toBe(200);
    // The converted lead freed its email and phone, and left the company index: only the customers hold them.
    const found = await api(alice).get(dupUrl({ name: `转化公司 ${k}`, email: `zhou.${k}@example.cn`, phone: p.plain }));
    expect(found.json.items).toEqual([
      { id: res.json.accountId, entity: 'account', matchedOn: ['name'], inPool: false, ownerId: 'alice' },
      { id: res.json.contactId, entity: 'contact', matchedOn: ['email', 'phone'], inPool: false, ownerId: 'alice' },
    ]);
    // A new lead of the same person is welcome; converting it without accountId meets the customers.
    const again = created(await api(bob).post('/v1/leads', { name: 'again', company: `转化公司 ${k}`, email: `zhou.${k}@example.cn`, phone: p.plain }));
    const refused = await api(bob).post(`/v1/leads/${again.id}/convert`, {});
    expectProblem(refused, 409, 'duplicate');
    expect([res.json.accountId, res.json.contactId]).toContain(refused.json.existingId);
    // Deleting the converted lead touches no guard of the account or contact.
    expect((await api(alice).delete(`/v1/leads/${lead.id}`)).status).toBe(204);
    expectDuplicate(await api(bob).post('/v1/contacts', { name: 'dup', email: `zhou.${k}@example.cn` }), { existingId: res.json.contactId, entity: 'contact', matchedOn: ['email'] });
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `转化公司 ${k}` }), { existingId: res.json.accountId, entity: 'account', matchedOn: ['name'] });
  });
});

describe('lead company guards written before leads stopped holding one', () => {
  it('refuse nothing and break no write: create, PATCH, delete and convert leads of that company', async () => {
    const k = token();
    const company = `旧数据 ${k} 有限公司`;
    const holder = created(await api(alice).post('/v1/leads', { name: '旧线索', company }));
    // The guard as the earlier code wrote it, held by `holder`.
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...uniqueKey(T, 'LEAD', 'NAME', normalizeCompanyName(company)), tenantId: T, entityType: 'UNIQUE', entity: 'lead', kind: 'name', value: normalizeCompanyName(company), recordId: holder.id, createdAt: new Date().toISOString() },
      }),
    );
    const fresh = created(await api(bob).post('/v1/leads', { name: '新线索', company: `旧数据 ${k}` }));
    expect((await api(bob).patch(`/v1/leads/${fresh.id}`, { company: `别的 ${k}` })).status).toBe(200);
    expect((await api(bob).patch(`/v1/leads/${fresh.id}`, { company })).status).toBe(200);
    // The search finds leads by company through their index, each once.
    expect((await listAll(root, dupUrl({ name: company }))).map((x) => x.id)).toEqual([holder.id, fresh.id].sort());
    expect((await api(bob).delete(`/v1/leads/${fresh.id}`)).status).toBe(204);
    expect((await api(alice).patch(`/v1/leads/${holder.id}`, { company: `别的 ${k}` })).status).toBe(200);
    const other = created(await api(bob).post('/v1/leads', { name: '另一个', company }));
    const converted = await api(bob).post(`/v1/leads/${other.id}/convert`, {});
    expect(converted.status, converted.body).toBe(200);
    expect((await api(alice).delete(`/v1/leads/${holder.id}`)).status).toBe(204);
  });
});
