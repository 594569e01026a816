/**
 * Orders (订单/合同) and payments (回款), API.md §5: create, read, change, lists and
 * filters, visibility, payments with exact totals and the overpayment rule, idempotent
 * payments, events, Customer 360. Through HTTP with real tokens, against DynamoDB Local.
 * The concurrent payments are in orders-races.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { entityKey } from '#domain/table/keys.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { eventsOf, expectStatus, rawItem } from '#test/sales/orders-support.ts';

const T = 'orders';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'orders-other', user: 'root', role: 'admin' };

beforeAll(async () => {
  for (const c of [root, mia, max, alice, bob, wes, sam, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

async function account(owner: Caller, name = uniq('合同客户')): Promise<string> {
  const res = await api(owner).post('/v1/accounts', { name });
  expectStatus(res, 201);
  return res.json.id;
}

async function order(who: Caller, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await api(who).post('/v1/orders', { signedAt: '2026-05-01T00:00:00Z', ...body });
  expectStatus(res, 201);
  return res.json;
}

const pay = (who: Caller, id: string, amount: unknown, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  api(who).post(`/v1/orders/${id}/payments`, { amount, receivedAt: '2026-05-10T03:00:00Z', ...extra }, headers ? { headers } : undefined);

describe('creating an order', () => {
  it('201 with the order: totals, defaults, Location; stored in integer minor units; order.created', async () => {
    const accountId = await account(alice, '星辰科技有限公司 订单');
    const res = await api(alice).post('/v1/orders', { accountId, amount: 128000.5, signedAt: '2026-05-01T08:00:00+08:00' });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(`/v1/orders/${res.json.id}`);
    expect(res.json).toEqual({
      id: res.json.id,
      accountId,
      name: '星辰科技有限公司 订单',
      amount: 128000.5,
      currency: 'CNY',
      collectedAmount: 0,
      outstandingAmount: 128000.5,
      paymentStatus: 'unpaid',
      paymentCount: 0,
      signedAt: '2026-05-01T00:00:00.000Z',
      ownerId: 'alice',
      createdBy: 'alice',
      createdAt: res.json.createdAt,
      updatedAt: res.json.createdAt,
      version: 1,
    });
    const got = await api(alice).get(`/v1/orders/${res.json.id}`);
    expect(got.json).toEqual(res.json);
    expect(got.headers.etag).toBe('"1"');
    const item = await rawItem(entityKey(T, 'ORDER', res.json.id));
    expect(item).toMatchObject({ amountMinor: 12800050, collectedMinor: 0, outstandingMinor: 12800050 });
    expect(item!.amount).toBeUndefined();
    const [created] = await eventsOf(T, 'order.created', res.json.id);
    expect(created!.data).toMatchObject({ id: res.json.id, accountId, amount: 128000.5, currency: 'CNY', ownerId: 'alice' });
  });

  it('name, currency, notes and owner may be given', async () => {
    const accountId = await account(alice);
    const res = await order(mia, { accountId, name: '2026 年度框架合同', amount: 99.99, currency: 'usd', notes: '分三期付款', ownerId: 'bob' });
    expect(res).toMatchObject({ name: '2026 年度框架合同', currency: 'USD', notes: '分三期付款', ownerId: 'bob', createdBy: 'mia' });
  });

  it("the owner defaults to the account's owner: a manager's order on a rep's account is the rep's", async () => {
    const accountId = await account(alice);
    expect((await order(mia, { accountId, amount: 1 })).ownerId).toBe('alice');
    expect((await order(root, { accountId, amount: 1 })).ownerId).toBe('alice');
  });

  it('owner rules are those of accounts: a rep credits only itself, a manager its team, an admin anyone in the directory', async () => {
    const accountId = await account(alice);
    expectProblem(await api(alice).post('/v1/orders', { accountId, amount: 1, signedAt: '2026-05-01T00:00:00Z', ownerId: 'bob' }), 403, 'forbidden');
    expectProblem(await api(mia).post('/v1/orders', { accountId, amount: 1, signedAt: '2026-05-01T00:00:00Z', ownerId: 'wes' }), 403, 'forbidden');
    expectFieldError(await api(root).post('/v1/orders', { accountId, amount: 1, signedAt: '2026-05-01T00:00:00Z', ownerId: 'ghost' }), 'ownerId');
    expect((await order(root, { accountId, amount: 1, ownerId: 'wes' })).ownerId).toBe('wes');
  });

  it('bad bodies → 400 naming the field, nothing created', async () => {
    const accountId = await account(alice);
    const base = { accountId, amount: 10, signedAt: '2026-05-01T00:00:00Z' };
    const cases: [Record<string, unknown>, string][] = [
      [{ amount: 10, signedAt: base.signedAt }, 'accountId'],
      [{ accountId, signedAt: base.signedAt }, 'amount'],
      [{ accountId, amount: 10 }, 'signedAt'],
      [{ ...base, amount: 0 }, 'amount'],
      [{ ...base, amount: -1 }, 'amount'],
      [{ ...base, amount: 10.001 }, 'amount'],
      [{ ...base, amount: 0.1 + 0.2 }, 'amount'],
      [{ ...base, amount: 1e-7 }, 'amount'],
      [{ ...base, amount: 10_000_000_000_000 }, 'amount'],
      [{ ...base, amount: '10' }, 'amount'],
      [{ ...base, currency: 'RMB' }, 'currency'],
      [{ ...base, signedAt: '2026-05-01' }, 'signedAt'],
      [{ ...base, collectedAmount: 0 }, 'collectedAmount'],
      [{ ...base, outstandingAmount: 10 }, 'outstandingAmount'],
      [{ ...base, paymentStatus: 'paid' }, 'paymentStatus'],
      [{ ...base, paymentCount: 0 }, 'paymentCount'],
      [{ ...base, amountMinor: 1000 }, 'amountMinor'],
      [{ ...base, accountId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }, 'accountId'],
      [{ ...base, opportunityId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }, 'opportunityId'],
      [{ ...base, quoteId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }, 'quoteId'],
    ];
    for (const [body, field] of cases) expectFieldError(await api(alice).post('/v1/orders', body), field);
    expect(await listAll(alice, `/v1/orders?accountId=${accountId}`)).toEqual([]);
  });

  it("an account the caller does not hold is a 400 on accountId, like a missing one", async () => {
    const bobs = await account(bob);
    const res = await api(alice).post('/v1/orders', { accountId: bobs, amount: 1, signedAt: '2026-05-01T00:00:00Z' });
    expectFieldError(res, 'accountId');
    const missing = await api(alice).post('/v1/orders', { accountId: '01JZZZZZZZZZZZZZZZZZZZZZZZ', amount: 1, signedAt: '2026-05-01T00:00:00Z' });
    expect(res.json).toEqual(missing.json);
    expectFieldError(await api(other).post('/v1/orders', { accountId: bobs, amount: 1, signedAt: '2026-05-01T00:00:00Z' }), 'accountId');
  });

  it('support and marketers: 403 on every order route', async () => {
    const accountId = await account(alice);
    const o = await order(alice, { accountId, amount: 5 });
    for (const who of [sam, mark]) {
      expectProblem(await api(who).post('/v1/orders', { accountId, amount: 1, signedAt: '2026-05-01T00:00:00Z' }), 403, 'forbidden');
      expectProblem(await api(who).get('/v1/orders'), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/orders/${o.id}`), 403, 'forbidden');
      expectProblem(await api(who).patch(`/v1/orders/${o.id}`, { notes: 'x' }), 403, 'forbidden');
      expectProblem(await pay(who, o.id, 1), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/orders/${o.id}/payments`), 403, 'forbidden');
    }
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json).toEqual(o);
  });
});

describe('payments', () => {
  it('201 with the order as it now is; the payment is listed; payment.received carries the totals', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 100 });
    const res = await pay(alice, o.id, 30.25, { method: 'bank_transfer', reference: '工行 0042', notes: '首付款' });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(`/v1/orders/${o.id}`);
    expect(res.headers.etag).toBe('"2"');
    expect(res.json).toEqual({
      ...o,
      collectedAmount: 30.25,
      outstandingAmount: 69.75,
      paymentStatus: 'partial',
      paymentCount: 1,
      lastPaymentAt: '2026-05-10T03:00:00.000Z',
      version: 2,
      updatedAt: res.json.updatedAt,
    });
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json).toEqual(res.json);

    const payments = await listAll(alice, `/v1/orders/${o.id}/payments`);
    expect(payments).toEqual([
      {
        id: payments[0].id,
        orderId: o.id,
        amount: 30.25,
        currency: 'CNY',
        receivedAt: '2026-05-10T03:00:00.000Z',
        method: 'bank_transfer',
        reference: '工行 0042',
        notes: '首付款',
        createdBy: 'alice',
        createdAt: payments[0].createdAt,
        updatedAt: payments[0].createdAt,
        version: 1,
      },
    ]);
    const [event] = await eventsOf(T, 'payment.received', o.id);
    expect(event!.data).toMatchObject({ id: payments[0].id, orderId: o.id, amount: 30.25, collectedAmount: 30.25, outstandingAmount: 69.75, paymentStatus: 'partial', orderVersion: 2 });
  });

  it('sums are exact to the cent: 0.1 + 0.2 is 0.3, and ten 0.07 are 0.7', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 1 });
    await pay(alice, o.id, 0.1);
    const after = await pay(alice, o.id, 0.2);
    expect(after.json).toMatchObject({ collectedAmount: 0.3, outstandingAmount: 0.7 });
    let last: any;
    for (let i = 0; i < 10; i++) last = await pay(alice, o.id, 0.07);
    expect(last.json).toMatchObject({ collectedAmount: 1, outstandingAmount: 0, paymentStatus: 'paid', paymentCount: 12 });
    expect(await rawItem(entityKey(T, 'ORDER', o.id))).toMatchObject({ collectedMinor: 100, outstandingMinor: 0 });
  });

  it('an overpayment → 409 overpayment with what is outstanding; nothing written', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 50 });
    await pay(alice, o.id, 49.99);
    const before = (await api(alice).get(`/v1/orders/${o.id}`)).json;
    const over = await pay(alice, o.id, 0.02);
    expectProblem(over, 409, 'overpayment');
    expect(over.json).toMatchObject({ outstandingAmount: 0.01, collectedAmount: 49.99, amount: 50, currency: 'CNY' });
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json).toEqual(before);
    expect(await listAll(alice, `/v1/orders/${o.id}/payments`)).toHaveLength(1);
    // The exact rest is fine; then nothing more fits.
    expect((await pay(alice, o.id, 0.01)).json).toMatchObject({ outstandingAmount: 0, paymentStatus: 'paid' });
    expectProblem(await pay(alice, o.id, 0.01), 409, 'overpayment');
  });

  it('bad payments → 400: zero, negative, 3 decimals, another currency, server-owned fields', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 50 });
    for (const [body, field] of [
      [{ amount: 0 }, 'amount'],
      [{ amount: -1 }, 'amount'],
      [{ amount: 1.001 }, 'amount'],
      [{}, 'amount'],
      [{ amount: 1, currency: 'USD' }, 'currency'],
      [{ amount: 1, receivedAt: 'yesterday' }, 'receivedAt'],
      [{ amount: 1, method: 'barter' }, 'method'],
      [{ amount: 1, orderId: o.id }, 'orderId'],
      [{ amount: 1, collectedAmount: 1 }, 'collectedAmount'],
    ] as [Record<string, unknown>, string][]) {
      expectFieldError(await api(alice).post(`/v1/orders/${o.id}/payments`, body), field);
    }
    expect(await listAll(alice, `/v1/orders/${o.id}/payments`)).toEqual([]);
    // The order's own currency may be named (any case); receivedAt defaults to now.
    const ok = await api(alice).post(`/v1/orders/${o.id}/payments`, { amount: 1, currency: 'cny' });
    expectStatus(ok, 201);
    expect(Math.abs(Date.parse(ok.json.lastPaymentAt) - Date.now())).toBeLessThan(60_000);
  });

  it('Idempotency-Key: the same payment retried is recorded once and answered the same; another body → 409', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 100 });
    const key = { 'idempotency-key': `pay-${uniq('k').replace(/\W/g, '')}` };
    const first = await pay(alice, o.id, 40, {}, key);
    const second = await pay(alice, o.id, 40, {}, key);
    expectStatus(first, 201);
    expectStatus(second, 201);
    expect(second.json).toEqual(first.json);
    expect(await listAll(alice, `/v1/orders/${o.id}/payments`)).toHaveLength(1);
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json.collectedAmount).toBe(40);
    expectProblem(await pay(alice, o.id, 41, {}, key), 409, 'idempotency_key_reused');
    // A retry of a payment whose order has since been paid in full still answers the first response.
    await pay(alice, o.id, 60);
    expect((await pay(alice, o.id, 40, {}, key)).json).toEqual(first.json);
  });

  it('the payments list walks with cursors, oldest received first', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 100 });
    const days = ['2026-05-03', '2026-05-01', '2026-05-05', '2026-05-02', '2026-05-04'];
    for (const d of days) expectStatus(await pay(alice, o.id, 1, { receivedAt: `${d}T00:00:00Z` }), 201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api(alice).get(`/v1/orders/${o.id}/payments?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expectStatus(page, 200);
      seen.push(...page.json.items.map((p: any) => p.receivedAt.slice(0, 10)));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...days].sort());
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json.lastPaymentAt).toBe('2026-05-05T00:00:00.000Z');
    const first = await api(alice).get(`/v1/orders/${o.id}/payments?limit=1`);
    expectProblem(await api(mia).get(`/v1/orders/${o.id}/payments?cursor=${encodeURIComponent(first.json.nextCursor)}`), 400, 'invalid_cursor');
  });
});

describe('changing an order', () => {
  it('name, notes, signedAt; amount recomputes what is outstanding; If-Match; no-op keeps the version', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 100, notes: 'x' });
    await pay(alice, o.id, 40);
    const patched = await api(alice).patch(`/v1/orders/${o.id}`, { name: '续约合同', amount: 120, notes: null }, { headers: { 'if-match': '"2"' } });
    expectStatus(patched, 200);
    expect(patched.json).toMatchObject({ name: '续约合同', amount: 120, collectedAmount: 40, outstandingAmount: 80, paymentStatus: 'partial', version: 3 });
    expect(patched.json.notes).toBeUndefined();
    expectProblem(await api(alice).patch(`/v1/orders/${o.id}`, { name: 'stale' }, { headers: { 'if-match': '"2"' } }), 412, 'version_mismatch');
    const same = await api(alice).patch(`/v1/orders/${o.id}`, { name: '续约合同', amount: 120 });
    expect(same.json.version).toBe(3);
    // Down to what was collected: paid.
    expect((await api(alice).patch(`/v1/orders/${o.id}`, { amount: 40 })).json).toMatchObject({ outstandingAmount: 0, paymentStatus: 'paid', version: 4 });
    const [updated] = (await eventsOf(T, 'order.updated', o.id)).slice(-1);
    expect(updated!.data).toMatchObject({ changed: ['amount', 'outstandingAmount', 'paymentStatus'] });
  });

  it('an amount below what was collected → 409 overpayment; computed fields → 400; a rep may not reassign', async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 100 });
    await pay(alice, o.id, 60);
    const before = (await api(alice).get(`/v1/orders/${o.id}`)).json;
    expectProblem(await api(alice).patch(`/v1/orders/${o.id}`, { amount: 59.99 }), 409, 'overpayment');
    for (const field of ['collectedAmount', 'outstandingAmount', 'paymentStatus', 'paymentCount', 'accountId', 'currency', 'lastPaymentAt']) {
      expectFieldError(await api(alice).patch(`/v1/orders/${o.id}`, { [field]: 1 }), field);
    }
    expectProblem(await api(alice).patch(`/v1/orders/${o.id}`, { ownerId: 'bob' }), 403, 'forbidden');
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json).toEqual(before);
    // Its manager may move the credit within the team.
    expect((await api(mia).patch(`/v1/orders/${o.id}`, { ownerId: 'bob' })).json.ownerId).toBe('bob');
    expect((await api(bob).get(`/v1/orders/${o.id}`)).status).toBe(200);
  });
});

describe('who sees an order', () => {
  it("the owner, the owner's manager and admins; not another rep nor another team's manager (404)", async () => {
    const o = await order(alice, { accountId: await account(alice), amount: 10 });
    for (const who of [alice, mia, root]) expect((await api(who).get(`/v1/orders/${o.id}`)).status).toBe(200);
    for (const who of [bob, wes, max]) {
      expectProblem(await api(who).get(`/v1/orders/${o.id}`), 404, 'not_found');
      expectProblem(await pay(who, o.id, 1), 404, 'not_found');
      expectProblem(await api(who).get(`/v1/orders/${o.id}/payments`), 404, 'not_found');
      expectProblem(await api(who).patch(`/v1/orders/${o.id}`, { notes: 'x' }), 404, 'not_found');
    }
    expectProblem(await api(other).get(`/v1/orders/${o.id}`), 404, 'not_found');
  });

  it('whoever holds the account sees its orders: a reassigned account brings them along', async () => {
    const accountId = await account(alice);
    const o = await order(alice, { accountId, amount: 10 });
    expectStatus(await api(root).patch(`/v1/accounts/${accountId}`, { ownerId: 'wes' }), 200);
    expect((await api(wes).get(`/v1/orders/${o.id}`)).status).toBe(200);
    expect((await api(max).get(`/v1/orders/${o.id}`)).status).toBe(200);
    expect((await listAll(wes, `/v1/orders?accountId=${accountId}`)).map((x) => x.id)).toEqual([o.id]);
    expectStatus(await pay(wes, o.id, 1), 201);
    // The seller keeps the credit, and sees it.
    expect((await api(alice).get(`/v1/orders/${o.id}`)).json.ownerId).toBe('alice');
  });
});

describe('listing orders', () => {
  let acme: string;
  const made: Record<string, string> = {};
  beforeAll(async () => {
    acme = await account(alice);
    const other = await account(alice);
    made.jan = (await order(alice, { accountId: acme, amount: 10, signedAt: '2026-01-15T00:00:00Z' })).id;
    made.mar = (await order(alice, { accountId: acme, amount: 20, signedAt: '2026-03-15T00:00:00Z' })).id;
    made.feb = (await order(alice, { accountId: other, amount: 30, signedAt: '2026-02-15T00:00:00Z' })).id;
    made.bobs = (await order(bob, { accountId: await account(bob), amount: 40, signedAt: '2026-02-20T00:00:00Z' })).id;
    made.wess = (await order(wes, { accountId: await account(wes), amount: 50, signedAt: '2026-02-25T00:00:00Z' })).id;
    await pay(alice, made.mar!, 20);
    await pay(alice, made.feb!, 1);
  });
  const idsOf = async (who: Caller, q: string) => (await listAll(who, `/v1/orders${q}`)).map((x) => x.id);
  const mine = (ids: string[]) => ids.filter((x) => Object.values(made).includes(x));

  it('a rep lists its own, a manager its team, an admin the tenant; newest signed first', async () => {
    expect(mine(await idsOf(alice, '?signedFrom=2026-01-01T00:00:00Z&signedTo=2026-04-01T00:00:00Z'))).toEqual([made.mar, made.feb, made.jan]);
    expect(mine(await idsOf(bob, ''))).toEqual([made.bobs]);
    expect(mine(await idsOf(mia, '?signedTo=2026-04-01T00:00:00Z'))).toEqual([made.mar, made.bobs, made.feb, made.jan]);
    expect(mine(await idsOf(max, ''))).toEqual([made.wess]);
    expect(mine(await idsOf(root, '?signedFrom=2026-01-01T00:00:00Z&signedTo=2026-04-01T00:00:00Z'))).toEqual([made.mar, made.wess, made.bobs, made.feb, made.jan]);
  });

  it('filters: accountId, ownerId, paymentStatus, signed range (from inclusive, to exclusive)', async () => {
    expect(await idsOf(alice, `?accountId=${acme}`)).toEqual([made.mar, made.jan]);
    expect(await idsOf(alice, `?accountId=${acme}&paymentStatus=paid`)).toEqual([made.mar]);
    expect(await idsOf(alice, `?accountId=${acme}&signedFrom=2026-02-01T00:00:00Z`)).toEqual([made.mar]);
    expect(await idsOf(alice, `?accountId=${acme}&signedTo=2026-03-15T00:00:00Z`)).toEqual([made.jan]);
    expect(mine(await idsOf(mia, '?ownerId=bob'))).toEqual([made.bobs]);
    expect(mine(await idsOf(mia, '?ownerId=wes'))).toEqual([]);
    expect(mine(await idsOf(alice, '?ownerId=me&paymentStatus=partial'))).toEqual([made.feb]);
    expect(mine(await idsOf(root, '?signedFrom=2026-02-15T00:00:00Z&signedTo=2026-02-25T00:00:00Z'))).toEqual([made.bobs, made.feb]);
    expectFieldError(await api(alice).get('/v1/orders?signedFrom=2026-03-01T00:00:00Z&signedTo=2026-02-01T00:00:00Z'), 'signedTo');
    expectFieldError(await api(bob).get(`/v1/orders?accountId=${acme}`), 'accountId');
    expectFieldError(await api(alice).get('/v1/orders?paymentStatus=overdue'), 'paymentStatus');
  });

  it('cursors walk every order once', async () => {
    const all = await idsOf(alice, `?accountId=${acme}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api(alice).get(`/v1/orders?accountId=${acme}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.json.items.map((x: any) => x.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });
});

describe('Customer 360', () => {
  it("shows the account's orders as clients see them (major units), and none to support", async () => {
    const accountId = await account(alice);
    const o = await order(alice, { accountId, amount: 10.5 });
    const paid = (await pay(alice, o.id, 0.5)).json;
    const view = await api(alice).get(`/v1/accounts/${accountId}/360`);
    expect(view.json.orders).toEqual([paid]);
    expect(view.json.account.id).toBe(accountId);
    const support = await api(sam).get(`/v1/accounts/${accountId}/360`);
    expectStatus(support, 200);
    expect(support.json.orders).toEqual([]);
  });
});

describe('an account merge moves its quotes and orders', () => {
  it("the target's Customer 360 shows them; they keep their payments and answer with the new accountId", async () => {
    const target = await account(alice, uniq('合并目标'));
    const source = await account(alice, uniq('合并来源'));
    const opp = await api(alice).post('/v1/opportunities', { accountId: source, name: uniq('被合并商机'), amount: 100, expectedCloseDate: '2027-01-31' });
    expectStatus(opp, 201);
    const q = await api(alice).post(`/v1/opportunities/${opp.json.id}/quotes`, { lines: [{ product: 'x', quantity: 1, unitPrice: 100 }] });
    expectStatus(q, 201);
    const o = await order(alice, { accountId: source, amount: 100, opportunityId: opp.json.id });
    await pay(alice, o.id, 25);

    expectStatus(await api(mia).post(`/v1/accounts/${target}/merge`, { sourceId: source }), 200);

    const movedOrder = (await api(alice).get(`/v1/orders/${o.id}`)).json;
    expect(movedOrder).toMatchObject({ accountId: target, collectedAmount: 25, outstandingAmount: 75, opportunityId: opp.json.id });
    expect((await api(alice).get(`/v1/quotes/${q.json.id}`)).json).toMatchObject({ accountId: target, total: 100 });
    const view = (await api(alice).get(`/v1/accounts/${target}/360`)).json;
    expect(view.orders.map((x: any) => x.id)).toEqual([o.id]);
    expect(view.quotes.map((x: any) => x.id)).toEqual([q.json.id]);
    expect((await listAll(alice, `/v1/orders?accountId=${target}`)).map((x) => x.id)).toEqual([o.id]);
    expect((await listAll(alice, `/v1/opportunities/${opp.json.id}/quotes`)).map((x) => x.id)).toEqual([q.json.id]);
    expect(await listAll(alice, `/v1/orders/${o.id}/payments`)).toHaveLength(1);
    // Payments still land on the moved order.
    expect((await pay(alice, o.id, 75)).json).toMatchObject({ accountId: target, paymentStatus: 'paid' });
  });
});
