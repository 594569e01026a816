/**
 * Workflows (marketing.md "Workflows"): the routes and their validation, triggers with
 * conditions, "only while enabled", at most once per event per workflow, count thresholds,
 * and the immediate actions.
 */
import { describe, expect, it } from 'vitest';
import { handler as workflowConsumer } from '#functions/events/workflows.ts';
import { api, expectProblem } from '#test/support/fixtures.ts';
import {
  contact,
  createWorkflow,
  DAY,
  deliver,
  emailEvent,
  enroll,
  lead,
  notificationsOf,
  people,
  plus,
  runsOf,
  takePending,
  tasksOf,
} from '#test/marketing/workflows-support.ts';

const notifyOwner = { type: 'notify', to: 'owner', message: '新线索来了' };

describe('routes', () => {
  it('creates, reads, lists, patches and deletes a workflow; marketers and admins only', async () => {
    const { max, root, alice, sam } = people();
    await enroll(max, root, alice);
    const created = await api(max).post('/v1/workflows', {
      name: '网站线索提醒',
      trigger: { event: 'lead.created', conditions: { source: 'website' } },
      actions: [notifyOwner, { type: 'createTask', title: '48小时内联系', dueInDays: 2, assignTo: 'alice' }],
    });
    expect(created.status, created.body).toBe(201);
    expect(created.headers.location).toBe(`/v1/workflows/${created.json.id}`);
    expect(created.json).toMatchObject({ enabled: true, version: 1, trigger: { event: 'lead.created', conditions: { source: 'website' } } });
    const id = created.json.id as string;

    const read = await api(root).get(`/v1/workflows/${id}`);
    expect(read.status).toBe(200);
    expect(read.headers.etag).toBe('"1"');
    expect((await api(max).get('/v1/workflows')).json.items.map((w: { id: string }) => w.id)).toEqual([id]);

    const patched = await api(max).patch(`/v1/workflows/${id}`, { enabled: false, delay: { hours: 2 } }, { headers: { 'if-match': '"1"' } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json).toMatchObject({ enabled: false, enabledSince: null, delay: { hours: 2 }, version: 2 });
    expectProblem(await api(max).patch(`/v1/workflows/${id}`, { name: 'x' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    const cleared = await api(max).patch(`/v1/workflows/${id}`, { delay: null }, { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(cleared.json.delay).toBeUndefined();

    for (const who of [alice, sam]) {
      expectProblem(await api(who).get('/v1/workflows'), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/workflows/${id}`), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/workflows/${id}/runs`), 403, 'forbidden');
    }
    expect((await api(root).delete(`/v1/workflows/${id}`)).status).toBe(204);
    expectProblem(await api(max).get(`/v1/workflows/${id}`), 404, 'not_found');
  });

  it('refuses what does not fit, naming the path', async () => {
    const { max } = people();
    await enroll(max);
    const base = { name: 'w', trigger: { event: 'lead.created' }, actions: [notifyOwner] };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, trigger: { event: 'lead.exploded' } }, 'body.trigger.event'],
      [{ ...base, trigger: { event: 'email.opened', conditions: { urlContains: 'x' } } }, 'body.trigger.conditions.urlContains'],
      [{ ...base, trigger: { event: 'opportunity.won', conditions: { stageId: 's' } } }, 'body.trigger.conditions.stageId'],
      [{ ...base, trigger: { event: 'lead.created', count: { n: 0, withinDays: 3 } } }, 'body.trigger.count.n'],
      [{ ...base, delay: { days: 91 } }, 'body.delay.days'],
      [{ ...base, delay: { days: 90, minutes: 1 } }, 'body.delay'],
      [{ ...base, delay: {} }, 'body.delay'],
      [{ ...base, actions: [] }, 'body.actions'],
      [{ ...base, actions: Array.from({ length: 11 }, () => notifyOwner) }, 'body.actions'],
      [{ ...base, actions: [{ type: 'launchRocket' }] }, 'body.actions.0'],
      [{ ...base, actions: [notifyOwner, { type: 'notify', to: 'nobody', message: 'hi' }] }, 'body.actions.1.to'],
      [{ ...base, actions: [{ type: 'createTask', title: 't', dueInDays: 1, assignTo: 'ghost' }] }, 'body.actions.0.assignTo'],
      [{ ...base, actions: [{ type: 'setLeadStatus', status: 'converted' }] }, 'body.actions.0.status'],
      [{ ...base, enabledSince: '2026-01-01T00:00:00Z' }, 'body'],
    ];
    for (const [body, path] of cases) {
      const res = await api(max).post('/v1/workflows', body);
      expectProblem(res, 400, 'validation_failed');
      const paths = (res.json.errors as { path: string }[]).map((e) => e.path);
      expect(paths.some((p) => p === path || p.startsWith(`${path}.`)), `${JSON.stringify(body)} → ${JSON.stringify(paths)}`).toBe(true);
    }
    expect((await api(max).post('/v1/workflows', { ...base, delay: { days: 90 } })).status).toBe(201);
  });
});

describe('triggers', () => {
  it('runs the actions of a lead.created workflow whose conditions hold, once per event however often it is delivered', async () => {
    const { max, alice } = people();
    await enroll(max, alice);
    const wf = await createWorkflow(max, {
      trigger: { event: 'lead.created', conditions: { source: 'website' } },
      actions: [notifyOwner, { type: 'addTag', tag: '官网' }, { type: 'createTask', title: '回访', dueInDays: 2, assignTo: 'owner' }, { type: 'setLeadStatus', status: 'working' }],
    });
    const matching = await lead(alice, { source: 'website' });
    await lead(alice, { source: 'trade fair' });
    const events = await deliver();

    const runs = await runsOf(max, wf.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'done', subjectType: 'lead', subjectId: matching.id });
    expect(runs[0]!.doneAt).not.toBeNull();
    const after = (await api(alice).get(`/v1/leads/${matching.id}`)).json;
    expect(after).toMatchObject({ tags: ['官网'], status: 'working' });
    const alerts = await notificationsOf(alice);
    expect(alerts.map((n) => [n.message, n.entityId])).toEqual([['新线索来了', matching.id]]);
    const tasks = await tasksOf(alice);
    expect(tasks.map((t) => t.title)).toEqual(['回访']);
    const created = events.find((e) => e.type === 'lead.created' && e.entity.id === matching.id)!;
    expect(tasks[0]!.dueAt).toBe(plus(created.occurredAt, 2 * DAY));

    // Delivered again (twice at once, even): nothing more happens.
    await Promise.all([workflowConsumer({ detail: created }), workflowConsumer({ detail: created })]);
    await deliver();
    expect(await runsOf(max, wf.id)).toHaveLength(1);
    expect(await notificationsOf(alice)).toHaveLength(1);
    expect(await tasksOf(alice)).toHaveLength(1);
    expect((await api(alice).get(`/v1/leads/${matching.id}`)).json.version).toBe(after.version);
  });

  it('counts only events that happen while the workflow exists and is enabled', async () => {
    const { max, alice } = people();
    await enroll(max, alice);
    await lead(alice, { source: 'early' });
    const early = await takePending();
    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [notifyOwner] });
    for (const e of early) await workflowConsumer({ detail: e });
    expect(await runsOf(max, wf.id)).toHaveLength(0);

    expect((await api(max).patch(`/v1/workflows/${wf.id}`, { enabled: false })).status).toBe(200);
    await lead(alice);
    await deliver();
    expect(await runsOf(max, wf.id)).toHaveLength(0);

    expect((await api(max).patch(`/v1/workflows/${wf.id}`, { enabled: true })).status).toBe(200);
    await lead(alice);
    await deliver();
    expect(await runsOf(max, wf.id)).toHaveLength(1);

    expect((await api(max).delete(`/v1/workflows/${wf.id}`)).status).toBe(204);
    await lead(alice);
    await deliver();
    expect(await notificationsOf(alice)).toHaveLength(1);
  });

  it('matches email conditions (campaignId, urlContains) and fires a count threshold once per subject, at the n-th event within the window', async () => {
    const { tenant, max, alice } = people();
    await enroll(max, alice);
    const wf = await createWorkflow(max, {
      trigger: { event: 'email.opened', conditions: { campaignId: 'C1' }, count: { n: 3, withinDays: 7 } },
      actions: [{ type: 'notify', to: 'owner', message: '打开了3次' }],
    });
    const clicks = await createWorkflow(max, {
      trigger: { event: 'email.clicked', conditions: { urlContains: '/pricing' } },
      actions: [{ type: 'addTag', tag: '看过价格' }],
    });
    const hot = await contact(alice, { email: 'hot@example.com' });
    const slow = await contact(alice, { email: 'slow@example.com' });
    const t0 = plus(wf.enabledSince!, 60_000);
    const open = (contactId: string, at: string, campaignId = 'C1') => emailEvent(tenant, 'email.opened', at, { campaignId, email: 'x@example.com', contactId });

    await open(hot.id, t0);
    await open(hot.id, plus(t0, DAY), 'C2'); // another campaign: does not count
    await open(hot.id, plus(t0, 2 * DAY));
    await deliver();
    expect(await runsOf(max, wf.id)).toHaveLength(0);
    await open(hot.id, plus(t0, 3 * DAY)); // the third matching one
    await open(hot.id, plus(t0, 4 * DAY)); // the fourth: no second run
    // Three opens, but spread over more than 7 days: no run.
    await open(slow.id, t0);
    await open(slow.id, plus(t0, 4 * DAY));
    await open(slow.id, plus(t0, 8 * DAY));
    await deliver();

    const runs = await runsOf(max, wf.id);
    expect(runs.map((r) => [r.subjectId, r.status])).toEqual([[hot.id, 'done']]);
    expect((await notificationsOf(alice)).map((n) => n.message)).toEqual(['打开了3次']);

    await emailEvent(tenant, 'email.clicked', t0, { campaignId: 'C1', email: 'hot@example.com', contactId: hot.id, url: 'https://shop.example.com/pricing?x=1' });
    await emailEvent(tenant, 'email.clicked', t0, { campaignId: 'C1', email: 'slow@example.com', contactId: slow.id, url: 'https://shop.example.com/about' });
    await deliver();
    expect((await runsOf(max, clicks.id)).map((r) => r.subjectId)).toEqual([hot.id]);
    expect((await api(alice).get(`/v1/contacts/${hot.id}`)).json.tags).toEqual(['看过价格']);
    expect((await api(alice).get(`/v1/contacts/${slow.id}`)).json.tags).toEqual([]);
  });

  it('a count threshold reached by events delivered at the same moment fires once', async () => {
    const { tenant, max, alice } = people();
    await enroll(max, alice);
    const wf = await createWorkflow(max, {
      trigger: { event: 'email.opened', count: { n: 2, withinDays: 1 } },
      actions: [{ type: 'createTask', title: '跟进', dueInDays: 1, assignTo: 'owner' }],
    });
    const c = await contact(alice);
    const t0 = plus(wf.enabledSince!, 1000);
    for (let i = 0; i < 6; i++) await emailEvent(tenant, 'email.opened', plus(t0, i * 1000), { campaignId: 'C', email: 'c@example.com', contactId: c.id });
    const events = await takePending();
    await Promise.all(events.map((e) => workflowConsumer({ detail: e })));
    expect(await runsOf(max, wf.id)).toHaveLength(1);
    expect(await tasksOf(alice)).toHaveLength(1);
  });

  it('ends a run failed with the reason when an action does not fit its subject, and runs no later action', async () => {
    const { max, alice, root } = people();
    await enroll(max, alice, root);
    const accountId = (await api(alice).post('/v1/accounts', { name: '工作流客户' })).json.id as string;
    const wf = await createWorkflow(max, {
      trigger: { event: 'opportunity.won' },
      actions: [{ type: 'notify', to: 'root', message: '赢单了' }, { type: 'setLeadStatus', status: 'qualified' }, { type: 'notify', to: 'owner', message: 'never' }],
    });
    const stages = (await api(alice).get('/v1/pipelines')).json.items[0].stages as { id: string; kind: string }[];
    const won = stages.find((s) => s.kind === 'won')!.id;
    const opp = await api(alice).post('/v1/opportunities', { accountId, name: '大单', amount: 1000, expectedCloseDate: '2026-12-31', stageId: won });
    expect(opp.status, opp.body).toBe(201);
    await deliver();
    const [run] = await runsOf(max, wf.id);
    expect(run).toMatchObject({ status: 'failed', subjectType: 'opportunity', subjectId: opp.json.id });
    expect(run!.error).toMatch(/actions\.1 \(setLeadStatus\)/);
    expect((await notificationsOf(root)).map((n) => n.message)).toEqual(['赢单了']);
    expect(await notificationsOf(alice)).toEqual([]);
  });

  it('lists runs newest first with cursor paging', async () => {
    const { max, alice } = people();
    await enroll(max, alice);
    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [{ type: 'addTag', tag: 'new' }] });
    for (let i = 0; i < 5; i++) await lead(alice);
    await deliver();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: string; json: any } = await api(max).get(`/v1/workflows/${wf.id}/runs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, res.body).toBe(200);
      seen.push(...res.json.items.map((r: { eventId: string }) => r.eventId));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(seen).toEqual([...seen].sort().reverse());
  });
});
