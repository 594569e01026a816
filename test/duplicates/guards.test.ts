/**
 * Uniqueness (API.md §5 Duplicates): accounts by normalized name, domain, email and phone;
 * contacts by email and phone; enforced by guard items in the record's own transaction.
 * The 409 carries existingId, entity, matchedOn and inPool, and ownerId only when the
 * caller may open the existing record. Races use real concurrent HTTP requests.
 */
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse } from '#test/support/api.ts';
import { api, expectProblem, fetchRecord, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'dups';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const reps: Caller[] = Array.from({ length: 10 }, (_, i) => ({ tenant: T, user: `rep${i}`, role: 'rep', team: i % 2 ? 'east' : 'west' }));

/** A fresh word for names, domains, emails and phones, unique in this run. */
const word = () => uniq('w').replace(/\W/g, '').toLowerCase();
let phoneSeq = 0;
/** A fresh valid CN mobile number, as digits. */
const mobile = () => `139${String(Date.now() % 1e4).padStart(4, '0')}${String(++phoneSeq).padStart(4, '0')}`;

function expectDuplicate(res: ApiResponse, existingId: string, extra: Record<string, unknown> = {}) {
  expectProblem({ ...res, req: 'duplicate' }, 409, 'duplicate');
  expect(res.json.existingId, res.body).toBe(existingId);
  expect(res.json).toMatchObject(extra);
  expect(typeof res.json.inPool).toBe('boolean');
}

async function created(res: Promise<ApiResponse>): Promise<Record<string, any>> {
  const r = await res;
  expect(r.status, r.body).toBe(201);
  return r.json;
}

describe('accounts are unique by normalized name, domain, email and phone', () => {
  it('a second account with the same name in another spelling → 409 duplicate; ownerId only for those who may open it', async () => {
    const w = word();
    const first = await created(api(alice).post('/v1/accounts', { name: `星辰${w}科技有限公司` }));

    // Another rep: may not open alice's account → no ownerId.
    const fromBob = await api(bob).post('/v1/accounts', { name: ` 星辰${w.toUpperCase()}科技 ` });
    expectDuplicate(fromBob, first.id, { entity: 'account', matchedOn: ['name'], inPool: false });
    expect(fromBob.json).not.toHaveProperty('ownerId');

    // Her manager and an admin may open it → ownerId.
    const fromMia = await api(mia).post('/v1/accounts', { name: `星辰${w}科技集团` });
    expectDuplicate(fromMia, first.id, { ownerId: 'alice' });
    expectDuplicate(await api(root).post('/v1/accounts', { name: `星辰 ${w} 科技 股份有限公司` }), first.id, { ownerId: 'alice' });
    // A manager of another team may not.
    const fromMax = await api(max).post('/v1/accounts', { name: `星辰${w}科技` });
    expectDuplicate(fromMax, first.id);
    expect(fromMax.json).not.toHaveProperty('ownerId');
    // Nothing was created by the refusals.
    const list = await api(root).get(`/v1/accounts?q=${encodeURIComponent(`星辰${w}`)}`);
    expect(list.json.items.map((a: { id: string }) => a.id)).toEqual([first.id]);
  });

  it('by email, phone and domain; matchedOn lists every key the existing account shares', async () => {
    const w = word();
    const m = mobile();
    const first = await created(
      api(alice).post('/v1/accounts', { name: `Acme ${w} Inc.`, email: `Sales@${w}.com.cn`, phone: `+86 ${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`, domain: `https://www.${w}.com.cn/about` }),
    );
    expect(first.domain, 'stored as the registrable domain').toBe(`${w}.com.cn`);
    expect(first.email).toBe(`sales@${w}.com.cn`);

    expectDuplicate(await api(bob).post('/v1/accounts', { name: `other ${w} 1`, email: ` SALES@${w.toUpperCase()}.COM.CN ` }), first.id, { matchedOn: ['email'] });
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `other ${w} 2`, phone: m }), first.id, { matchedOn: ['phone'] });
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `other ${w} 3`, phone: `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}` }), first.id, { matchedOn: ['phone'] });
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `other ${w} 4`, domain: `shop.${w}.com.cn` }), first.id, { matchedOn: ['domain'] });
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `ACME ${w}`, domain: `${w}.com.cn`, email: `sales@${w}.com.cn`, phone: m }), first.id, {
      matchedOn: ['name', 'domain', 'email', 'phone'],
    });
    // A PATCH stores the registrable domain too; one without a registrable domain is a 400.
    const sib = await created(api(bob).post('/v1/accounts', { name: `patched ${w}` }));
    expect((await api(bob).patch(`/v1/accounts/${sib.id}`, { domain: `HTTP://Shop.Patched-${w}.com.cn/x` })).json.domain).toBe(`patched-${w}.com.cn`);
    const bad = await api(bob).patch(`/v1/accounts/${sib.id}`, { domain: '10.0.0.1' });
    expectProblem({ ...bad, req: 'PATCH domain 10.0.0.1' }, 400, 'validation_failed');
    expect((await fetchRecord(root, 'accounts', sib.id))!.domain).toBe(`patched-${w}.com.cn`);
    // A sibling under the same public suffix is another company.
    const sibling = await created(api(bob).post('/v1/accounts', { name: `sibling ${w}`, domain: `${w}x.com.cn` }));
    expect(sibling.domain).toBe(`${w}x.com.cn`);
  });

  it('a domain without a registrable domain is a 400 naming domain', async () => {
    for (const domain of ['localhost', '192.168.1.1', 'com.cn']) {
      const res = await api(alice).post('/v1/accounts', { name: `bad domain ${word()}`, domain });
      expectProblem(res, 400, 'validation_failed');
      expect(res.json.errors.map((e: { path: string }) => e.path)).toContain('body.domain');
    }
  });

  it('a rename into a duplicate → 409 and nothing changes; renames release the old guard; same-normalized renames are free', async () => {
    const w = word();
    const a = await created(api(alice).post('/v1/accounts', { name: `Alpha ${w}`, email: `a@${w}.cn` }));
    const b = await created(api(alice).post('/v1/accounts', { name: `Beta ${w}` }));

    const clash = await api(alice).patch(`/v1/accounts/${b.id}`, { name: `ALPHA ${w} Co., Ltd.` });
    expectDuplicate(clash, a.id, { ownerId: 'alice', matchedOn: ['name'] });
    expect((await fetchRecord(alice, 'accounts', b.id))!.version).toBe(1);
    expectDuplicate(await api(alice).patch(`/v1/accounts/${b.id}`, { email: `A@${w}.CN` }), a.id, { matchedOn: ['email'] });

    // A rename that normalizes alike keeps its guard.
    const same = await api(alice).patch(`/v1/accounts/${a.id}`, { name: `alpha ${w} inc` });
    expect(same.status, same.body).toBe(200);
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `Alpha ${w}` }), a.id);

    // A real rename frees the old name (and takes the new one); clearing the email frees it.
    expect((await api(alice).patch(`/v1/accounts/${a.id}`, { name: `Gamma ${w}`, email: null })).status).toBe(200);
    await created(api(bob).post('/v1/accounts', { name: `Alpha ${w}`, email: `a@${w}.cn` }));
    expectDuplicate(await api(bob).post('/v1/accounts', { name: `gamma ${w}` }), a.id);

    // Deleting frees every value.
    expect((await api(alice).delete(`/v1/accounts/${a.id}`)).status).toBe(204);
    await created(api(bob).post('/v1/accounts', { name: `Gamma ${w}` }));
  });

  it('an account in the pool answers inPool: true (and ownerId: null, since anyone may open a pool account)', async () => {
    const w = word();
    const a = await created(api(alice).post('/v1/accounts', { name: `Pooled ${w}` }));
    const released = await api(alice).post(`/v1/accounts/${a.id}/release`, { reason: 'not interested for now' });
    expect(released.status, released.body).toBe(200);
    const res = await api(bob).post('/v1/accounts', { name: `POOLED ${w}` });
    expectDuplicate(res, a.id, { inPool: true, ownerId: null });
    const found = await api(bob).get(`/v1/duplicates?name=${encodeURIComponent(`pooled ${w}`)}`);
    expect(found.json.items).toEqual([{ id: a.id, entity: 'account', matchedOn: ['name'], inPool: true, ownerId: null }]);
  });

  it('support may not create accounts at all (403, not a duplicate hint)', async () => {
    const w = word();
    await created(api(alice).post('/v1/accounts', { name: `Support ${w}` }));
    expectProblem({ ...(await api(sam).post('/v1/accounts', { name: `Support ${w}` })), req: 'support create' }, 403, 'forbidden');
  });
});

describe('contacts are unique by email and by phone within a tenant', () => {
  it('create, update and delete keep the guards', async () => {
    const w = word();
    const m = mobile();
    const c = await created(api(alice).post('/v1/contacts', { name: '王小明', email: `wang@${w}.cn`, phone: m }));
    expectDuplicate(await api(bob).post('/v1/contacts', { name: '王晓明', email: ` WANG@${w}.CN` }), c.id, { entity: 'contact', matchedOn: ['email'], inPool: false });
    const byPhone = await api(mia).post('/v1/contacts', { name: '王晓明', phone: `+86 ${m}` });
    expectDuplicate(byPhone, c.id, { entity: 'contact', matchedOn: ['phone'], ownerId: 'alice' });
    // An account may share a contact's email: different namespaces.
    await created(api(alice).post('/v1/accounts', { name: `Namespaces ${w}`, email: `wang@${w}.cn` }));

    const other = await created(api(bob).post('/v1/contacts', { name: '李雷', email: `li@${w}.cn` }));
    expectDuplicate(await api(bob).patch(`/v1/contacts/${other.id}`, { phone: m }), c.id);
    expect((await api(alice).patch(`/v1/contacts/${c.id}`, { phone: null })).status).toBe(200);
    expect((await api(bob).patch(`/v1/contacts/${other.id}`, { phone: m })).status).toBe(200);
    expect((await api(alice).delete(`/v1/contacts/${c.id}`)).status).toBe(204);
    await created(api(bob).post('/v1/contacts', { name: '王小明', email: `wang@${w}.cn` }));
  });

  it('other tenants are not duplicates', async () => {
    const w = word();
    await created(api(alice).post('/v1/contacts', { name: 'x', email: `t@${w}.cn` }));
    await created(api(alice).post('/v1/accounts', { name: `Tenant ${w}` }));
    const elsewhere: Caller = { tenant: 'dups-other', user: 'olga', role: 'rep', team: 'east' };
    await created(api(elsewhere).post('/v1/contacts', { name: 'x', email: `t@${w}.cn` }));
    await created(api(elsewhere).post('/v1/accounts', { name: `Tenant ${w}` }));
  });
});

/** Fires all requests at once; no answer may be a 5xx. */
async function concurrently(requests: (() => Promise<ApiResponse>)[]): Promise<ApiResponse[]> {
  const answers = await Promise.all(requests.map((r) => r()));
  const errors = answers.filter((a) => a.status >= 500).map((a) => a.body);
  expect(errors, 'concurrent requests answered 5xx').toEqual([]);
  return answers;
}

function oneWinner(answers: ApiResponse[]): string {
  const statuses = answers.map((a) => a.status);
  expect(statuses.filter((s) => s === 201), statuses.join(',')).toHaveLength(1);
  expect(statuses.filter((s) => s === 409), statuses.join(',')).toHaveLength(answers.length - 1);
  const winner = answers.find((a) => a.status === 201)!.json.id as string;
  for (const a of answers.filter((x) => x.status === 409)) expectDuplicate(a, winner);
  return winner;
}

describe('races: the same customer saved at the same moment', () => {
  it('10 reps create one customer under 10 spellings of its name → exactly one 201, nine 409 duplicate naming it', async () => {
    const w = word();
    const spellings = [
      `星辰${w}科技有限公司`,
      `星辰${w}科技`,
      ` 星辰 ${w} 科技 `,
      `星辰${w.toUpperCase()}科技集团`,
      `星辰${w}科技股份有限公司`,
      `星辰${w}科技有限责任公司`,
      `星辰·${w}·科技`,
      `星辰${w}科技 Co., Ltd.`,
      `星辰${w}科技集团有限公司`,
      `星辰${w}科技 Inc.`,
    ];
    const answers = await concurrently(spellings.map((name, i) => () => call(reps[i]!, 'POST', '/v1/accounts', { name, industry: `try ${i}` })));
    const winner = oneWinner(answers);
    // Exactly one account exists under that name, and it is the winner's.
    const all = await api(root).get(`/v1/accounts?q=${encodeURIComponent('星辰')}&limit=100`);
    const mine = all.json.items.filter((a: { name: string }) => a.name.replace(/\W/g, '').toLowerCase().includes(w));
    expect(mine.map((a: { id: string }) => a.id)).toEqual([winner]);
  });

  it('10 reps create one customer by different names but the same phone written 10 ways → one 201', async () => {
    const w = word();
    const m = mobile();
    const ways = [m, `+86${m}`, `+86 ${m}`, `0086${m}`, `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`, `${m.slice(0, 3)}.${m.slice(3, 7)}.${m.slice(7)}`, `+86-${m}`, `${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`, `+86 (${m.slice(0, 3)}) ${m.slice(3, 7)}-${m.slice(7)}`, `86 ${m}`];
    const answers = await concurrently(ways.map((phone, i) => () => call(reps[i]!, 'POST', '/v1/accounts', { name: `phone race ${w} ${i}`, phone })));
    oneWinner(answers);
  });

  it('10 reps create one contact by email in 10 spellings → one 201, nine 409', async () => {
    const w = word();
    const answers = await concurrently(
      reps.map((r, i) => () => call(r, 'POST', '/v1/contacts', { name: `联系人 ${i}`, email: i % 2 ? `Race.${w}@Example.CN` : ` race.${w}@example.cn` })),
    );
    oneWinner(answers);
  });

  it('10 reps create one contact by phone → one 201, nine 409', async () => {
    const m = mobile();
    const answers = await concurrently(
      reps.map((r, i) => () => call(r, 'POST', '/v1/contacts', { name: `联系人 ${i}`, phone: i % 2 ? `+86 ${m}` : `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}` })),
    );
    oneWinner(answers);
  });

  it('10 concurrent renames of 10 accounts into one name → exactly one lands', async () => {
    const w = word();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await created(api(reps[i]!).post('/v1/accounts', { name: `rename race ${w} ${i}` }))).id);
    const answers = await concurrently(ids.map((id, i) => () => call(reps[i]!, 'PATCH', `/v1/accounts/${id}`, { name: i % 2 ? `Target ${w} Inc.` : `TARGET ${w}` })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200), statuses.join(',')).toHaveLength(1);
    expect(statuses.filter((s) => s === 409), statuses.join(',')).toHaveLength(9);
    const winner = ids[statuses.indexOf(200)]!;
    for (const a of answers.filter((x) => x.status === 409)) expectDuplicate(a, winner);
    for (const [i, id] of ids.entries()) {
      const rec = await fetchRecord(root, 'accounts', id);
      expect(rec!.name).toBe(id === winner ? (i % 2 ? `Target ${w} Inc.` : `TARGET ${w}`) : `rename race ${w} ${i}`);
    }
  });

  it('a delete racing a create of the same name: never two holders, never a 500', async () => {
    const w = word();
    const a = await created(api(alice).post('/v1/accounts', { name: `Churn ${w}` }));
    const answers = await concurrently([
      () => call(alice, 'DELETE', `/v1/accounts/${a.id}`),
      ...reps.slice(0, 5).map((r) => () => call(r, 'POST', '/v1/accounts', { name: `churn ${w}` })),
    ]);
    expect(answers[0]!.status).toBe(204);
    const createdOnes = answers.slice(1).filter((x) => x.status === 201);
    expect(createdOnes.length).toBeLessThanOrEqual(1);
    for (const x of answers.slice(1)) expect([201, 409]).toContain(x.status);
    // Afterwards the name is held by at most that one new account.
    const again = await api(bob).post('/v1/accounts', { name: `CHURN ${w}` });
    if (createdOnes.length === 1) expectDuplicate(again, createdOnes[0]!.json.id);
    else expect(again.status).toBe(201);
  });
});
