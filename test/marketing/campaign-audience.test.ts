/**
 * A campaign over a real segment and the real suppression list: the audience frozen from
 * the segment's members (one per normalized email, suppressed ones marked), sent, and an
 * unsubscribe landing in the suppression list with the campaign's id (once, under concurrent one-clicks).
 */
import { describe, expect, it } from 'vitest';
import { call, as } from '#test/support/api.ts';
import { admin, dispatch, linkIn, mailbox, marketer } from '#test/marketing/support.ts';
import { outboxEvents } from '#test/sales/orders-support.ts';

const T = 'camp-audience';
const rep = { tenant: T, user: 'alice', role: 'rep' as const };

describe('campaign over a real segment', () => {
  it('freezes the segment, skips suppressed addresses, sends once, and an unsubscribe suppresses the address', async () => {
    await as(rep).get('/v1/tasks'); // alice in the directory
    for (const [name, email] of [['甲', 'jia@example.com'], ['乙', 'yi@example.com'], ['丙', 'bing@example.com']] as const) {
      expect((await as(rep).post('/v1/contacts', { name, email, tags: ['vip'] })).status).toBe(201);
    }
    expect((await as(rep).post('/v1/contacts', { name: '丁', email: 'ding@example.com', tags: ['other'] })).status).toBe(201);
    expect((await as(marketer(T)).post('/v1/suppressions', { email: 'BING@example.com' })).status).toBe(201);
    const segment = await as(marketer(T)).post('/v1/segments', { name: 'VIP', entity: 'contacts', match: 'all', conditions: [{ field: 'tags', op: 'contains', value: 'vip' }] });
    expect(segment.status, segment.body).toBe(201);

    await as(admin(T)).put('/v1/marketing/settings', { sendRatePerSecond: 1000 });
    const c = await as(marketer(T)).post('/v1/campaigns', { name: 'VIP day', segmentId: segment.json.id, subject: '{{name}}', html: '<p>{{name}}</p>' });
    expect(c.status, c.body).toBe(201);
    expect((await as(marketer(T)).post('/v1/campaigns', { name: 'x', segmentId: segment.json.id, subject: '{{custom.nope}}', html: '<p/>' })).json.errors[0].path).toBe('body.subject');
    await as(marketer(T)).post(`/v1/campaigns/${c.json.id}/send`);
    await dispatch({ now: new Date() });

    const got = (await as(marketer(T)).get(`/v1/campaigns/${c.json.id}`)).json;
    expect(got).toMatchObject({ status: 'sent', stats: { recipients: 3, sent: 2, suppressed: 1 } });
    const mails = await mailbox(T, `&campaignId=${c.json.id}`);
    expect(mails.map((m) => m.to).sort()).toEqual(['jia@example.com', 'yi@example.com']);

    // Four one-clicks at once (a mail client and its scanner): one suppression, one mark, one count, one event.
    const path = linkIn(mails.find((m) => m.to === 'yi@example.com').headers['List-Unsubscribe'], '/u/');
    const oneClick = { raw: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    const clicks = await Promise.all(Array.from({ length: 4 }, () => call(null, 'POST', path, undefined, oneClick)));
    expect(clicks.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const suppressions = (await as(marketer(T)).get('/v1/suppressions')).json.items;
    expect(suppressions.filter((s: any) => s.email === 'yi@example.com')).toEqual([expect.objectContaining({ reason: 'unsubscribed', campaignId: c.json.id, version: 1 })]);
    expect((await as(marketer(T)).get(`/v1/campaigns/${c.json.id}`)).json.stats.unsubscribed).toBe(1);
    expect((await outboxEvents(T)).filter((e) => e.type === 'contact.unsubscribed').map((e) => (e.data as any).email)).toEqual(['yi@example.com']);

    // A permanent bounce of jia's mail: suppressed as bounced.
    const jia = mails.find((m) => m.to === 'jia@example.com');
    expect((await as(admin(T)).post('/_local/mail/events', { type: 'bounce', bounceType: 'Permanent', messageId: jia.messageId })).json.applied).toBe(true);
    expect((await as(marketer(T)).get('/v1/suppressions')).json.items).toContainEqual(expect.objectContaining({ email: 'jia@example.com', reason: 'bounced' }));
  });
});
