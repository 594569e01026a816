/**
 * Notifications (API.md "Notifications"): a user's own, newest first, `unread` filter, mark
 * read; `task.assigned` from the event consumer (idempotent by event id); `task.due` from the
 * `task-reminders` job (once per task per dueAt).
 */
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '#events/catalog.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { schedules } from '#events/schedules.ts';
import { consumers } from '#events/consumers.ts';
import { handler as taskNotifications } from '#functions/events/task-notifications.ts';
import { call, type ApiResponse } from '#test/support/api.ts';
import { api, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';

let n = 0;
const run = Math.random().toString(36).slice(2, 7);
function people() {
  const tenant = `notify-${run}-${++n}`;
  return {
    tenant,
    root: { tenant, user: 'root', role: 'admin' } as Caller,
    alice: { tenant, user: 'alice', role: 'rep', team: 'east' } as Caller,
    bob: { tenant, user: 'bob', role: 'rep', team: 'east' } as Caller,
    sam: { tenant, user: 'sam', role: 'support' } as Caller,
  };
}

async function enroll(...cs: Caller[]) {
  for (const c of cs) expect((await api(c).get('/v1/tasks')).status).toBe(200);
}

const mine = (c: Caller, q = '') => listAll(c, `/v1/notifications${q}`);
const sent = (res: ApiResponse, req: string) => ({ ...res, req });
const inMinutes = (m: number, from = Date.now()) => new Date(from + m * 60_000).toISOString();

async function task(as: Caller, body: Record<string, unknown>) {
  const res = await api(as).post('/v1/tasks', { title: `task ${++n}`, dueAt: inMinutes(24 * 60), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json;
}

async function runReminders(admin: Caller, now: string) {
  const res = await call(admin, 'POST', '/_local/jobs/task-reminders', { now });
  expect(res.status, res.body).toBe(200);
  expect(res.json.job).toBe('task-reminders');
  return res.json;
}

describe('task.assigned', () => {
  it('a task created for or handed to someone else notifies them; one for yourself does not', async () => {
    const p = people();
    await enroll(p.alice, p.bob, p.root);
    const forBob = await task(p.alice, { assigneeId: 'bob', title: '发报价给星辰' });
    await task(p.bob, { title: 'my own' });
    const handed = await task(p.alice, { title: 'will hand over' });
    expect((await api(p.alice).patch(`/v1/tasks/${handed.id}`, { assigneeId: 'bob' })).status).toBe(200);
    const back = await task(p.bob, { title: 'taking it myself' });
    expect((await api(p.root).patch(`/v1/tasks/${back.id}`, { assigneeId: 'bob' })).status, 'no change of assignee').toBe(200);
    await deliverPending(publisher());

    const got = await mine(p.bob);
    expect(got.map((x) => x.entityId)).toEqual([handed.id, forBob.id]);
    expect(got[1]).toMatchObject({ kind: 'task.assigned', entityType: 'task', entityId: forBob.id, readAt: null, version: 1 });
    expect(got[1].message).toContain('发报价给星辰');
    expect(got[1].message).toContain('alice');
    expect(await mine(p.alice)).toEqual([]);
  });

  it('is idempotent by event id: a redelivered event adds nothing', async () => {
    const p = people();
    await enroll(p.alice, p.bob);
    await deliverPending(publisher());
    const t = await task(p.alice, { assigneeId: 'bob' });
    const captured: DomainEvent[] = [];
    await deliverPending({
      async publish(events) {
        captured.push(...events);
        return { failedIds: [] };
      },
    });
    const created = captured.find((e) => e.type === 'task.created' && e.entity.id === t.id)!;
    expect(created).toBeDefined();
    for (let i = 0; i < 3; i++) await taskNotifications({ detail: created });
    expect((await mine(p.bob)).filter((x) => x.entityId === t.id)).toHaveLength(1);
  });

  it('its consumer subscribes to task.created and task.updated', () => {
    expect(consumers.find((c) => c.name === 'task-notifications')?.eventTypes.sort()).toEqual(['task.created', 'task.updated']);
  });
});

describe('GET /v1/notifications and mark read', () => {
  it('lists the caller’s own, newest first, walks its cursor, filters unread; read → 200 once, then unchanged', async () => {
    const p = people();
    await enroll(p.alice, p.bob);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await task(p.alice, { assigneeId: 'bob' })).id);
    await deliverPending(publisher());

    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await call(p.bob, 'GET', `/v1/notifications?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      walked.push(...page.json.items.map((x: { entityId: string }) => x.entityId));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(walked).toEqual([...ids].reverse());

    const all = await mine(p.bob);
    const target = all[2]!;
    const got = await api(p.bob).get(`/v1/notifications/${target.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    expect(got.json).toEqual(target);

    const read = await api(p.bob).post(`/v1/notifications/${target.id}/read`);
    expect(read.status, read.body).toBe(200);
    expect(read.json).toMatchObject({ id: target.id, version: 2 });
    expect(typeof read.json.readAt).toBe('string');
    const again = await api(p.bob).post(`/v1/notifications/${target.id}/read`);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(read.json);

    const unread = await mine(p.bob, '?unread=true');
    expect(unread.map((x) => x.id)).toEqual(all.filter((x) => x.id !== target.id).map((x) => x.id));
    expect((await mine(p.bob, '?unread=false')).map((x) => x.id)).toEqual(all.map((x) => x.id));
    expect((await mine(p.bob)).find((x) => x.id === target.id)).toEqual(read.json);
  });

  it('another user’s notification, another tenant’s, or a missing one is a 404 and stays unread', async () => {
    const p = people();
    const q = people();
    await enroll(p.alice, p.bob, p.root, q.root);
    await task(p.alice, { assigneeId: 'bob' });
    await deliverPending(publisher());
    const [note] = await mine(p.bob);
    for (const who of [p.alice, p.root, p.sam, q.root]) {
      expectProblem(sent(await api(who).get(`/v1/notifications/${note!.id}`), `${who.tenant}/${who.user}`), 404, 'not_found');
      expectProblem(sent(await api(who).post(`/v1/notifications/${note!.id}/read`), `${who.tenant}/${who.user}`), 404, 'not_found');
    }
    expectProblem(sent(await api(p.bob).post('/v1/notifications/01JZZZZZZZZZZZZZZZZZZZZZZZ/read'), 'missing'), 404, 'not_found');
    expect((await api(p.bob).get(`/v1/notifications/${note!.id}`)).json.readAt).toBeNull();
    expectProblem(sent(await api(p.bob).get('/v1/notifications?unread=yes'), 'bad filter'), 400, 'validation_failed');
  });
});

describe('task.due (task-reminders job)', () => {
  it('is in the schedule table and notifies the assignee once, 15 minutes before dueAt', async () => {
    expect(schedules.find((s) => s.name === 'task-reminders')).toMatchObject({ cron: '*/5 * * * *', reservedConcurrency: 1 });
    const p = people();
    await enroll(p.alice, p.bob, p.root);
    const start = Date.now();
    const t = await task(p.alice, { assigneeId: 'bob', title: '回访客户', dueAt: inMinutes(60, start) });
    await runReminders(p.root, inMinutes(44, start));
    expect((await mine(p.bob)).filter((x) => x.kind === 'task.due')).toEqual([]);
    await runReminders(p.root, inMinutes(46, start));
    await runReminders(p.root, inMinutes(46, start));
    await runReminders(p.root, inMinutes(70, start));
    const due = (await mine(p.bob)).filter((x) => x.kind === 'task.due');
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({ entityType: 'task', entityId: t.id, data: { dueAt: t.dueAt } });
    expect(due[0].message).toContain('回访客户');
  });

  it('a moved dueAt reminds again for the new time; done or deleted tasks, and tasks created already due, do not', async () => {
    const p = people();
    await enroll(p.alice, p.root);
    const start = Date.now();
    const moved = await task(p.alice, { dueAt: inMinutes(30, start) });
    const done = await task(p.alice, { dueAt: inMinutes(30, start) });
    const gone = await task(p.alice, { dueAt: inMinutes(30, start) });
    await task(p.alice, { dueAt: inMinutes(-5, start), title: 'already late' });
    await runReminders(p.root, inMinutes(20, start));
    expect((await mine(p.alice)).filter((x) => x.kind === 'task.due').map((x) => x.entityId).sort()).toEqual([done.id, gone.id, moved.id].sort());

    expect((await api(p.alice).patch(`/v1/tasks/${moved.id}`, { dueAt: inMinutes(120, start) })).status).toBe(200);
    const done2 = await task(p.alice, { dueAt: inMinutes(120, start) });
    expect((await api(p.alice).patch(`/v1/tasks/${done2.id}`, { status: 'done' })).status).toBe(200);
    const gone2 = await task(p.alice, { dueAt: inMinutes(120, start) });
    expect((await api(p.alice).delete(`/v1/tasks/${gone2.id}`)).status).toBe(204);
    await runReminders(p.root, inMinutes(110, start));
    await runReminders(p.root, inMinutes(130, start));
    const due = (await mine(p.alice)).filter((x) => x.kind === 'task.due');
    expect(due.filter((x) => x.entityId === moved.id).map((x) => x.data.dueAt).sort()).toEqual([inMinutes(30, start), inMinutes(120, start)].sort());
    expect(due.filter((x) => x.entityId === done2.id || x.entityId === gone2.id)).toEqual([]);
    expect(due).toHaveLength(4);
  });
});
