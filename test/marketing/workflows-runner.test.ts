/**
 * Delayed workflow runs and the `workflow-runner` job: due exactly at `runAt`, skipped when the
 * workflow was disabled or deleted meanwhile, every run once when the job is killed halfway or
 * two run at once.
 */
import { describe, expect, it } from 'vitest';
import { InjectedRunnerFailure, runWorkflowRunner } from '#domain/marketing/workflow-engine.ts';
import { api } from '#test/support/fixtures.ts';
import { createWorkflow, DAY, deliver, enroll, lead, notificationsOf, people, plus, runsOf, tasksOf } from '#test/marketing/workflows-support.ts';

describe('delayed runs', () => {
  it('schedules the run at event + delay and runs it when the runner reaches that moment, not before', async () => {
    const { max, alice, root } = people();
    await enroll(max, alice, root);
    const wf = await createWorkflow(max, {
      trigger: { event: 'lead.created' },
      delay: { days: 1 },
      actions: [{ type: 'createTask', title: '第二天回访', dueInDays: 0, assignTo: 'owner' }, { type: 'notify', to: 'owner', message: '该回访了' }],
    });
    const l = await lead(alice);
    const events = await deliver();
    const created = events.find((e) => e.type === 'lead.created' && e.entity.id === l.id)!;
    const [scheduled] = await runsOf(max, wf.id);
    expect(scheduled).toMatchObject({ status: 'scheduled', subjectId: l.id, runAt: plus(created.occurredAt, DAY), doneAt: null });
    expect(await tasksOf(alice)).toEqual([]);

    const early = await runWorkflowRunner({ now: new Date(plus(scheduled!.runAt, -1)) });
    expect(early.processed).toBe(0);
    expect((await runsOf(max, wf.id))[0]!.status).toBe('scheduled');

    // Through the local route, as `npm start` runs it.
    const ran = await api(root).post('/_local/jobs/workflow-runner', { now: scheduled!.runAt });
    expect(ran.status, ran.body).toBe(200);
    expect(ran.json).toMatchObject({ job: 'workflow-runner', processed: 1, done: 1 });
    const [done] = await runsOf(max, wf.id);
    expect(done).toMatchObject({ status: 'done', doneAt: scheduled!.runAt });
    expect((await tasksOf(alice)).map((t) => [t.title, t.dueAt])).toEqual([['第二天回访', scheduled!.runAt]]);
    expect(await notificationsOf(alice)).toHaveLength(1);

    const again = await runWorkflowRunner({ now: new Date(plus(scheduled!.runAt, DAY)) });
    expect(again.processed).toBe(0);
  });

  it('skips a run whose workflow was disabled, re-enabled or deleted before it was due', async () => {
    const { max, alice } = people();
    await enroll(max, alice);
    const body = { trigger: { event: 'lead.created' }, delay: { minutes: 30 }, actions: [{ type: 'notify', to: 'owner', message: 'x' }] };
    const disabled = await createWorkflow(max, body);
    const toggled = await createWorkflow(max, body);
    const deleted = await createWorkflow(max, body);
    const kept = await createWorkflow(max, body);
    await lead(alice);
    await deliver();
    expect((await api(max).patch(`/v1/workflows/${disabled.id}`, { enabled: false })).status).toBe(200);
    expect((await api(max).patch(`/v1/workflows/${toggled.id}`, { enabled: false })).status).toBe(200);
    expect((await api(max).patch(`/v1/workflows/${toggled.id}`, { enabled: true })).status).toBe(200);
    expect((await api(max).delete(`/v1/workflows/${deleted.id}`)).status).toBe(204);

    const runAt = (await runsOf(max, kept.id))[0]!.runAt;
    const report = await runWorkflowRunner({ now: new Date(runAt) });
    expect(report).toMatchObject({ processed: 4, done: 1, skipped: 3 });
    expect((await runsOf(max, disabled.id))[0]!.status).toBe('skipped');
    expect((await runsOf(max, toggled.id))[0]!.status).toBe('skipped');
    expect((await runsOf(max, kept.id))[0]!.status).toBe('done');
    expect(await notificationsOf(alice)).toHaveLength(1);
  });
});

describe('the runner job', () => {
  async function scheduledRuns(count: number) {
    const { max, alice } = people();
    await enroll(max, alice);
    const wf = await createWorkflow(max, {
      trigger: { event: 'lead.created' },
      delay: { hours: 1 },
      actions: [{ type: 'notify', to: 'owner', message: 'one' }, { type: 'createTask', title: 'two', dueInDays: 1, assignTo: 'owner' }, { type: 'addTag', tag: 'three' }],
    });
    for (let i = 0; i < count; i++) await lead(alice);
    await deliver();
    const runs = await runsOf(max, wf.id);
    expect(runs).toHaveLength(count);
    const latest = runs.map((r) => r.runAt).sort().at(-1)!;
    return { max, alice, wf, now: new Date(latest) };
  }

  async function expectEachRunOnce(s: Awaited<ReturnType<typeof scheduledRuns>>, count: number) {
    const runs = await runsOf(s.max, s.wf.id);
    expect(runs.map((r) => r.status)).toEqual(Array(count).fill('done'));
    expect(await notificationsOf(s.alice)).toHaveLength(count);
    expect(await tasksOf(s.alice)).toHaveLength(count);
    const leads = (await api(s.alice).get('/v1/leads?limit=100')).json.items as { tags: string[]; version: number }[];
    expect(leads.map((l) => [l.tags, l.version])).toEqual(Array(count).fill([['three'], 2]));
  }

  it('killed halfway, the next run finishes the rest and repeats nothing', async () => {
    const s = await scheduledRuns(5);
    await expect(runWorkflowRunner({ now: s.now, failAfter: 2 })).rejects.toBeInstanceOf(InjectedRunnerFailure);
    const second = await runWorkflowRunner({ now: s.now });
    expect(second.processed).toBe(3);
    await expectEachRunOnce(s, 5);
  });

  it('two runs at once act on every run once', async () => {
    const s = await scheduledRuns(6);
    const [a, b] = await Promise.all([runWorkflowRunner({ now: s.now, pageSize: 2 }), runWorkflowRunner({ now: s.now, pageSize: 2 })]);
    expect(a.done + b.done).toBe(6);
    await expectEachRunOnce(s, 6);
  });
});
