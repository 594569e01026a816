/**
 * The campaign-dispatch job: frozen audience (one recipient per normalized email,
 * suppressed ones marked), batches of ≤ 50, at most once per recipient when a run is killed
 * mid-run and run again and when two runs start at once, a provider failing one batch,
 * the time budget, cancel while sending; the public routes and provider events.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useAudience } from '#domain/marketing/audience.ts';
import { DispatchKilled, IN_FLIGHT_LEASE_MS } from '#domain/marketing/dispatch.ts';
import { mailboxMailer } from '#domain/mail/mailbox.ts';
import { useMailer, type Mailer } from '#domain/mail/mailer.ts';
import { call, as } from '#test/support/api.ts';
import { admin, dispatch, fixedAudience, linkIn, mailbox, marketer, member } from '#test/marketing/support.ts';

const members = (n: number, prefix: string) => Array.from({ length: n }, (_v, i) => member(i, { id: `${prefix}${i}`, email: `${prefix}${i}@example.com` }));

const audience = fixedAudience({
  small: {
    entity: 'contacts',
    members: [
      member(1, { email: 'Ann@Example.com', name: '<b>Ann</b> & co', custom: { pricePreference: '高' } }),
      member(2, { email: ' ann@example.com ' }), // the same person twice: one recipient
      member(3, { email: null }),
      member(4, { email: 'blocked@example.com' }),
      member(5, { id: 'l5', entity: 'lead', email: 'lead5@example.com', company: 'Lead Co' }),
    ],
  },
  big: { entity: 'contacts', members: members(230, 'big') },
  kill: { entity: 'contacts', members: members(260, 'kill') },
  race: { entity: 'contacts', members: members(300, 'race') },
  flaky: { entity: 'contacts', members: members(120, 'flaky') },
  budget: { entity: 'contacts', members: members(150, 'budget') },
  cancel: { entity: 'contacts', members: members(200, 'cancel') },
}, ['pricePreference']);

beforeAll(() => {
  useAudience(audience);
  audience.suppressed.set('blocked@example.com', { reason: 'manual' });
});

const html = '<html><body><p>{{name}} / {{company}} / {{custom.pricePreference}}</p><a href="https://shop.example.com/sale?a=1&amp;b=2">Sale</a> <a href="{{unsubscribeUrl}}">退订</a></body></html>';

async function startCampaign(tenant: string, segmentId: string, rate = 1000): Promise<string> {
  await as(admin(tenant)).put('/v1/marketing/settings', { sendRatePerSecond: rate, fromAddress: 'news@acme.example' });
  const created = await as(marketer(tenant)).post('/v1/campaigns', { name: segmentId, segmentId, subject: 'Hi {{name}}', html, text: 'Hi {{name}} {{unsubscribeUrl}}', fromName: '星辰' });
  expect(created.status).toBe(201);
  expect((await as(marketer(tenant)).post(`/v1/campaigns/${created.json.id}/send`)).status).toBe(200);
  return created.json.id;
}

/** Every recipient got the campaign at most once; answers the addresses mailed. */
async function expectAtMostOnce(tenant: string, campaignId: string): Promise<string[]> {
  const mails = await mailbox(tenant, `&campaignId=${campaignId}`);
  const to = mails.map((m) => m.to);
  expect(new Set(to).size, 'an address got the campaign twice').toBe(to.length);
  return to;
}

const stats = async (tenant: string, id: string) => (await as(marketer(tenant)).get(`/v1/campaigns/${id}`)).json;

describe('campaign-dispatch', () => {
  it('freezes the audience, renders merge tags escaped in html and raw in text, adds unsubscribe headers and tracking', async () => {
    const id = await startCampaign('d-small', 'small');
    const report = await dispatch({ now: new Date() });
    expect(report).toMatchObject({ job: 'campaign-dispatch', sent: 2 });
    const c = await stats('d-small', id);
    expect(c.status).toBe('sent');
    expect(c.stats).toMatchObject({ recipients: 3, sent: 2, suppressed: 1, failed: 0 });

    const mails = await mailbox('d-small', `&campaignId=${id}`);
    const ann = mails.find((m) => m.to === 'ann@example.com');
    expect(ann.from).toBe('"星辰" <news@acme.example>');
    expect(ann.subject).toBe('Hi <b>Ann</b> & co');
    expect(ann.html).toContain('&lt;b&gt;Ann&lt;/b&gt; &amp; co / 公司 1 / 高');
    expect(ann.text).toMatch(/^Hi <b>Ann<\/b> & co http:\/\/[^ ]+\/u\//);
    expect(ann.html).not.toContain('shop.example.com');
    expect(ann.headers['List-Unsubscribe']).toMatch(/^<http:\/\/.+\/u\/.+>$/);
    expect(ann.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');

    const recipients = (await as(marketer('d-small')).get(`/v1/campaigns/${id}/recipients`)).json.items;
    expect(recipients.map((r: any) => `${r.email}:${r.status}`).sort()).toEqual(['ann@example.com:sent', 'blocked@example.com:suppressed', 'lead5@example.com:sent']);
    expect(recipients.find((r: any) => r.email === 'lead5@example.com')).toMatchObject({ leadId: 'l5', messageId: expect.any(String) });
    expect((await as(marketer('d-small')).get(`/v1/campaigns/${id}/recipients?status=suppressed`)).json.items).toHaveLength(1);

    // Run again: nothing more is sent.
    expect((await dispatch({ now: new Date() })).sent).toBe(0);
    expect(await expectAtMostOnce('d-small', id)).toHaveLength(2);
  });

  it('sends in batches of at most 50 (one provider request each)', async () => {
    const id = await startCampaign('d-big', 'big');
    const sizes: number[] = [];
    const box = mailboxMailer();
    useMailer({ send: box.send, sendBulk: async (m) => (sizes.push(m.entries.length), box.sendBulk(m)) });
    try {
      await dispatch({ now: new Date() });
    } finally {
      useMailer(mailboxMailer());
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(230);
    expect(sizes.length).toBe(5);
    expect((await stats('d-big', id)).status).toBe('sent');
    expect(await expectAtMostOnce('d-big', id)).toHaveLength(230);
  });

  it('killed mid-run and run again: no one gets it twice; the in-flight batch is failed as outcome_unknown after its lease', async () => {
    const id = await startCampaign('d-kill', 'kill');
    const now = new Date();
    await expect(dispatch({ now, killAfterSends: 100 })).rejects.toBeInstanceOf(DispatchKilled);
    const again = await dispatch({ now });
    expect(again.sent).toBe(160);
    expect((await stats('d-kill', id)).status).toBe('sending'); // 50 in flight, outcome unknown
    const later = await dispatch({ now: new Date(now.getTime() + IN_FLIGHT_LEASE_MS + 60_000) });
    expect(later.sent).toBe(0);
    const c = await stats('d-kill', id);
    expect(c.status).toBe('sent');
    expect(c.stats).toMatchObject({ recipients: 260, sent: 210, failed: 50 });
    const failed = (await as(marketer('d-kill')).get(`/v1/campaigns/${id}/recipients?status=failed&limit=100`)).json.items;
    expect(failed.every((r: any) => r.error === 'outcome_unknown')).toBe(true);
    expect(await expectAtMostOnce('d-kill', id)).toHaveLength(260);
  });

  it('two runs started at once send every recipient exactly once between them', async () => {
    const id = await startCampaign('d-race', 'race');
    const now = new Date();
    const [a, b] = await Promise.all([dispatch({ now }), dispatch({ now })]);
    const third = await dispatch({ now }); // the run that lost the freeze lease may have found it still freezing
    expect(a.sent + b.sent + third.sent).toBe(300);
    expect((await stats('d-race', id)).stats).toMatchObject({ recipients: 300, sent: 300 });
    expect(await expectAtMostOnce('d-race', id)).toHaveLength(300);
  });

  it('overlapping runs claiming the same batch: the loser drops what the winner claimed', async () => {
    const id = await startCampaign('d-overlap', 'big');
    const now = new Date();
    let second: Promise<unknown> | undefined;
    // The first run, between its first claim and its provider call, lets a second run loose.
    const first = dispatch({ now, afterClaim: async () => { second ??= dispatch({ now }); await second; } });
    await first;
    expect(await expectAtMostOnce('d-overlap', id)).toHaveLength(230);
  });

  it('the provider failing one batch: a throttled batch is retried later, a refused address fails; the rest go on; nothing twice', async () => {
    const id = await startCampaign('d-flaky', 'flaky');
    const box = mailboxMailer();
    let call = 0;
    const flaky: Mailer = {
      send: box.send,
      async sendBulk(m) {
        call++;
        if (call === 1) return m.entries.map(() => ({ status: 'failed', error: 'ACCOUNT_THROTTLED', retryable: true }) as const);
        const results = await box.sendBulk({ ...m, entries: m.entries.filter((e) => e.to !== 'flaky7@example.com') });
        let j = 0;
        return m.entries.map((e) => (e.to === 'flaky7@example.com' ? ({ status: 'failed', error: 'MESSAGE_REJECTED', retryable: false } as const) : results[j++]!));
      },
    };
    useMailer(flaky);
    try {
      await dispatch({ now: new Date() });
    } finally {
      useMailer(mailboxMailer());
    }
    const c = await stats('d-flaky', id);
    expect(c.status).toBe('sent');
    expect(c.stats).toMatchObject({ recipients: 120, sent: 119, failed: 1 });
    expect(await expectAtMostOnce('d-flaky', id)).toHaveLength(119);
    const failed = (await as(marketer('d-flaky')).get(`/v1/campaigns/${id}/recipients?status=failed`)).json.items;
    expect(failed).toEqual([expect.objectContaining({ email: 'flaky7@example.com', error: 'MESSAGE_REJECTED' })]);
  });

  it('paces at sendRatePerSecond and stops at its time budget; the next run goes on', async () => {
    const id = await startCampaign('d-budget', 'budget', 20);
    const waits: number[] = [];
    let left = 100_000;
    const first = await dispatch({
      now: new Date(),
      sleep: async (ms) => void waits.push(ms),
      // Each batch "costs" 30 s of the invocation's time.
      afterClaim: async () => void (left -= 30_000),
      timeLeftMs: () => left,
    });
    expect(first.complete).toBe(false);
    expect(first.sent).toBe(60); // batches of 20 (the rate), three before the budget ran low
    expect(waits.length).toBeGreaterThan(0);
    expect((await stats('d-budget', id)).status).toBe('sending');
    await dispatch({ now: new Date() });
    expect((await stats('d-budget', id)).stats.sent).toBe(150);
    expect(await expectAtMostOnce('d-budget', id)).toHaveLength(150);
  });

  it('cancel while sending: what was not sent is canceled', async () => {
    const id = await startCampaign('d-cancel', 'cancel');
    let batches = 0;
    await dispatch({
      now: new Date(),
      afterClaim: async () => {
        if (++batches === 2) expect((await as(marketer('d-cancel')).post(`/v1/campaigns/${id}/cancel`)).status).toBe(200);
      },
    });
    await dispatch({ now: new Date() });
    const c = await stats('d-cancel', id);
    expect(c.status).toBe('canceled');
    expect(c.stats.sent).toBe(100);
    expect(c.stats.canceled).toBe(100);
    expect((await as(marketer('d-cancel')).get(`/v1/campaigns/${id}/recipients?status=queued`)).json.items).toHaveLength(0);
  });

  it('a scheduled campaign starts at the first run at or after sendAt', async () => {
    await as(admin('d-sched')).put('/v1/marketing/settings', { sendRatePerSecond: 1000 });
    const id = (await as(marketer('d-sched')).post('/v1/campaigns', { name: 's', segmentId: 'small', subject: 's', html: '<p>x</p>' })).json.id;
    const sendAt = new Date(Date.now() + 3_600_000);
    await as(marketer('d-sched')).post(`/v1/campaigns/${id}/schedule`, { sendAt: sendAt.toISOString() });
    await dispatch({ now: new Date(sendAt.getTime() - 60_000) });
    expect((await stats('d-sched', id)).status).toBe('scheduled');
    await dispatch({ now: sendAt });
    expect((await stats('d-sched', id))).toMatchObject({ status: 'sent', stats: { sent: 2 } });
  });
});

describe('public routes and provider events', () => {
  const T = 'd-public';
  let id: string;
  let mail: any;
  beforeAll(async () => {
    id = await startCampaign(T, 'small');
    await dispatch({ now: new Date() });
    mail = (await mailbox(T, `&campaignId=${id}`)).find((m) => m.to === 'lead5@example.com');
  });

  it('GET /u/{token} shows a confirmation and unsubscribes no one; POST (one-click) does, once', async () => {
    const path = linkIn(mail.html, '/u/');
    const page = await call(null, 'GET', path);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<form method="post"');
    expect(audience.suppressed.has('lead5@example.com')).toBe(false);

    const oneClick = { raw: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    expect((await call(null, 'POST', path, undefined, oneClick)).status).toBe(200);
    expect((await call(null, 'POST', path, undefined, oneClick)).status).toBe(200);
    expect(audience.suppressed.get('lead5@example.com')).toEqual({ reason: 'unsubscribed', campaignId: id });
    await dispatch({ now: new Date() });
    expect((await stats(T, id)).stats.unsubscribed).toBe(1);
  });

  it('the open pixel is a GIF and counts the recipient once; a click redirects to the campaign URL and counts once', async () => {
    const open = linkIn(mail.html, '/t/o/');
    const gif = await call(null, 'GET', open);
    expect(gif.status).toBe(200);
    expect(gif.headers['content-type']).toBe('image/gif');
    expect(gif.bytes?.subarray(0, 6).toString('latin1')).toBe('GIF89a');
    await call(null, 'GET', open);
    const click = linkIn(mail.html, '/t/c/');
    const redirect = await call(null, 'GET', click);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('https://shop.example.com/sale?a=1&b=2');
    await call(null, 'GET', click);
    await dispatch({ now: new Date() });
    const c = await stats(T, id);
    expect(c.stats).toMatchObject({ opened: 1, clicked: 1 });
    const r = (await as(marketer(T)).get(`/v1/campaigns/${id}/recipients`)).json.items.find((x: any) => x.email === 'lead5@example.com');
    expect(r.openedAt).toEqual(expect.any(String));
    expect(r.clickedAt).toEqual(expect.any(String));
  });

  it('tampered, malformed or foreign tokens are 404 (HTML for browsers, problem+json for JSON clients), never 500', async () => {
    const good = linkIn(mail.html, '/t/c/').slice('/t/c/'.length);
    const [payload, tag] = good.split('.');
    const flipped = `${payload}.${tag!.slice(0, -2)}${tag!.endsWith('AA') ? 'AB' : 'AA'}`;
    for (const path of [`/t/c/${flipped}`, '/t/c/nope', `/t/o/${good}`, `/u/${good}`, '/u/%E0%A4%A', `/t/c/${'x'.repeat(3000)}`]) {
      const res = await call(null, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toMatch(/^text\/html/);
    }
    const json = await call(null, 'GET', `/t/c/${flipped}`, undefined, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(404);
    expect(json.headers['content-type']).toMatch(/^application\/problem\+json/);
    const wrongType = await call(null, 'POST', linkIn(mail.html, '/u/'), undefined, { raw: '{}', headers: { 'content-type': 'application/json' } });
    expect(wrongType.status).toBe(415);
  });

  it('a permanent bounce suppresses the address and marks the recipient; a transient one changes nothing; a complaint too; admin only', async () => {
    const ann = (await mailbox(T, `&campaignId=${id}`)).find((m) => m.to === 'ann@example.com');
    expect((await as(marketer(T)).post('/_local/mail/events', { type: 'bounce', messageId: ann.messageId, bounceType: 'Permanent' })).status).toBe(403);
    expect((await as(admin('someone-else')).post('/_local/mail/events', { type: 'bounce', messageId: ann.messageId, bounceType: 'Permanent' })).status).toBe(404);
    const transient = await as(admin(T)).post('/_local/mail/events', { type: 'bounce', messageId: ann.messageId, bounceType: 'Transient' });
    expect(transient.json).toMatchObject({ applied: false });
    expect(audience.suppressed.has('ann@example.com')).toBe(false);
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'bounce', messageId: ann.messageId, bounceType: 'Permanent' })).json.applied).toBe(true);
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'bounce', messageId: ann.messageId, bounceType: 'Permanent' })).json.applied).toBe(false);
    expect(audience.suppressed.get('ann@example.com')).toMatchObject({ reason: 'bounced', campaignId: id });
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'complaint', messageId: ann.messageId })).json.applied).toBe(true);
    const c = await stats(T, id);
    expect(c.stats).toMatchObject({ bounced: 1, complained: 1 });
    const r = (await as(marketer(T)).get(`/v1/campaigns/${id}/recipients?status=complained`)).json.items;
    expect(r.map((x: any) => x.email)).toEqual(['ann@example.com']);
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'delivery', messageId: 'nope' })).status).toBe(404);
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'explode', messageId: ann.messageId })).status).toBe(400);
  });

  it('GET /_local/mail: admin only, own tenant only, newest first, cursor', async () => {
    expect((await as(marketer(T)).get('/_local/mail')).status).toBe(403);
    expect((await call(null, 'GET', '/_local/mail')).status).toBe(401);
    expect((await as(admin('nobody-here')).get('/_local/mail')).json.items).toEqual([]);
    const page1 = await as(admin(T)).get('/_local/mail?limit=1');
    const page2 = await as(admin(T)).get(`/_local/mail?limit=1&cursor=${encodeURIComponent(page1.json.nextCursor)}`);
    expect(page1.json.items[0].messageId > page2.json.items[0].messageId).toBe(true);
    expect((await as(admin(T)).get('/_local/mail?to=ann@example.com')).json.items.map((m: any) => m.to)).toEqual(['ann@example.com']);
  });
});
