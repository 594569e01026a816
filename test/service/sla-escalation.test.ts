/**
 * SLA clocks on tickets and the `sla-escalation` job (api/service.md "SLA policy and business
 * hours", "The sla-escalation job"). Tickets are made through the use cases with a fixed clock
 * (the contract's Friday 2026-12-04 17:00 Shanghai), and the job is run "as of" later instants,
 * through `POST /_local/jobs/sla-escalation` and, for fault injection, the domain function.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { UseCaseContext } from '#domain/context.ts';
import type { Role } from '#domain/identity.ts';
import { schedules } from '#events/schedules.ts';
import { addComment, createTicket, updateTicket } from '#domain/service/tickets.ts';
import { InjectedFailure, runSlaEscalation } from '#domain/service/sla-escalation.ts';
import { jobHandlers } from '#local/registry.ts';
import { call } from '#test/support/api.ts';
import { api, listAll, type Caller } from '#test/support/fixtures.ts';

const FRIDAY_17 = '2026-12-04T09:00:00.000Z'; // Friday 17:00 Shanghai
const FR_DUE = '2026-12-07T08:00:00.000Z'; // Monday 16:00 (480 business minutes)
const FR_WARN = '2026-12-07T07:30:00.000Z'; // Monday 15:30
const RES_DUE = '2026-12-14T03:00:00.000Z'; // Monday 12-14 11:00 (2880)

let n = 0;
function tenant(label: string) {
  const id = `sla-${label}-${++n}`;
  const who = (user: string, role: Role): Caller => ({ tenant: id, user, role });
  return { id, admin: who('root', 'admin'), sam: who('sam', 'support'), sue: who('sue', 'support'), alice: { ...who('alice', 'rep'), team: 'east' } as Caller };
}
const ctxOf = (c: Caller, at: string): UseCaseContext => ({ identity: { tenantId: c.tenant, userId: c.user, role: c.role, ...(c.team ? { teamId: c.team } : {}) }, now: new Date(at) });

async function enroll(...cs: Caller[]) {
  for (const c of cs) expect((await api(c).get('/v1/notifications')).status).toBe(200);
}
async function runJob(admin: Caller, now: string) {
  const res = await call(admin, 'POST', '/_local/jobs/sla-escalation', { now });
  expect(res.status, res.body).toBe(200);
  expect(res.json.job).toBe('sla-escalation');
  return res.json;
}
const slaNotes = async (c: Caller, ticketId: string) =>
  (await listAll(c, '/v1/notifications')).filter((x) => x.entityId === ticketId && String(x.kind).startsWith('ticket.sla_')).map((x) => `${x.kind}:${x.data.clock}`).sort();
const ticketOf = async (c: Caller, id: string) => (await api(c).get(`/v1/tickets/${id}`)).json;

describe('the schedule', () => {
  it('runs every minute from the one schedule table, with a job handler and reserved concurrency', () => {
    const entry = schedules.find((s) => s.name === 'sla-escalation');
    expect(entry).toMatchObject({ cron: '* * * * *', reservedConcurrency: 1 });
    expect(jobHandlers['sla-escalation']).toBeDefined();
  });
});

describe('due times, pauses and priority changes', () => {
  it('the contract\'s example, a pause to the millisecond, a priority change from the creation', async () => {
    const { sam } = tenant('clock');
    await enroll(sam);
    const t = await createTicket(ctxOf(sam, FRIDAY_17), { subject: '例子', priority: 'normal', type: 'question', channel: 'email', tags: [] });
    expect(t.sla).toMatchObject({ firstResponseDueAt: FR_DUE, resolutionDueAt: RES_DUE });
    await updateTicket(ctxOf(sam, '2026-12-07T01:00:00.000Z'), t.id, { status: 'open' }, undefined);
    // pending Monday 17:50:00 → Tuesday 09:10:30: 20.5 business minutes (docs/sla.md).
    const paused = await updateTicket(ctxOf(sam, '2026-12-07T09:50:00.000Z'), t.id, { status: 'pending' }, undefined);
    expect(paused.sla.pausedSince).toBe('2026-12-07T09:50:00.000Z');
    const resumed = await updateTicket(ctxOf(sam, '2026-12-08T01:10:30.000Z'), t.id, { status: 'open' }, undefined);
    expect(resumed.sla).toMatchObject({ pausedSince: null, resolutionDueAt: '2026-12-14T03:20:30.000Z', firstResponseDueAt: FR_DUE });
    const high = await updateTicket(ctxOf(sam, '2026-12-08T01:11:00.000Z'), t.id, { priority: 'high' }, undefined);
    // high: 240 / 1440 business minutes from Friday 17:00, the resolution one plus the 20.5 paused.
    expect(high.sla).toMatchObject({ policy: 'high', firstResponseDueAt: '2026-12-07T04:00:00.000Z', resolutionDueAt: '2026-12-09T06:20:30.000Z' });
  });

  it('a late response or solve records the breach at the due time; an early one meets the target', async () => {
    const { sam } = tenant('late');
    await enroll(sam);
    const base = { priority: 'normal' as const, type: 'question' as const, channel: 'web' as const, tags: [] };
    const early = await createTicket(ctxOf(sam, FRIDAY_17), { ...base, subject: '准时' });
    await addComment(ctxOf(sam, FR_DUE), early.id, { body: '正好', public: true });
    expect((await ticketOf(sam, early.id)).sla.firstResponseBreachedAt).toBeNull();
    const late = await createTicket(ctxOf(sam, FRIDAY_17), { ...base, subject: '迟了' });
    await addComment(ctxOf(sam, '2026-12-07T08:00:01.000Z'), late.id, { body: '晚了', public: true });
    expect((await ticketOf(sam, late.id)).sla.firstResponseBreachedAt).toBe(FR_DUE);
    // A solve with no response meets the first-response target when made by its due time.
    const solved = await createTicket(ctxOf(sam, FRIDAY_17), { ...base, subject: '直接解决' });
    const s = await updateTicket(ctxOf(sam, '2026-12-07T07:59:00.000Z'), solved.id, { status: 'solved' }, undefined);
    expect(s.sla).toMatchObject({ firstResponseBreachedAt: null, resolutionBreachedAt: null });
    const slow = await createTicket(ctxOf(sam, FRIDAY_17), { ...base, subject: '慢' });
    const s2 = await updateTicket(ctxOf(sam, '2026-12-15T00:00:00.000Z'), slow.id, { status: 'solved' }, undefined);
    expect(s2.sla).toMatchObject({ firstResponseBreachedAt: FR_DUE, resolutionBreachedAt: RES_DUE });
  });
});

describe('the job', () => {
  it('warns the assignee once per clock, breaches once per clock, however often it runs', async () => {
    const { admin, sam } = tenant('once');
    await enroll(admin, sam);
    const t = await createTicket(ctxOf(admin, FRIDAY_17), { subject: '升级', priority: 'normal', type: 'incident', channel: 'phone', tags: [], assigneeId: 'sam' });
    expect((await runJob(admin, '2026-12-07T07:29:00.000Z')).warnings).toBe(0);
    expect(await slaNotes(sam, t.id)).toEqual([]);
    for (let i = 0; i < 3; i++) await runJob(admin, FR_WARN);
    expect(await slaNotes(sam, t.id)).toEqual(['ticket.sla_warning:firstResponse']);
    for (let i = 0; i < 3; i++) await runJob(admin, FR_DUE);
    expect(await slaNotes(sam, t.id)).toEqual(['ticket.sla_breached:firstResponse', 'ticket.sla_warning:firstResponse']);
    const breached = await ticketOf(sam, t.id);
    expect(breached.sla.firstResponseBreachedAt).toBe(FR_DUE);
    expect((await listAll(sam, '/v1/tickets?breached=true')).map((x) => x.id)).toEqual([t.id]);
    // The response comes late: the breach stays as the job recorded it.
    await addComment(ctxOf(sam, '2026-12-07T09:00:00.000Z'), t.id, { body: '抱歉', public: true });
    expect((await ticketOf(sam, t.id)).sla.firstResponseBreachedAt).toBe(FR_DUE);
    for (const now of ['2026-12-14T02:30:00.000Z', '2026-12-14T02:31:00.000Z', RES_DUE, '2026-12-20T00:00:00.000Z']) await runJob(admin, now);
    expect(await slaNotes(sam, t.id)).toEqual([
      'ticket.sla_breached:firstResponse', 'ticket.sla_breached:resolution', 'ticket.sla_warning:firstResponse', 'ticket.sla_warning:resolution',
    ]);
    // Nothing runs any more: the due item is out of the index.
    expect((await runJob(admin, '2027-06-01T00:00:00.000Z')).processed).toBe(0);
  });

  it('an unassigned ticket: no warning, and the breach goes to every support user', async () => {
    const { admin, sam, sue } = tenant('queue');
    await enroll(admin, sam, sue);
    const t = await createTicket(ctxOf(admin, FRIDAY_17), { subject: '没人管', priority: 'normal', type: 'question', channel: 'web', tags: [] });
    await runJob(admin, FR_WARN);
    await runJob(admin, FR_DUE);
    expect(await slaNotes(sam, t.id)).toEqual(['ticket.sla_breached:firstResponse']);
    expect(await slaNotes(sue, t.id)).toEqual(['ticket.sla_breached:firstResponse']);
    expect(await slaNotes(admin, t.id)).toEqual([]);
  });

  it('pending stops the resolution clock: no breach while paused, the moved due time after', async () => {
    const { admin, sam } = tenant('pause');
    await enroll(admin, sam);
    const t = await createTicket(ctxOf(sam, FRIDAY_17), { subject: '等待', priority: 'normal', type: 'question', channel: 'web', tags: [], assigneeId: 'sam' });
    await addComment(ctxOf(sam, '2026-12-07T01:00:00.000Z'), t.id, { body: '在看', public: true });
    await updateTicket(ctxOf(sam, '2026-12-07T02:00:00.000Z'), t.id, { status: 'pending' }, undefined);
    await runJob(admin, '2026-12-15T00:00:00.000Z');
    expect(await slaNotes(sam, t.id)).toEqual([]);
    const resumed = await updateTicket(ctxOf(sam, '2026-12-15T00:00:00.000Z'), t.id, { status: 'open' }, undefined);
    expect(resumed.sla.resolutionDueAt > RES_DUE).toBe(true);
    // Run first at the due time itself: past it, the warning says nothing more; only the breach goes out.
    await runJob(admin, resumed.sla.resolutionDueAt);
    expect(await slaNotes(sam, t.id)).toEqual(['ticket.sla_breached:resolution']);
    expect((await ticketOf(sam, t.id)).sla.resolutionBreachedAt).toBe(resumed.sla.resolutionDueAt);
  });

  it('killed halfway and run again, or run twice at once: every breach notified exactly once', async () => {
    const { admin, sam } = tenant('kill');
    await enroll(admin, sam);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push((await createTicket(ctxOf(admin, FRIDAY_17), { subject: `批量 ${i}`, priority: 'normal', type: 'question', channel: 'web', tags: [], assigneeId: 'sam' })).id);
    }
    await expect(runSlaEscalation({ now: new Date(FR_DUE), failAfter: 5, pageSize: 3 })).rejects.toBeInstanceOf(InjectedFailure);
    await Promise.all([runSlaEscalation({ now: new Date(FR_DUE), pageSize: 2 }), runSlaEscalation({ now: new Date(FR_DUE), pageSize: 5 })]);
    await runJob(admin, FR_DUE);
    const notes = (await listAll(sam, '/v1/notifications')).filter((x) => ids.includes(x.entityId) && x.kind === 'ticket.sla_breached');
    expect(notes).toHaveLength(12);
    expect(new Set(notes.map((x) => x.entityId)).size).toBe(12);
    // Each ticket was written once by the job: version 2, breached at its due time.
    for (const t of ids) expect((await ticketOf(sam, t))).toMatchObject({ version: 2, sla: { firstResponseBreachedAt: FR_DUE } });
  });

  it('run concurrently with the breach racing a late response: the breach is recorded once, at the due time', async () => {
    const { admin, sam } = tenant('race');
    await enroll(admin, sam);
    const t = await createTicket(ctxOf(admin, FRIDAY_17), { subject: '竞争', priority: 'normal', type: 'question', channel: 'web', tags: [], assigneeId: 'sam' });
    await Promise.all([
      runSlaEscalation({ now: new Date(FR_DUE) }),
      runSlaEscalation({ now: new Date(FR_DUE) }),
      addComment(ctxOf(sam, '2026-12-07T08:00:00.500Z'), t.id, { body: '来了', public: true }),
    ]);
    const after = await ticketOf(sam, t.id);
    expect(after.sla.firstResponseBreachedAt).toBe(FR_DUE);
    expect((await listAll(sam, '/v1/notifications')).filter((x) => x.entityId === t.id && x.kind === 'ticket.sla_breached').length).toBeLessThanOrEqual(1);
  });
});
