/**
 * `GET /v1/duplicates?name=&email=&phone=&domain=` (API.md §5): every account, contact and
 * lead holding one of the values, including records the caller cannot open (then without
 * `ownerId`), with `matchedOn` and `inPool`. Two DynamoDB requests, three with a name (the
 * leads naming that company: several may).
 */
import { describe, expect, it } from 'vitest';
import type { UseCaseContext } from '#domain/context.ts';
import { claimLeadGuards, rejectDuplicates } from '#domain/accounts/duplicates.ts';
import { insert, stamp } from '#domain/records.ts';
import { leadSpec, type Lead } from '#domain/sales/lead.ts';
import type { ApiResponse } from '#test/support/api.ts';
import { api, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { requestsDuring } from '#test/support/request-spy.ts';

const T = 'dupsearch';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

const word = () => uniq('s').replace(/\W/g, '').toLowerCase();
let phoneSeq = 0;
const mobile = () => `136${String(Date.now() % 1e4).padStart(4, '0')}${String(++phoneSeq).padStart(4, '0')}`;

async function created(res: Promise<ApiResponse>): Promise<Record<string, any>> {
  const r = await res;
  expect(r.status, r.body).toBe(201);
  return r.json;
}

const q = (params: Record<string, string>) => `/v1/duplicates?${new URLSearchParams(params).toString()}`;

/** A lead holding its guards, written as the leads module does (its record, with its company index keys, and its guards in one transaction). */
async function lead(owner: Caller, fields: Partial<Lead>): Promise<Lead> {
  const ctx: UseCaseContext = { identity: { tenantId: owner.tenant, userId: owner.user, role: owner.role, ...(owner.team ? { teamId: owner.team } : {}) }, now: new Date() };
  const l = stamp<Lead>(ctx, { name: `线索 ${word()}`, status: 'new', tags: [], createdBy: owner.user, ...fields } as Omit<Lead, 'id' | 'createdAt' | 'updatedAt' | 'version' | 'ownerId'>, {
    ownerId: owner.user,
    ownerTeamId: owner.team ?? null,
  });
  await rejectDuplicates(ctx, () => claimLeadGuards(ctx, insert(ctx, leadSpec, l), l.id, l).commit(undefined));
  return l;
}

describe('GET /v1/duplicates', () => {
  it('finds accounts, contacts and leads by each key, with matchedOn; ownerId only where the caller may open the record', async () => {
    const w = word();
    const m = mobile();
    const acc = await created(api(alice).post('/v1/accounts', { name: `星辰${w}科技有限公司`, email: `info@${w}.cn`, phone: m, domain: `www.${w}.cn` }));
    const con = await created(api(bob).post('/v1/contacts', { name: '王小明', email: `info@${w}.cn`, phone: `+86 ${m}` }));
    const led = await lead(bob, { company: `星辰${w}科技`, email: `INFO@${w}.cn` });

    // Everything at once, as alice: her account with its owner; bob's contact and lead without.
    const all = await api(alice).get(q({ name: `星辰 ${w} 科技集团`, email: ` Info@${w.toUpperCase()}.CN`, phone: `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`, domain: `https://${w}.cn/x` }));
    expect(all.status, all.body).toBe(200);
    expect(all.json).toEqual({
      items: [
        { id: acc.id, entity: 'account', matchedOn: ['name', 'email', 'phone', 'domain'], inPool: false, ownerId: 'alice' },
        { id: con.id, entity: 'contact', matchedOn: ['email', 'phone'], inPool: false },
        { id: led.id, entity: 'lead', matchedOn: ['name', 'email'], inPool: false },
      ],
      nextCursor: null,
    });

    // Their manager sees every owner; a manager of another team none; support reads customers but not leads.
    const byMia = (await api(mia).get(q({ email: `info@${w}.cn` }))).json.items;
    expect(byMia.map((x: { ownerId?: string }) => x.ownerId)).toEqual(['alice', 'bob', 'bob']);
    const byMax = (await api(max).get(q({ email: `info@${w}.cn` }))).json.items;
    expect(byMax.map((x: { id: string }) => x.id)).toEqual([acc.id, con.id, led.id]);
    for (const x of byMax) expect(x).not.toHaveProperty('ownerId');
    const bySam = (await api(sam).get(q({ email: `info@${w}.cn` }))).json.items;
    expect(bySam.map((x: { ownerId?: string }) => x.ownerId)).toEqual(['alice', 'bob', undefined]);
    const byMark = (await api(mark).get(q({ email: `info@${w}.cn` }))).json.items;
    expect(byMark.map((x: { ownerId?: string }) => x.ownerId)).toEqual(['alice', 'bob', 'bob']);

    // One key at a time.
    expect((await api(bob).get(q({ domain: `${w}.cn` }))).json.items.map((x: { id: string }) => x.id)).toEqual([acc.id]);
    expect((await api(bob).get(q({ phone: `+86${m}` }))).json.items.map((x: { id: string; matchedOn: string[] }) => [x.id, x.matchedOn])).toEqual([
      [acc.id, ['phone']],
      [con.id, ['phone']],
    ]);
    expect((await api(bob).get(q({ name: `星辰${w}科技` }))).json.items.map((x: { entity: string }) => x.entity)).toEqual(['account', 'lead']);
    // Nothing matching: an empty list.
    expect((await api(bob).get(q({ name: `nobody ${w}` }))).json).toEqual({ items: [], nextCursor: null });
  });

  it('a lead duplicating a lead is a 409 naming it', async () => {
    const w = word();
    const first = await lead(alice, { email: `lead@${w}.cn` });
    await expect(lead(bob, { email: `LEAD@${w}.cn` })).rejects.toMatchObject({ status: 409, code: 'duplicate', extra: { existingId: first.id, entity: 'lead', matchedOn: ['email'] } });
  });

  it('pages: limit=1 walks every candidate exactly once; the cursor is bound to the query', async () => {
    const m = mobile();
    const ids = [
      (await created(api(alice).post('/v1/accounts', { name: `Pages ${word()}`, phone: m }))).id,
      (await created(api(alice).post('/v1/contacts', { name: 'a', phone: m }))).id,
      (await lead(alice, { phone: m })).id,
    ];
    const walked = await listAll(alice, q({ phone: m }));
    expect(walked.map((x) => x.id)).toEqual(ids);
    const first = await api(alice).get(`${q({ phone: m })}&limit=1`);
    expect(first.json.items).toHaveLength(1);
    expect(typeof first.json.nextCursor).toBe('string');
    const cursor = encodeURIComponent(first.json.nextCursor);
    expectProblem({ ...(await api(alice).get(`${q({ phone: m, name: 'x' })}&cursor=${cursor}`)), req: 'other query' }, 400, 'invalid_cursor');
    expectProblem({ ...(await api(bob).get(`${q({ phone: m })}&cursor=${cursor}`)), req: 'other user' }, 400, 'invalid_cursor');
    const second = await api(alice).get(`${q({ phone: m })}&limit=5&cursor=${cursor}`);
    expect(second.json.items.map((x: { id: string }) => x.id)).toEqual(ids.slice(1));
    expect(second.json.nextCursor).toBeNull();
  });

  it('bad queries: none of the four keys, an invalid email, phone or domain → 400 naming it', async () => {
    expectProblem({ ...(await api(alice).get('/v1/duplicates')), req: 'no key' }, 400, 'validation_failed');
    for (const [key, value] of [['email', 'not-an-email'], ['phone', 'abc'], ['domain', 'localhost'], ['name', ' ']] as const) {
      const res = await api(alice).get(q({ [key]: value }));
      expectProblem({ ...res, req: `${key}=${value}` }, 400, 'validation_failed');
      expect(res.json.errors.map((e: { path: string }) => e.path)).toContain(`query.${key}`);
    }
  });

  it('another tenant’s records are never candidates', async () => {
    const w = word();
    await created(api(alice).post('/v1/accounts', { name: `Tenant ${w}`, email: `t@${w}.cn` }));
    const stranger: Caller = { tenant: 'dupsearch-other', user: 'olga', role: 'admin' };
    expect((await api(stranger).get(q({ name: `Tenant ${w}`, email: `t@${w}.cn` }))).json).toEqual({ items: [], nextCursor: null });
  });

  it('leads sharing a company are all candidates by name; pages walk them exactly once', async () => {
    const w = word();
    const acc = await created(api(alice).post('/v1/accounts', { name: `同名 ${w} 有限公司` }));
    const leads: string[] = [];
    for (let i = 0; i < 5; i++) leads.push((await lead(i % 2 ? alice : bob, { company: `同名 ${w}`, ...(i === 2 ? { email: `lead2@${w}.cn` } : {}) })).id);
    const withEmail = leads[2];
    const ids = [acc.id, ...leads.sort()];
    for (const limit of [1, 2, 3, 100]) {
      const walked: { id: string; matchedOn: string[] }[] = [];
      let url = `${q({ name: `同名${w}`, email: `lead2@${w}.cn` })}&limit=${limit}`;
      for (;;) {
        const res = await api(alice).get(url);
        expect(res.status, res.body).toBe(200);
        expect(res.json.items.length).toBeLessThanOrEqual(limit);
        walked.push(...res.json.items);
        if (!res.json.nextCursor) break;
        url = `${q({ name: `同名${w}`, email: `lead2@${w}.cn` })}&limit=${limit}&cursor=${encodeURIComponent(res.json.nextCursor)}`;
      }
      expect(walked.map((x) => x.id), `limit ${limit}`).toEqual(ids);
      expect(walked.map((x) => x.matchedOn)).toEqual(ids.map((id) => (id === withEmail ? ['name', 'email'] : ['name'])));
    }
  });

  it('costs two DynamoDB requests (one BatchGetItem of the guards, one of the records), and with a name one Query of the leads of that company beside the first', async () => {
    const w = word();
    await created(api(alice).post('/v1/accounts', { name: `Cost ${w}`, email: `c@${w}.cn`, domain: `${w}.cn` }));
    await lead(alice, { company: `Cost ${w}` });
    await api(alice).get('/v1/tasks'); // the users directory write happens once per caller; not part of the search
    const requestsOf = async (params: Record<string, string>, found: number) => {
      const { requests } = await requestsDuring(async () => {
        const res = await api(alice).get(q(params));
        expect(res.json.items).toHaveLength(found);
      });
      return requests.map((r) => `${r}Command`).sort();
    };
    expect(await requestsOf({ name: `cost ${w}`, email: `c@${w}.cn`, phone: mobile(), domain: `${w}.cn` }, 2)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand', 'QueryCommand']);
    expect(await requestsOf({ email: `c@${w}.cn`, phone: mobile(), domain: `${w}.cn` }, 1)).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand']);
  });
});
