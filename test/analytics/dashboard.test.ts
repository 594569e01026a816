/**
 * The dashboard (api/analytics.md "Dashboard"): every figure for the tenant, a team and a user,
 * attribution at the moment of the fact, events delivered twice and out of order, and the
 * rebuild giving the same figures.
 */
import { describe, expect, it } from 'vitest';
import { addMonths } from '#domain/analytics/periods.ts';
import { rebuildAggregates } from '#domain/analytics/rebuild.ts';
import { handler as analyticsConsumer } from '#functions/events/analytics.ts';
import { api, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { account, deliver, enroll, monthOfIso, move, opportunity, people, stagesOf, takePending, get } from '#test/analytics/support.ts';

type People = ReturnType<typeof people>;

/** The scenario of this file: figures of every kind across two teams. */
async function scenario(p: People) {
  await enroll(p.root, p.mia, p.alice, p.bob, p.carol);
  const s = stagesOf(p.tenant);
  const period = monthOfIso(new Date().toISOString());
  const inPeriod = `${period}-15T04:00:00.000Z`;

  const a1 = await account(p.alice);
  const b1 = await account(p.bob);
  const c1 = await account(p.carol);
  const o1 = await opportunity(p.alice, a1, { amount: 1000, expectedCloseDate: `${period}-20` });
  await move(p.alice, o1.id, { stageId: s[2] }); // 方案报价 50 %
  const o2 = await opportunity(p.bob, b1, { amount: 2000.5, expectedCloseDate: `${period}-28` });
  await move(p.bob, o2.id, { stageId: s[4] }); // won
  const o3 = await opportunity(p.carol, c1, { amount: 300, expectedCloseDate: `${period}-10` });
  await move(p.carol, o3.id, { stageId: s[5], lostReason: '预算取消' });
  // An opportunity in another currency: counted, left out of money sums.
  await opportunity(p.carol, c1, { amount: 999, currency: 'USD', expectedCloseDate: `${period}-11` });

  const order = await api(p.alice).post('/v1/orders', { accountId: a1, amount: 5000, signedAt: inPeriod });
  expect(order.status, order.body).toBe(201);
  for (const [amount, receivedAt] of [
    [1200, inPeriod],
    [300, `${addMonths(period, -1)}-15T04:00:00.000Z`],
    [100, `${addMonths(period, -12)}-15T04:00:00.000Z`],
  ] as const) {
    expect((await api(p.alice).post(`/v1/orders/${order.json.id}/payments`, { amount, receivedAt })).status).toBe(201);
  }
  for (const type of ['call', 'meeting']) {
    expect((await api(p.alice).post('/v1/activities', { type, subject: `跟进 ${type}`, accountId: a1, occurredAt: inPeriod })).status).toBe(201);
  }
  expect((await api(p.mia).put(`/v1/targets/${period}`, { userId: 'alice', amount: 10000 })).status).toBe(200);
  expect((await api(p.root).put(`/v1/targets/${period}`, { teamId: 'east', amount: 50000 })).status).toBe(200);
  expect((await api(p.root).put(`/v1/targets/${period}`, { userId: 'carol', amount: 3000 })).status).toBe(200);
  const lead = await api(p.bob).post('/v1/leads', { name: '李雷', company: '新线索科技' });
  expect(lead.status, lead.body).toBe(201);
  return { period, s, o1, o2, o3, a1, b1, c1, order: order.json };
}

const dash = (who: Caller, query = '') => get(who, `/v1/dashboard${query}`);

describe('GET /v1/dashboard', () => {
  it('every figure, for the tenant, a team and a user; events twice and out of order count once', async () => {
    const p = people();
    const { period } = await scenario(p);
    // Deliver the events to the analytics consumer in reverse order, each twice.
    const events = await takePending();
    for (const event of [...events].reverse()) await analyticsConsumer({ detail: event });
    for (const event of events) await analyticsConsumer({ detail: event });
    await deliver();

    const tenant = await dash(p.root, `?period=${period}`);
    expect(tenant).toEqual({
      period,
      scope: { kind: 'tenant', id: p.tenant },
      won: { count: 1, amount: 2000.5 },
      lost: { count: 1, amount: 300 },
      created: { count: 4, amount: 3300.5 },
      pipeline: { count: 2, amount: 1000, weightedAmount: 500 },
      orders: { count: 1, amount: 5000 },
      collected: { count: 1, amount: 1200 },
      outstanding: { amount: 3400 },
      // east has its own target (50,000); west has none, so its members' (carol 3,000).
      target: 53000,
      attainment: 0.0377,
      previous: { won: { count: 0, amount: 0 }, collected: { amount: 300 } },
      yearAgo: { won: { count: 0, amount: 0 }, collected: { amount: 100 } },
      newAccounts: 3,
      newLeads: 1,
      convertedLeads: 0,
      activities: { total: 2, byType: { call: 1, meeting: 1, email: 0, visit: 0, note: 0 } },
      pool: { released: 0, claimed: 0 },
      members: [
        { userId: 'bob', won: { count: 1, amount: 2000.5 }, collected: { amount: 0 }, target: null, attainment: null },
        { userId: 'alice', won: { count: 0, amount: 0 }, collected: { amount: 1200 }, target: 10000, attainment: 0 },
        { userId: 'carol', won: { count: 0, amount: 0 }, collected: { amount: 0 }, target: 3000, attainment: 0 },
      ],
    });

    // The manager's default scope is its team; members are the team's.
    const east = await dash(p.mia, `?period=${period}`);
    expect(east.scope).toEqual({ kind: 'team', id: 'east' });
    expect(east.target).toBe(50000);
    expect(east.won).toEqual({ count: 1, amount: 2000.5 });
    expect(east.pipeline).toEqual({ count: 1, amount: 1000, weightedAmount: 500 });
    expect(east.members.map((m: { userId: string }) => m.userId)).toEqual(['bob', 'alice']);

    // A rep's default scope is itself, with no members.
    const alice = await dash(p.alice, `?period=${period}`);
    expect(alice.scope).toEqual({ kind: 'user', id: 'alice' });
    expect(alice).toMatchObject({ target: 10000, attainment: 0, orders: { count: 1, amount: 5000 }, outstanding: { amount: 3400 }, newAccounts: 1, members: [] });
    expect(alice.previous.collected.amount).toBe(300);

    // West has no team target: its members' targets sum up.
    expect((await dash(p.root, `?period=${period}&teamId=west`)).target).toBe(3000);
    // Rebuilt from the records, the figures are the same.
    await rebuildAggregates(p.tenant);
    expect(await dash(p.root, `?period=${period}`)).toEqual(tenant);
    expect(await dash(p.mia, `?period=${period}`)).toEqual(east);
    expect(await dash(p.alice, `?period=${period}`)).toEqual(alice);
  });

  it('moves, amounts, close dates, owners and deletions move the contribution; past figures stay with who held them', async () => {
    const p = people();
    const { period, s, o1, o2, a1 } = await scenario(p);
    await deliver();
    // The won opportunity changes hands: its win stays bob's (and east's).
    await move(p.root, o2.id, { ownerId: 'carol' });
    // The open one: a new amount, close date next month, then reassigned to west's carol.
    await move(p.alice, o1.id, { amount: 4000 });
    await move(p.alice, o1.id, { expectedCloseDate: `${addMonths(period, 1)}-05` });
    await deliver();
    let tenant = await dash(p.root, `?period=${period}`);
    expect(tenant.won).toEqual({ count: 1, amount: 2000.5 });
    expect(tenant.members[0]).toMatchObject({ userId: 'bob', won: { count: 1, amount: 2000.5 } });
    expect(tenant.pipeline).toEqual({ count: 1, amount: 0, weightedAmount: 0 }); // only the USD one is left this month
    expect(tenant.created.amount).toBe(6300.5); // created figures follow the amount as it is
    const next = await dash(p.root, `?period=${addMonths(period, 1)}`);
    expect(next.pipeline).toEqual({ count: 1, amount: 4000, weightedAmount: 2000 });

    await move(p.root, o1.id, { ownerId: 'carol' });
    await deliver();
    expect((await dash(p.root, `?period=${addMonths(period, 1)}&teamId=west`)).pipeline).toEqual({ count: 1, amount: 4000, weightedAmount: 2000 });
    expect((await dash(p.root, `?period=${addMonths(period, 1)}&teamId=east`)).pipeline).toEqual({ count: 0, amount: 0, weightedAmount: 0 });
    // Created stays with alice, who owned it when it was created.
    expect((await dash(p.root, `?period=${period}&userId=alice`)).created).toEqual({ count: 1, amount: 4000 });

    // Reopened: the win is gone from the figures; deleted: so is everything else of it.
    await move(p.root, o2.id, { stageId: s[3] });
    const deleted = await api(p.root).delete(`/v1/opportunities/${o1.id}`);
    expect(deleted.status, deleted.body).toBe(204);
    await deliver();
    tenant = await dash(p.root, `?period=${period}`);
    expect(tenant.won).toEqual({ count: 0, amount: 0 });
    expect(tenant.created).toEqual({ count: 3, amount: 2300.5 });
    expect((await dash(p.root, `?period=${addMonths(period, 1)}`)).pipeline.count).toBe(0);
    expect(a1).toBeTruthy();

    await rebuildAggregates(p.tenant);
    expect(await dash(p.root, `?period=${period}`)).toEqual(tenant);
  });

  it('pool moves and lead conversions count for who they happened to', async () => {
    const p = people();
    await enroll(p.root, p.alice, p.bob);
    const period = monthOfIso(new Date().toISOString());
    const a = await account(p.alice);
    expect((await api(p.alice).post(`/v1/accounts/${a}/release`, { reason: '不再跟进' })).status).toBe(200);
    expect((await api(p.bob).post(`/v1/pool/${a}/claim`)).status).toBe(200);
    const lead = await api(p.bob).post('/v1/leads', { name: '韩梅梅', company: '转化测试有限公司' });
    expect((await api(p.bob).post(`/v1/leads/${lead.json.id}/convert`, {})).status).toBe(200);
    await deliver();
    const alice = await dash(p.root, `?period=${period}&userId=alice`);
    expect(alice.pool).toEqual({ released: 1, claimed: 0 });
    expect(alice.activities.total, 'the release note is nobody\'s follow-up').toBe(0);
    const bob = await dash(p.root, `?period=${period}&userId=bob`);
    expect(bob).toMatchObject({ pool: { released: 0, claimed: 1 }, newLeads: 1, convertedLeads: 1, newAccounts: 1 });
    expect((await dash(p.root, `?period=${period}&teamId=east`)).pool).toEqual({ released: 1, claimed: 1 });
  });
});

describe('scope and bad input', () => {
  it('answers as the contract says', async () => {
    const p = people();
    await enroll(p.root, p.mia, p.alice, p.bob, p.carol);
    expectProblem(await api(p.root).get('/v1/dashboard?userId=alice&teamId=east'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/dashboard?period=2026-13'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/dashboard?period=2026-Q1'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/dashboard?unknown=1'), 400, 'validation_failed');
    expectProblem(await api(p.alice).get('/v1/dashboard?userId=bob'), 404, 'not_found');
    expectProblem(await api(p.alice).get('/v1/dashboard?teamId=east'), 404, 'not_found');
    expectProblem(await api(p.mia).get('/v1/dashboard?userId=carol'), 404, 'not_found');
    expectProblem(await api(p.mia).get('/v1/dashboard?teamId=west'), 404, 'not_found');
    expectProblem(await api(p.sam).get('/v1/dashboard'), 403, 'forbidden');
    expectProblem(await api(p.max).get('/v1/dashboard'), 403, 'forbidden');
    expect((await api(p.alice).get('/v1/dashboard?userId=alice')).json.scope).toEqual({ kind: 'user', id: 'alice' });
    expect((await api(p.alice).get('/v1/dashboard?userId=me')).json.scope).toEqual({ kind: 'user', id: 'alice' });
    expect((await api(p.mia).get('/v1/dashboard?userId=bob')).json.scope).toEqual({ kind: 'user', id: 'bob' });
    expect((await api(p.root).get('/v1/dashboard?teamId=west')).json.scope).toEqual({ kind: 'team', id: 'west' });
    // A tenant with nothing: every key, zeros and nulls.
    const empty = await api(p.root).get('/v1/dashboard?period=2020-01');
    expect(empty.json).toMatchObject({ won: { count: 0, amount: 0 }, target: null, attainment: null, members: [] });
  });
});
