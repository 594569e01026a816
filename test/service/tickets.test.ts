/**
 * Tickets over HTTP (api/service.md "Tickets", "SLA policy"): numbers under concurrent creates,
 * the status machine, comments, assignment and its notification, list filters, roles through the
 * account, Customer 360, an account merge moving tickets, and the SLA policy routes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { api, expectFieldError, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { DEFAULT_SLA_POLICY } from '#domain/service/business-hours.ts';
import { dueTimes } from '#domain/service/sla-clock.ts';

const T = 'tickets';
const admin: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const sue: Caller = { tenant: T, user: 'sue', role: 'support' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

let account: string;
let contact: string;

beforeAll(async () => {
  for (const c of [admin, sam, sue, alice, bob, mia, max, mark]) expect((await api(c).get('/v1/notifications')).status).toBe(200);
  account = (await api(alice).post('/v1/accounts', { name: '星辰科技有限公司' })).json.id;
  contact = (await api(alice).post('/v1/contacts', { name: '王小明', email: 'Wang@Example.cn', accountId: account })).json.id;
});

describe('create', () => {
  it('defaults, the contact\'s account and email, SLA due times from the policy, Location', async () => {
    const res = await api(sam).post('/v1/tickets', { subject: '  无法登录  ', contactId: contact });
    expect(res.status, res.body).toBe(201);
    const t = res.json;
    expect(res.headers.location).toBe(`/v1/tickets/${t.id}`);
    expect(t).toMatchObject({
      subject: '无法登录', accountId: account, contactId: contact, requesterEmail: 'wang@example.cn', priority: 'normal', type: 'question',
      channel: 'web', status: 'new', assigneeId: null, tags: [], firstRespondedAt: null, solvedAt: null, closedAt: null, csat: null, version: 1,
    });
    expect(typeof t.number).toBe('number');
    expect(t.sla).toEqual({
      policy: 'normal',
      ...dueTimes({ ...DEFAULT_SLA_POLICY, businessHours: { ...DEFAULT_SLA_POLICY.businessHours, days: [1, 2, 3, 4, 5] }, holidays: [], targets: structuredClone(DEFAULT_SLA_POLICY.targets) } as never, t.createdAt, 'normal', 0),
      firstResponseBreachedAt: null, resolutionBreachedAt: null, pausedSince: null,
    });
    for (const internal of ['slaPolicy', 'slaPausedMs', 'firstSolvedAt', 'ownerId', 'ownerTeamId']) expect(internal in t).toBe(false);
  });

  it('numbers are 1, 2, 3… per tenant, unique and gapless under 20 concurrent creates', async () => {
    const other: Caller = { tenant: 'tickets-seq', user: 'sam', role: 'support' };
    const res = await Promise.all(Array.from({ length: 20 }, (_, i) => api(other).post('/v1/tickets', { subject: `并发 ${i}` })));
    for (const r of res) expect(r.status, r.body).toBe(201);
    expect(res.map((r) => r.json.number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('with an assignee it starts open, and the assignee is notified (ticket.assigned)', async () => {
    const res = await api(admin).post('/v1/tickets', { subject: '打印机故障', accountId: account, assigneeId: 'sam', priority: 'urgent' });
    expect(res.json).toMatchObject({ status: 'open', assigneeId: 'sam', priority: 'urgent' });
    const notes = await listAll(sam, '/v1/notifications?unread=true');
    expect(notes.filter((n) => n.kind === 'ticket.assigned' && n.entityId === res.json.id)).toHaveLength(1);
  });

  it('bad input: strict body, unknown assignee, an account the caller may not open, server-owned fields', async () => {
    expectFieldError(await api(sam).post('/v1/tickets', { subject: 'x', assigneeId: 'ghost' }), 'assigneeId');
    expectFieldError(await api(sam).post('/v1/tickets', { subject: 'x', accountId: 'nope' }), 'accountId');
    expectFieldError(await api(bob).post('/v1/tickets', { subject: 'x', accountId: account }), 'accountId');
    expectFieldError(await api(sam).post('/v1/tickets', { subject: 'x', status: 'open' }), 'body');
    expectFieldError(await api(sam).post('/v1/tickets', { subject: 'x', number: 7 }), 'body');
    expectFieldError(await api(sam).post('/v1/tickets', { subject: 'x', priority: 'asap' }), 'priority');
    expectProblem(await api(mark).post('/v1/tickets', { subject: 'x' }), 403, 'forbidden');
  });
});

describe('the status machine', () => {
  it('new → open → pending → open → solved → open → solved → closed; every other move is 409 invalid_transition', async () => {
    const id = (await api(sam).post('/v1/tickets', { subject: '状态机', accountId: account })).json.id;
    const move = (status: string) => api(sam).patch(`/v1/tickets/${id}`, { status });
    expectProblem(await move('pending'), 409, 'invalid_transition');
    expectProblem(await move('closed'), 409, 'invalid_transition');
    expect((await move('open')).json.status).toBe('open');
    const pending = await move('pending');
    expect(pending.json.sla.pausedSince).toBe(pending.json.updatedAt);
    expectProblem(await move('new'), 409, 'invalid_transition');
    const back = await move('open');
    expect(back.json.sla.pausedSince).toBeNull();
    expect(back.json.sla.resolutionDueAt >= pending.json.sla.resolutionDueAt).toBe(true);
    const solved = await move('solved');
    expect(solved.json.solvedAt).toBe(solved.json.updatedAt);
    const reopened = await move('open');
    expect(reopened.json.solvedAt).toBeNull();
    expect((await move('solved')).status).toBe(200);
    const closed = await move('closed');
    expect(closed.json.closedAt).toBe(closed.json.updatedAt);
    for (const s of ['open', 'pending', 'solved', 'new']) expectProblem(await move(s), 409, 'invalid_transition');
    expectProblem(await api(sam).patch(`/v1/tickets/${id}`, { tags: ['late'] }), 409, 'invalid_transition');
    expectProblem(await api(sam).post(`/v1/tickets/${id}/comments`, { body: 'too late' }), 409, 'invalid_transition');
  });

  it('the first assignment opens a new ticket and notifies the assignee, not the one who assigns itself', async () => {
    const id = (await api(admin).post('/v1/tickets', { subject: '分配' })).json.id;
    const res = await api(admin).patch(`/v1/tickets/${id}`, { assigneeId: 'sue' });
    expect(res.json).toMatchObject({ status: 'open', assigneeId: 'sue', version: 2 });
    expect((await listAll(sue, '/v1/notifications')).filter((n) => n.kind === 'ticket.assigned' && n.entityId === id)).toHaveLength(1);
    expectFieldError(await api(admin).patch(`/v1/tickets/${id}`, { assigneeId: 'ghost' }), 'assigneeId');
    const self = await api(sam).post('/v1/tickets', { subject: '自己', assigneeId: 'sam' });
    expect((await listAll(sam, '/v1/notifications')).some((n) => n.entityId === self.json.id)).toBe(false);
    const unassigned = await api(admin).patch(`/v1/tickets/${id}`, { assigneeId: null });
    expect(unassigned.json).toMatchObject({ assigneeId: null, status: 'open' });
  });

  it('If-Match: a stale version is 412 and nothing changes', async () => {
    const id = (await api(sam).post('/v1/tickets', { subject: 'etag' })).json.id;
    expectProblem(await api(sam).patch(`/v1/tickets/${id}`, { status: 'open' }, { headers: { 'if-match': '"2"' } }), 412, 'version_mismatch');
    expect((await api(sam).get(`/v1/tickets/${id}`)).json.status).toBe('new');
  });
});

describe('comments', () => {
  it('the first public comment opens the ticket and sets firstRespondedAt; internal ones are support\'s only', async () => {
    const id = (await api(alice).post('/v1/tickets', { subject: '评论', accountId: account })).json.id;
    const internal = await api(sam).post(`/v1/tickets/${id}/comments`, { body: '内部备注', public: false });
    expect(internal.status, internal.body).toBe(201);
    expect((await api(sam).get(`/v1/tickets/${id}`)).json).toMatchObject({ status: 'new', firstRespondedAt: null, version: 1 });
    const reply = await api(sam).post(`/v1/tickets/${id}/comments`, { body: '您好，我们正在处理' });
    expect(reply.status).toBe(201);
    expect(reply.headers.location).toBe(`/v1/tickets/${id}/comments`);
    expect(reply.json).toMatchObject({ ticketId: id, public: true, authorId: 'sam', body: '您好，我们正在处理' });
    const t = (await api(sam).get(`/v1/tickets/${id}`)).json;
    expect(t).toMatchObject({ status: 'open', firstRespondedAt: reply.json.createdAt, version: 2 });
    await api(alice).post(`/v1/tickets/${id}/comments`, { body: '谢谢' });
    expect((await api(sam).get(`/v1/tickets/${id}`)).json.firstRespondedAt).toBe(reply.json.createdAt);
    expectProblem(await api(alice).post(`/v1/tickets/${id}/comments`, { body: 'secret', public: false }), 403, 'forbidden');

    const all = await listAll(sam, `/v1/tickets/${id}/comments`);
    expect(all.map((c) => c.body)).toEqual(['内部备注', '您好，我们正在处理', '谢谢']);
    const publicOnly = await listAll(mia, `/v1/tickets/${id}/comments`);
    expect(publicOnly.map((c) => c.body)).toEqual(['您好，我们正在处理', '谢谢']);
    expectProblem(await api(bob).get(`/v1/tickets/${id}/comments`), 404, 'not_found');
  });
});

describe('roles through the account', () => {
  it('reps and managers read the tickets of accounts they hold, change none; others 404; marketers 403', async () => {
    const id = (await api(sam).post('/v1/tickets', { subject: '可见性', accountId: account })).json.id;
    const orphan = (await api(sam).post('/v1/tickets', { subject: '无客户' })).json.id;
    expect((await api(alice).get(`/v1/tickets/${id}`)).status).toBe(200);
    expect((await api(mia).get(`/v1/tickets/${id}`)).status).toBe(200);
    expectProblem(await api(bob).get(`/v1/tickets/${id}`), 404, 'not_found');
    expectProblem(await api(max).get(`/v1/tickets/${id}`), 404, 'not_found');
    expectProblem(await api(alice).get(`/v1/tickets/${orphan}`), 404, 'not_found');
    expectProblem(await api(mark).get(`/v1/tickets/${id}`), 403, 'forbidden');
    expectProblem(await api(alice).patch(`/v1/tickets/${id}`, { priority: 'high' }), 403, 'forbidden');
    expectProblem(await api(bob).patch(`/v1/tickets/${id}`, { priority: 'high' }), 404, 'not_found');
    const listed = (c: Caller) => listAll(c, '/v1/tickets').then((xs) => xs.map((x) => x.id));
    expect(await listed(alice)).toContain(id);
    expect(await listed(alice)).not.toContain(orphan);
    expect(await listed(bob)).not.toContain(id);
    expect(await listed(max)).not.toContain(id);
    expect(await listed(sam)).toEqual(expect.arrayContaining([id, orphan]));
  });
});

describe('lists', () => {
  it('filters: status, priority, assigneeId (me, none), accountId, tag, breached; newest first', async () => {
    const other = (await api(alice).post('/v1/accounts', { name: '月亮科技' })).json.id;
    const a = (await api(sam).post('/v1/tickets', { subject: 'A', accountId: other, priority: 'high', tags: ['vip'] })).json.id;
    const b = (await api(sam).post('/v1/tickets', { subject: 'B', accountId: other, assigneeId: 'sam' })).json.id;
    const c = (await api(sam).post('/v1/tickets', { subject: 'C', accountId: other, assigneeId: 'sue', priority: 'high' })).json.id;
    const ids = (url: string, who: Caller = sam) => listAll(who, url).then((xs) => xs.map((x) => x.id));
    expect(await ids(`/v1/tickets?accountId=${other}`)).toEqual([c, b, a]);
    expect(await ids(`/v1/tickets?accountId=${other}&priority=high`)).toEqual([c, a]);
    expect(await ids(`/v1/tickets?accountId=${other}&assigneeId=none`)).toEqual([a]);
    expect(await ids(`/v1/tickets?accountId=${other}&tag=vip`)).toEqual([a]);
    expect(await ids(`/v1/tickets?accountId=${other}&status=open`)).toEqual([c, b]);
    expect(await ids('/v1/tickets?assigneeId=me')).toContain(b);
    expect(await ids('/v1/tickets?assigneeId=me')).not.toContain(c);
    expect(await ids('/v1/tickets?assigneeId=none')).toContain(a);
    expect(await ids('/v1/tickets?assigneeId=sue&priority=high')).toEqual([c]);
    expect(await ids(`/v1/tickets?accountId=${other}&breached=true`)).toEqual([]);
    expect(await ids(`/v1/tickets?accountId=${other}`, alice)).toEqual([c, b, a]);
    expectFieldError(await api(bob).get(`/v1/tickets?accountId=${other}`), 'accountId');
    expectFieldError(await api(sam).get('/v1/tickets?accountId=nope'), 'accountId');
    expectFieldError(await api(sam).get('/v1/tickets?breached=yes'), 'breached');
    expectFieldError(await api(sam).get('/v1/tickets?color=red'), 'query');
  });
});

describe('Customer 360 and merge', () => {
  it('360 lists the account\'s tickets that are not closed (not for marketers); a merge moves them', async () => {
    const source = (await api(alice).post('/v1/accounts', { name: '被合并公司' })).json.id;
    const target = (await api(alice).post('/v1/accounts', { name: '合并目标公司' })).json.id;
    const open = (await api(sam).post('/v1/tickets', { subject: '开着', accountId: source })).json.id;
    const closed = (await api(sam).post('/v1/tickets', { subject: '关了', accountId: source })).json.id;
    for (const s of ['solved', 'closed']) expect((await api(sam).patch(`/v1/tickets/${closed}`, { status: s })).status).toBe(200);
    const view = (await api(sam).get(`/v1/accounts/${source}/360`)).json;
    expect(view.tickets.map((x: any) => x.id)).toEqual([open]);
    expect('slaPolicy' in view.tickets[0]).toBe(false);
    expect((await api(mark).get(`/v1/accounts/${source}/360`)).json.tickets).toEqual([]);

    const merged = await api(mia).post(`/v1/accounts/${target}/merge`, { sourceId: source });
    expect(merged.status, merged.body).toBe(200);
    for (const id of [open, closed]) expect((await api(sam).get(`/v1/tickets/${id}`)).json.accountId).toBe(target);
    expect((await api(sam).get(`/v1/accounts/${target}/360`)).json.tickets.map((x: any) => x.id)).toEqual([open]);
    expect((await listAll(sam, `/v1/tickets?accountId=${target}`)).map((x) => x.id)).toEqual([closed, open]);
    await deliverPending(publisher());
  });
});

describe('suggestions', () => {
  it('published articles sharing terms with the subject, most shared first; whoever reads the ticket', async () => {
    const both = (await api(sam).post('/v1/kb/articles', { title: '登录失败怎么办', body: '重置密码 login help', status: 'published' })).json.id;
    const one = (await api(sam).post('/v1/kb/articles', { title: '密码规则', body: '长度至少八位', status: 'published' })).json.id;
    const draft = (await api(sam).post('/v1/kb/articles', { title: '登录失败 草稿', body: '未发布', status: 'draft' })).json.id;
    const id = (await api(alice).post('/v1/tickets', { subject: '登录失败 密码', accountId: account })).json.id;
    let got: string[] = [];
    for (let attempt = 0; attempt < 20 && got.length < 2; attempt++) {
      await deliverPending(publisher());
      got = (await api(sam).get(`/v1/tickets/${id}/suggestions`)).json.items.map((a: any) => a.id);
    }
    expect(got).toEqual([both, one]);
    expect(got).not.toContain(draft);
    const asRep = await api(alice).get(`/v1/tickets/${id}/suggestions`);
    expect(asRep.json).toMatchObject({ nextCursor: null });
    expectProblem(await api(bob).get(`/v1/tickets/${id}/suggestions`), 404, 'not_found');
    expectProblem(await api(mark).get(`/v1/tickets/${id}/suggestions`), 403, 'forbidden');
  });
});

describe('SLA policy', () => {
  it('defaults; admins replace it whole; invalid bodies are 400 and the old policy stays; roles', async () => {
    const first = await api(sam).get('/v1/sla/policy');
    expect(first.json).toMatchObject({ ...structuredClone(DEFAULT_SLA_POLICY), version: 0 });
    const put = await api(admin).put('/v1/sla/policy', { targets: { urgent: { firstResponseMinutes: 30 } }, businessHours: null });
    expect(put.status, put.body).toBe(200);
    expect(put.json).toMatchObject({ targets: { urgent: { firstResponseMinutes: 30, resolutionMinutes: 240 }, low: DEFAULT_SLA_POLICY.targets.low }, businessHours: null, version: 1 });
    for (const [body, field] of [
      [{ businessHours: { start: '18:00', end: '09:00' } }, 'end'],
      [{ businessHours: { days: [] } }, 'days'],
      [{ businessHours: { timeZone: 'Mars/Olympus' } }, 'timeZone'],
      [{ targets: { low: { resolutionMinutes: 0 } } }, 'resolutionMinutes'],
      [{ targets: { high: { firstResponseMinutes: -5 } } }, 'firstResponseMinutes'],
      [{ colour: 'blue' }, 'body'],
    ] as const) {
      expectFieldError(await api(admin).put('/v1/sla/policy', body), field);
    }
    expect((await api(mia).get('/v1/sla/policy')).json).toEqual(put.json);
    expectProblem(await api(sam).put('/v1/sla/policy', {}), 403, 'forbidden');
    expectProblem(await api(alice).get('/v1/sla/policy'), 403, 'forbidden');
    expectProblem(await api(mark).get('/v1/sla/policy'), 403, 'forbidden');
    // A ticket created now runs 24/7 with the new urgent target; restore the defaults for the other tests.
    const t = (await api(sam).post('/v1/tickets', { subject: '24/7', priority: 'urgent' })).json;
    expect(Date.parse(t.sla.firstResponseDueAt) - Date.parse(t.createdAt)).toBe(30 * 60_000);
    expect((await api(admin).put('/v1/sla/policy', {})).json.version).toBe(2);
  });
});
