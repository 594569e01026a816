/**
 * Payments racing on one order (API.md §5 orders: "a payment beyond the outstanding amount →
 * 409 overpayment", exact sums): real concurrent HTTP requests. The payment and the order's
 * totals change in one transaction guarded by `outstanding >= amount`, so an overpayment can
 * never land, and every payment that fits lands exactly once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { entityKey } from '#domain/table/keys.ts';
import { api, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { concurrently, eventsOf, expectStatus, rawItem } from '#test/sales/orders-support.ts';

const T = 'orders-races';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };

beforeAll(async () => {
  for (const c of [alice, mia]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

async function newOrder(amount: number): Promise<string> {
  const accountId = (await api(alice).post('/v1/accounts', { name: uniq('竞态客户') })).json.id;
  const res = await api(alice).post('/v1/orders', { accountId, amount, signedAt: '2026-05-01T00:00:00Z' });
  expectStatus(res, 201);
  return res.json.id;
}

const pay = (who: Caller, id: string, amount: number) => () => api(who).post(`/v1/orders/${id}/payments`, { amount });

describe('concurrent payments on one order', () => {
  it('2 payments that together overpay: exactly one 201, one 409 overpayment; the totals hold the winner only', async () => {
    for (let round = 0; round < 3; round++) {
      const id = await newOrder(100);
      const answers = await concurrently([pay(alice, id, 60), pay(mia, id, 60)]);
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses, answers.map((a) => a.body).join('\n')).toEqual([201, 409]);
      const lost = answers.find((a) => a.status === 409)!;
      expectProblem({ ...lost, req: 'the losing payment' }, 409, 'overpayment');
      const won = answers.find((a) => a.status === 201)!;
      expect(won.json).toMatchObject({ collectedAmount: 60, outstandingAmount: 40, paymentCount: 1, version: 2 });
      const order = (await api(alice).get(`/v1/orders/${id}`)).json;
      expect(order).toEqual(won.json);
      expect(await listAll(alice, `/v1/orders/${id}/payments`)).toHaveLength(1);
      expect(await eventsOf(T, 'payment.received', id)).toHaveLength(1);
    }
  });

  it('20 small payments that fit: all 201, collected exact to the cent, each answer a distinct version', async () => {
    const id = await newOrder(1);
    const answers = await concurrently(Array.from({ length: 20 }, (_, i) => pay(i % 2 ? alice : mia, id, 0.05)));
    for (const a of answers) expectStatus(a, 201);
    // Each answer is the order right after its own payment: versions 2..21, collected 0.05 × n.
    const byVersion = answers.map((a) => a.json).sort((x, y) => x.version - y.version);
    expect(byVersion.map((o) => o.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(byVersion.map((o) => Math.round(o.collectedAmount * 100))).toEqual(Array.from({ length: 20 }, (_, i) => 5 * (i + 1)));
    const order = (await api(alice).get(`/v1/orders/${id}`)).json;
    expect(order).toMatchObject({ collectedAmount: 1, outstandingAmount: 0, paymentStatus: 'paid', paymentCount: 20, version: 21 });
    expect(await rawItem(entityKey(T, 'ORDER', id))).toMatchObject({ collectedMinor: 100, outstandingMinor: 0, amountMinor: 100 });
    const payments = await listAll(alice, `/v1/orders/${id}/payments`);
    expect(payments).toHaveLength(20);
    expect(payments.every((p) => p.amount === 0.05)).toBe(true);
    expect(await eventsOf(T, 'payment.received', id)).toHaveLength(20);
  });

  it('25 payments racing for room for 20: exactly 20 land, 5 are 409 overpayment, never more than the amount', async () => {
    const id = await newOrder(1);
    const answers = await concurrently(Array.from({ length: 25 }, () => pay(alice, id, 0.05)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(20);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(5);
    for (const r of refused) expectProblem({ ...r, req: 'a refused payment' }, 409, 'overpayment');
    expect((await api(alice).get(`/v1/orders/${id}`)).json).toMatchObject({ collectedAmount: 1, outstandingAmount: 0, paymentCount: 20 });
    expect(await listAll(alice, `/v1/orders/${id}/payments`)).toHaveLength(20);
  });

  it('a payment racing a change of the amount: the totals always agree with the payments', async () => {
    const id = await newOrder(100);
    const answers = await concurrently([pay(alice, id, 70), () => api(mia).patch(`/v1/orders/${id}`, { amount: 50 }), pay(alice, id, 20)]);
    const order = (await api(alice).get(`/v1/orders/${id}`)).json;
    const payments = await listAll(alice, `/v1/orders/${id}/payments`);
    const paidCents = payments.reduce((s, p) => s + Math.round(p.amount * 100), 0);
    expect(Math.round(order.collectedAmount * 100)).toBe(paidCents);
    expect(Math.round(order.outstandingAmount * 100)).toBe(Math.round(order.amount * 100) - paidCents);
    expect(order.outstandingAmount).toBeGreaterThanOrEqual(0);
    for (const a of answers) expect([200, 201, 409]).toContain(a.status);
  });
});
