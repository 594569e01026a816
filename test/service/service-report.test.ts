/**
 * The service report (api/service.md "Service report"): kept from the ticket events (no ticket
 * read at report time), counts by period, attainment and the first-response median in business
 * minutes, CSAT, priorities, top tags, the backlog; redelivered and out-of-order events change
 * nothing; roles and period validation.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { monthOf } from '#domain/analytics/periods.ts';
import { applyServiceEvent, medianOf } from '#domain/service/service-report.ts';
import { call } from '#test/support/api.ts';
import { api, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { linkIn, mailbox } from '#test/marketing/support.ts';

const T = 'service-report';
const admin: Caller = { tenant: T, user: 'boss', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const rep: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

let account: string;
const TZ = 'Asia/Shanghai';

beforeAll(async () => {
  for (const c of [admin, sam, mia, rep, mark]) expect((await api(c).get('/v1/notifications')).status).toBe(200);
  // 24/7: business minutes are plain minutes, so the median is checkable from the records' own times.
  expect((await api(admin).put('/v1/sla/policy', { businessHours: null })).status).toBe(200);
  account = (await api(admin).post('/v1/accounts', { name: '报表测试公司' })).json.id;
});

async function ticket(body: Record<string, unknown>) {
  const res = await api(sam).post('/v1/tickets', { accountId: account, ...body });
  expect(res.status, res.body).toBe(201);
  return res.json;
}

async function report(period?: string) {
  await deliverPending(publisher());
  const res = await api(sam).get(`/v1/reports/service${period ? `?period=${period}` : ''}`);
  expect(res.status, res.body).toBe(200);
  return res.json;
}

describe('medianOf', () => {
  it('the lower median of a histogram, null when empty', () => {
    expect(medianOf(new Map())).toBeNull();
    expect(medianOf(new Map([[5, 1]]))).toBe(5);
    expect(medianOf(new Map([[1, 1], [9, 1]]))).toBe(1);
    expect(medianOf(new Map([[1, 1], [4, 2], [9, 1]]))).toBe(4);
    expect(medianOf(new Map([[2, 3], [100, 2]]))).toBe(2);
  });
});

describe('service report', () => {
  it('counts, attainment, median, csat, priorities, tags and backlog from the events', async () => {
    const period = monthOf(new Date(), TZ);
    const empty = await report(period);
    expect(empty).toEqual({
      period, created: 0, solved: 0, backlog: 0,
      firstResponse: { met: 0, breached: 0, attainment: null, medianBusinessMinutes: null },
      resolution: { met: 0, breached: 0, attainment: null },
      csat: { responses: 0, satisfied: 0, score: null },
      byPriority: { urgent: { created: 0, solved: 0 }, high: { created: 0, solved: 0 }, normal: { created: 0, solved: 0 }, low: { created: 0, solved: 0 } },
      topTags: [],
    });

    const contact = (await api(admin).post('/v1/contacts', { name: '赵', email: 'zhao@example.cn', accountId: account })).json.id;
    const a = await ticket({ subject: 'A', priority: 'urgent', tags: ['退款', 'login'], contactId: contact });
    const b = await ticket({ subject: 'B', priority: 'high', tags: ['退款'] });
    const c = await ticket({ subject: 'C', tags: ['退款', 'billing'] });
    // First responses on A and B; A and C solved; A's requester answers CSAT 5.
    for (const id of [a.id, b.id]) expect((await api(sam).post(`/v1/tickets/${id}/comments`, { body: '收到 we are on it' })).status).toBe(201);
    for (const id of [a.id, c.id]) expect((await api(sam).patch(`/v1/tickets/${id}`, { status: 'solved' })).status).toBe(200);
    await deliverPending(publisher());
    const mail = (await mailbox(T, '&to=zhao%40example.cn'))[0];
    expect((await call(null, 'POST', linkIn(mail.html, '/s/'), { score: 5 })).status).toBe(200);

    const r = await report(period);
    const views = await Promise.all([a, b].map(async (x) => (await api(sam).get(`/v1/tickets/${x.id}`)).json));
    const minutes = views.map((v) => Math.floor((Date.parse(v.firstRespondedAt) - Date.parse(v.createdAt)) / 60_000)).sort((x, y) => x - y);
    expect(r).toEqual({
      period, created: 3, solved: 2, backlog: 1,
      firstResponse: { met: 2, breached: 0, attainment: 1, medianBusinessMinutes: minutes[0] },
      resolution: { met: 2, breached: 0, attainment: 1 },
      csat: { responses: 1, satisfied: 1, score: 1 },
      byPriority: { urgent: { created: 1, solved: 1 }, high: { created: 1, solved: 0 }, normal: { created: 1, solved: 1 }, low: { created: 0, solved: 0 } },
      topTags: [{ tag: '退款', count: 3 }, { tag: 'billing', count: 1 }, { tag: 'login', count: 1 }],
    });
    // Default period: the current month in the tenant's time zone.
    expect(await report()).toEqual(r);

    // Reopen C: it leaves `solved` and rejoins the backlog.
    expect((await api(sam).patch(`/v1/tickets/${c.id}`, { status: 'open' })).status).toBe(200);
    const reopened = await report(period);
    expect(reopened).toMatchObject({ solved: 1, backlog: 2, byPriority: { normal: { created: 1, solved: 0 } } });

    // A redelivered or stale event changes nothing (the contribution is version-gated).
    const stale = { id: 'EVT-STALE', type: 'ticket.created', version: 1, tenantId: T, occurredAt: c.createdAt, actor: { userId: 'sam', role: 'support' }, entity: { type: 'ticket', id: c.id }, data: {} } as any;
    expect(await applyServiceEvent(stale)).toBe(false);
    expect(await applyServiceEvent(stale)).toBe(false);
    expect(await report(period)).toEqual(reopened);
    // Another month is empty.
    expect((await report('2020-01')).created).toBe(0);
  });

  it('roles: support, admin, manager; rep and marketer 403; period must be YYYY-MM', async () => {
    for (const c of [admin, sam, mia]) expect((await api(c).get('/v1/reports/service?period=2026-12')).status).toBe(200);
    for (const c of [rep, mark]) expectProblem(await api(c).get('/v1/reports/service'), 403, 'forbidden');
    for (const p of ['2026-13', '2026-Q1', '202612', 'x']) expectProblem(await api(sam).get(`/v1/reports/service?period=${p}`), 400, 'validation_failed');
    expectProblem(await api(sam).get('/v1/reports/service?userId=sam'), 400, 'validation_failed');
  });
});
