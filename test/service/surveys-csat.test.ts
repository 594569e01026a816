/**
 * CSAT (api/service.md "Satisfaction surveys"): one email when a ticket with a requester is first
 * solved (through the mail port, here the local mailbox), none for a suppressed address, none on
 * a redelivered event or a second solve; the signed `/s/{token}` form, the one answer (also under
 * concurrent posts), the ticket's `csat`, and the faults (tampered token 404, range 400, again 409).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { sendCsatInvitation } from '#domain/service/surveys-csat.ts';
import { call } from '#test/support/api.ts';
import { api, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { linkIn, mailbox } from '#test/marketing/support.ts';

const T = 'surveys-csat';
const admin: Caller = { tenant: T, user: 'boss', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };

let account: string;

beforeAll(async () => {
  for (const c of [admin, sam]) expect((await api(c).get('/v1/notifications')).status).toBe(200);
  account = (await api(admin).post('/v1/accounts', { name: '满意度测试有限公司' })).json.id;
});

async function solvedTicket(email: string | null, subject = '无法登录'): Promise<any> {
  let contactId: string | undefined;
  if (email !== null) contactId = (await api(admin).post('/v1/contacts', { name: '王小明', email, accountId: account })).json.id;
  const ticket = (await api(sam).post('/v1/tickets', { subject, ...(contactId ? { contactId } : { accountId: account }) })).json;
  const solved = await api(sam).patch(`/v1/tickets/${ticket.id}`, { status: 'solved' });
  expect(solved.status, solved.body).toBe(200);
  await deliverPending(publisher());
  return solved.json;
}

async function mailsTo(email: string): Promise<any[]> {
  return mailbox(T, `&to=${encodeURIComponent(email)}`);
}

async function surveyLinkFor(email: string): Promise<string> {
  const mails = await mailsTo(email);
  expect(mails).toHaveLength(1);
  return linkIn(mails[0].html, '/s/');
}

const form = (fields: Record<string, string>) => ({ raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

describe('the invitation', () => {
  it('a first solve mails the requester once, with a signed /s/ link in html and text', async () => {
    const ticket = await solvedTicket('Zhang@Example.cn', '<b>退款</b> & co');
    const mails = await mailsTo('zhang@example.cn');
    expect(mails).toHaveLength(1);
    expect(mails[0].subject).toBe(`How did we do? Ticket #${ticket.number}`);
    expect(mails[0].html).toContain('&lt;b&gt;退款&lt;/b&gt; &amp; co');
    expect(mails[0].text).toContain(linkIn(mails[0].html, '/s/'));
  });

  it('reopening and solving again, and a redelivered event, send nothing more', async () => {
    const ticket = await solvedTicket('li@example.cn');
    const reopened = await api(sam).patch(`/v1/tickets/${ticket.id}`, { status: 'open' });
    expect(reopened.status).toBe(200);
    expect((await api(sam).patch(`/v1/tickets/${ticket.id}`, { status: 'solved' })).status).toBe(200);
    await deliverPending(publisher());
    // The same first-solve event delivered twice (and twice at once).
    const event = {
      id: 'EVT-REDELIVERED',
      type: 'ticket.solved',
      version: 1,
      tenantId: T,
      occurredAt: ticket.solvedAt,
      actor: { userId: 'sam', role: 'support' },
      entity: { type: 'ticket', id: ticket.id },
      data: { ...ticket, ownerId: null, requesterEmail: 'li@example.cn', firstSolve: true },
    } as any;
    expect(await Promise.all([sendCsatInvitation(event), sendCsatInvitation(event)])).toEqual(['skipped', 'skipped']);
    expect(await mailsTo('li@example.cn')).toHaveLength(1);
  });

  it('two deliveries of one first-solve event at once mail once', async () => {
    const contactId = (await api(admin).post('/v1/contacts', { name: '并发', email: 'race@example.cn', accountId: account })).json.id;
    const ticket = (await api(sam).post('/v1/tickets', { subject: 'race', contactId })).json;
    const event = {
      id: 'EVT-RACE',
      type: 'ticket.solved',
      version: 1,
      tenantId: T,
      occurredAt: new Date().toISOString(),
      actor: { userId: 'sam', role: 'support' },
      entity: { type: 'ticket', id: ticket.id },
      data: { ...ticket, status: 'solved', ownerId: null, requesterEmail: 'race@example.cn', solvedAt: new Date().toISOString(), firstSolve: true },
    } as any;
    const outcomes = await Promise.all([sendCsatInvitation(event), sendCsatInvitation(event), sendCsatInvitation(event)]);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    expect(await mailsTo('race@example.cn')).toHaveLength(1);
  });

  it('a suppressed requester gets no mail; a ticket without a requester sends nothing', async () => {
    expect((await api(admin).post('/v1/suppressions', { email: 'Blocked@example.cn' })).status).toBe(201);
    await solvedTicket('blocked@example.cn');
    expect(await mailsTo('blocked@example.cn')).toHaveLength(0);
    const before = (await mailbox(T)).length;
    await solvedTicket(null);
    expect(await mailbox(T)).toHaveLength(before);
  });
});

describe('the /s/{token} page and the answer', () => {
  it('GET shows a form without JavaScript that posts back; POST (form) sets the ticket csat, HTML-escaped thank-you', async () => {
    const ticket = await solvedTicket('wu@example.cn', '<script>alert(1)</script>');
    const path = await surveyLinkFor('wu@example.cn');
    const page = await call(null, 'GET', path, undefined, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(`<form method="post" action="${path}">`);
    for (const s of [1, 2, 3, 4, 5]) expect(page.body).toContain(`name="score" value="${s}"`);
    expect(page.body).not.toContain('value="0"');
    expect(page.body).toContain('name="comment"');
    expect(page.body).not.toContain('<script>');
    expect(page.body).toContain('&lt;script&gt;');

    const answered = await call(null, 'POST', path, undefined, form({ score: '4', comment: '<i>快</i> & good' }));
    expect(answered.status, answered.body).toBe(200);
    expect(answered.headers['content-type']).toMatch(/^text\/html/);
    expect(answered.body).toContain('&lt;i&gt;快&lt;/i&gt; &amp; good');
    expect(answered.body).not.toContain('<i>快</i>');

    const now = (await api(sam).get(`/v1/tickets/${ticket.id}`)).json;
    expect(now.csat).toMatchObject({ score: 4, comment: '<i>快</i> & good' });
    expect(typeof now.csat.answeredAt).toBe('string');
    expect(now.version).toBe(ticket.version + 1);

    // Again: 409 already_answered, as HTML for a browser and as problem+json for JSON.
    const again = await call(null, 'POST', path, undefined, form({ score: '5' }));
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/^text\/html/);
    expectProblem((await call(null, 'POST', path, { score: 5 })) as any, 409, 'already_answered');
    expect((await api(sam).get(`/v1/tickets/${ticket.id}`)).json.csat.score).toBe(4);
    // The GET now says it was answered.
    expect((await call(null, 'GET', path)).body).toContain('already been answered');
  });

  it('POST JSON answers JSON; a comment is optional', async () => {
    const ticket = await solvedTicket('json@example.cn');
    const path = await surveyLinkFor('json@example.cn');
    const res = await call(null, 'POST', path, { score: 5 });
    expect(res.status, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ kind: 'csat', score: 5, comment: null });
    expect((await api(sam).get(`/v1/tickets/${ticket.id}`)).json.csat).toMatchObject({ score: 5 });
  });

  it('scores outside 1..5, non-integers, unknown fields → 400; nothing recorded', async () => {
    const ticket = await solvedTicket('range@example.cn');
    const path = await surveyLinkFor('range@example.cn');
    for (const body of [{ score: 0 }, { score: 6 }, { score: 4.5 }, { score: '4' }, {}, { score: 3, extra: 1 }]) {
      expectProblem((await call(null, 'POST', path, body)) as any, 400, 'validation_failed');
    }
    for (const fields of [{ score: '0' }, { score: '6' }, { score: 'five' }, { score: '3', other: 'x' }] as Record<string, string>[]) {
      const res = await call(null, 'POST', path, undefined, form(fields));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    expect((await api(sam).get(`/v1/tickets/${ticket.id}`)).json.csat).toBeNull();
  });

  it('a tampered, truncated or foreign-kind token → 404 (HTML and JSON)', async () => {
    await solvedTicket('tamper@example.cn');
    const path = await surveyLinkFor('tamper@example.cn');
    const token = path.slice('/s/'.length);
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    for (const p of [`/s/${flipped}`, `/s/${token.slice(0, 10)}`, '/s/nope', `/s/${token}x`]) {
      expect((await call(null, 'GET', p)).status).toBe(404);
      expectProblem((await call(null, 'POST', p, { score: 5 })) as any, 404, 'not_found');
    }
  });

  it('answers posted at the same moment: exactly one lands, the others are 409 already_answered', async () => {
    const ticket = await solvedTicket('concurrent@example.cn');
    const path = await surveyLinkFor('concurrent@example.cn');
    const results = await Promise.all([1, 2, 3, 4, 5].map((score) => call(null, 'POST', path, { score })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409, 409]);
    const winner = results.find((r) => r.status === 200)!;
    expect((await api(sam).get(`/v1/tickets/${ticket.id}`)).json.csat.score).toBe((winner.json as any).score);
  });
});
