/**
 * The workflows' `sendEmail` action (marketing.md "Workflows"): mail to the run's subject in the
 * local mailbox, merge tags rendered (escaped in html), suppressed addresses and subjects without
 * an address skipped, at most one mail per run and action however often the run is retried,
 * provider failures (retryable: tried again; permanent: the run fails), and the template rules
 * at create and patch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mailboxMailer } from '#domain/mail/mailbox.ts';
import { MailRefused, useMailer } from '#domain/mail/mailer.ts';
import { dueKey, runKey as runItemKey } from '#domain/marketing/workflow.ts';
import { runWorkflowRunner } from '#domain/marketing/workflow-engine.ts';
import { db, tableName } from '#domain/table/client.ts';
import { getItem } from '#domain/table/query.ts';
import { handler as workflowConsumer } from '#functions/events/workflows.ts';
import { mailbox } from '#test/marketing/support.ts';
import { api, expectProblem } from '#test/support/fixtures.ts';
import { contact, createWorkflow, deliver, emailEvent, enroll, lead, notificationsOf, people, runsOf, takePending } from '#test/marketing/workflows-support.ts';

afterEach(() => useMailer(mailboxMailer()));

const welcome = {
  type: 'sendEmail',
  subject: '{{name}}，欢迎',
  html: '<p>{{name}} @ {{company}} ({{custom.tier}}) {{email}} {{owner}}</p>',
  text: '{{name}} / {{company}} / {{custom.tier}}',
};

async function setUp(prefix: string) {
  const p = people(prefix);
  await enroll(p.max, p.alice, p.root);
  expect((await api(p.root).put('/v1/marketing/settings', { fromAddress: 'hello@shop.example.cn' })).status).toBe(200);
  // `tier` on both; `region` on contacts only.
  for (const [entity, keys] of [['leads', ['tier']], ['contacts', ['tier', 'region']]] as const) {
    const put = await api(p.root).put(`/v1/fields/${entity}`, { fields: keys.map((key) => ({ key, label: key, type: 'text' })) });
    expect(put.status, put.body).toBe(200);
  }
  return p;
}

const mailsTo = (tenant: string, to: string) => mailbox(tenant, `&to=${encodeURIComponent(to)}`);

describe('immediate workflows', () => {
  it('mails the new lead with its merge tags rendered (escaped in html, as is in text and subject), once however often the event comes', async () => {
    const { tenant, max, alice } = await setUp('wfm-now');
    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [welcome, { type: 'notify', to: 'owner', message: '已发欢迎信' }] });
    const l = await lead(alice, { name: '<b>王&"五"</b>', email: 'Wang.Wu@Example.cn', company: 'R&D <Labs>', custom: { tier: 'gold' } });
    const events = await deliver();

    // (leads keep their address lower-cased)
    const mails = await mailsTo(tenant, 'wang.wu@example.cn');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({
      from: 'hello@shop.example.cn',
      to: 'wang.wu@example.cn',
      subject: '<b>王&"五"</b>，欢迎',
      html: '<p>&lt;b&gt;王&amp;&quot;五&quot;&lt;/b&gt; @ R&amp;D &lt;Labs&gt; (gold) wang.wu@example.cn alice</p>',
      text: '<b>王&"五"</b> / R&D <Labs> / gold',
      source: { kind: 'workflow', workflowId: wf.id },
    });
    const [run] = await runsOf(max, wf.id);
    expect(run).toMatchObject({ status: 'done', subjectType: 'lead', subjectId: l.id });
    expect(run!.skippedActions).toBeUndefined();
    expect(mails[0].source.recipientId).toBe(run!.id);
    expect(await notificationsOf(alice)).toHaveLength(1);

    // The same event again, twice at once and once more: its actions run again, the mail does not leave again.
    const created = events.find((e) => e.type === 'lead.created' && e.entity.id === l.id)!;
    await Promise.all([workflowConsumer({ detail: created }), workflowConsumer({ detail: created })]);
    await workflowConsumer({ detail: created });
    expect(await mailsTo(tenant, 'wang.wu@example.cn')).toHaveLength(1);
    expect(await runsOf(max, wf.id)).toHaveLength(1);
    expect(await notificationsOf(alice)).toHaveLength(1);
  });

  it('skips a suppressed address (compared normalized) and a subject without an address; the run goes on and says so', async () => {
    const { tenant, max, alice, root } = await setUp('wfm-skip');
    expect((await api(root).post('/v1/suppressions', { email: 'gone@example.cn' })).status).toBe(201);
    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [welcome, { type: 'addTag', tag: '已处理' }] });
    const suppressed = await lead(alice, { email: '  GONE@Example.cn ' });
    const silent = await lead(alice);
    const reachable = await lead(alice, { email: 'here@example.cn' });
    await deliver();

    const runs = await runsOf(max, wf.id);
    const bySubject = new Map(runs.map((r) => [r.subjectId, r]));
    expect(bySubject.get(suppressed.id)).toMatchObject({ status: 'done', skippedActions: [{ action: 0, type: 'sendEmail', reason: 'suppressed' }] });
    expect(bySubject.get(silent.id)).toMatchObject({ status: 'done', skippedActions: [{ action: 0, type: 'sendEmail', reason: 'no_email' }] });
    expect(bySubject.get(reachable.id)!.status).toBe('done');
    expect(bySubject.get(reachable.id)!.skippedActions).toBeUndefined();
    const all = await mailbox(tenant);
    expect(all.map((m) => m.to)).toEqual(['here@example.cn']);
    for (const l of [suppressed, silent, reachable]) expect((await api(alice).get(`/v1/leads/${l.id}`)).json.tags).toEqual(['已处理']);
  });

  it('a retryable provider failure leaves the mail unsent and the event to be tried again; a refusal fails the run for good', async () => {
    const { tenant, max, alice } = await setUp('wfm-fail');
    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [welcome] });
    const box = mailboxMailer();

    await lead(alice, { email: 'later@example.cn' });
    const [created] = (await takeLeadCreated());
    useMailer({ ...box, send: async () => { throw Object.assign(new Error('throttled'), { name: 'TooManyRequestsException' }); } });
    await expect(workflowConsumer({ detail: created })).rejects.toThrow('throttled');
    expect(await mailsTo(tenant, 'later@example.cn')).toEqual([]);
    expect(await runsOf(max, wf.id)).toEqual([]);
    useMailer(box);
    await workflowConsumer({ detail: created });
    await workflowConsumer({ detail: created });
    expect(await mailsTo(tenant, 'later@example.cn')).toHaveLength(1);
    expect((await runsOf(max, wf.id))[0]!.status).toBe('done');

    await lead(alice, { email: 'never@example.cn' });
    const [refusedEvent] = await takeLeadCreated();
    let calls = 0;
    useMailer({ ...box, send: async () => { calls++; throw new MailRefused('MessageRejected: Email address is not verified'); } });
    await workflowConsumer({ detail: refusedEvent });
    await workflowConsumer({ detail: refusedEvent });
    expect(calls).toBe(1);
    const failed = (await runsOf(max, wf.id)).find((r) => r.eventId === refusedEvent!.id)!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('actions.0 (sendEmail)');
    expect(failed.error).toContain('MessageRejected');
    expect(await mailsTo(tenant, 'never@example.cn')).toEqual([]);
  });
});

/** The pending lead.created events, delivered to no consumer. */
async function takeLeadCreated() {
  return (await takePending()).filter((e) => e.type === 'lead.created');
}

describe('delayed workflows', () => {
  it('mails the clicking contact when the run is due, once, with two runners at once and a runner that died before recording the run', async () => {
    const { tenant, max, alice } = await setUp('wfm-later');
    const account = await api(alice).post('/v1/accounts', { name: '华东<贸易>' });
    expect(account.status, account.body).toBe(201);
    const wf = await createWorkflow(max, {
      trigger: { event: 'email.clicked', conditions: { campaignId: 'camp1' } },
      delay: { days: 1 },
      actions: [{ ...welcome, subject: '{{name}}，再看看？' }],
    });
    const c = await contact(alice, { name: '李"四"', email: 'li@example.cn', accountId: account.json.id, custom: { tier: 'silver' } });
    const at = new Date().toISOString();
    await emailEvent(tenant, 'email.clicked', at, { campaignId: 'camp1', email: 'li@example.cn', contactId: c.id });
    await deliver();
    const [scheduled] = await runsOf(max, wf.id);
    expect(scheduled).toMatchObject({ status: 'scheduled', subjectType: 'contact', subjectId: c.id });
    expect(await mailsTo(tenant, 'li@example.cn')).toEqual([]);

    // A runner that sent the mail and died before its last transaction: the run is still scheduled, the due item still there.
    const dueItem = (await getItem(dueKey(tenant, wf.id, scheduled!.id)))!;
    const first = await runWorkflowRunner({ now: new Date(scheduled!.runAt) });
    expect(first).toMatchObject({ processed: 1, done: 1 });
    await rewind(tenant, wf.id, scheduled!.id, dueItem);

    const [a, b] = await Promise.all([runWorkflowRunner({ now: new Date(scheduled!.runAt) }), runWorkflowRunner({ now: new Date(scheduled!.runAt) })]);
    expect(a.done + b.done).toBe(1);
    const mails = await mailsTo(tenant, 'li@example.cn');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({
      subject: '李"四"，再看看？',
      html: '<p>李&quot;四&quot; @ 华东&lt;贸易&gt; (silver) li@example.cn alice</p>',
      text: expect.stringContaining('/ 华东<贸易> / silver'),
    });
    expect((await runsOf(max, wf.id))[0]!.status).toBe('done');
  });
});

/** Puts a finished delayed run back as a runner that died before recording it leaves it. */
async function rewind(tenant: string, workflowId: string, runId: string, dueItem: Record<string, unknown>) {
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: runItemKey(tenant, workflowId, runId),
      UpdateExpression: 'SET #s = :s, doneAt = :n',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': 'scheduled', ':n': null },
    }),
  );
  await db.send(new PutCommand({ TableName: tableName(), Item: dueItem }));
}

describe('templates at create and patch', () => {
  it('refuses unknown merge tags, unknown custom keys, {{unsubscribeUrl}} and subjects without an address with 400 naming the field', async () => {
    const { max } = await setUp('wfm-400');
    const post = (body: Record<string, unknown>) => api(max).post('/v1/workflows', { name: '欢迎', ...body });
    const onLead = (action: Record<string, unknown>) => post({ trigger: { event: 'lead.created' }, actions: [{ type: 'notify', to: 'owner', message: 'x' }, { ...welcome, ...action }] });

    const paths = async (res: Awaited<ReturnType<typeof post>>) => {
      expectProblem(res, 400, 'validation_failed');
      return (res.json.errors as { path: string }[]).map((e) => e.path);
    };
    expect(await paths(await onLead({ html: '<p>{{nmae}}</p>' }))).toEqual(['body.actions.1.html']);
    expect(await paths(await onLead({ subject: '{{custom.nope}}', text: '{{ phone }}' }))).toEqual(['body.actions.1.subject', 'body.actions.1.text']);
    expect(await paths(await onLead({ html: '<a href="{{unsubscribeUrl}}">退订</a>' }))).toEqual(['body.actions.1.html']);
    expect(await paths(await post({ trigger: { event: 'ticket.created' }, actions: [welcome] }))).toEqual(['body.actions.0.type']);
    // Custom keys are the subject's: `region` is a contact's, not a lead's; an email event's subject may be either.
    expect(await paths(await onLead({ html: '{{custom.region}}' }))).toEqual(['body.actions.1.html']);
    expect((await onLead({ html: '<p>{{ custom.tier }} {{name}}</p>' })).status).toBe(201);
    const onClick = await post({ trigger: { event: 'email.clicked' }, actions: [{ ...welcome, html: '{{custom.region}}' }] });
    expect(onClick.status, onClick.body).toBe(201);

    const wf = await createWorkflow(max, { trigger: { event: 'lead.created' }, actions: [welcome] });
    const patchPaths = async (body: Record<string, unknown>) => {
      const res = await api(max).patch(`/v1/workflows/${wf.id}`, body);
      return paths(res);
    };
    expect(await patchPaths({ actions: [{ ...welcome, html: '{{bogus}}' }] })).toEqual(['body.actions.0.html']);
    expect(await patchPaths({ trigger: { event: 'opportunity.won' } })).toEqual(['body.actions.0.type']);
    expect((await api(max).get(`/v1/workflows/${wf.id}`)).json.version).toBe(wf.version);
  });
});

