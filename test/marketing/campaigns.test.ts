/** Campaign CRUD, the status machine, If-Match, strict bodies, merge-tag validation, roles; marketing settings. */
import { beforeAll, describe, expect, it } from 'vitest';
import { useAudience } from '#domain/marketing/audience.ts';
import { as, type Caller } from '#test/support/api.ts';
import { admin, fixedAudience, marketer, member } from '#test/marketing/support.ts';

const T = 'camp-crud';
const mia = marketer(T);

beforeAll(() => {
  useAudience(fixedAudience({ seg1: { entity: 'contacts', members: [member(1)] } }, ['pricePreference']));
});

const body = { name: '双十一', segmentId: 'seg1', subject: '{{name}}，您好', html: '<p>{{company}} {{custom.pricePreference}}</p><a href="{{unsubscribeUrl}}">退订</a>' };

describe('campaigns', () => {
  it('creates a draft, reads it with stats and ETag, lists it, patches it with If-Match, deletes it', async () => {
    const created = await as(mia).post('/v1/campaigns', body);
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/v1/campaigns/${created.json.id}`);
    expect(created.json).toMatchObject({ status: 'draft', version: 1, sendAt: null, stats: { recipients: 0, sent: 0, opened: 0, wonAmount: 0 } });
    const id = created.json.id;

    const got = await as(mia).get(`/v1/campaigns/${id}`);
    expect(got.headers.etag).toBe('"1"');
    const list = await as(mia).get('/v1/campaigns?status=draft');
    expect(list.json.items.map((c: any) => c.id)).toContain(id);

    expect((await as(mia).patch(`/v1/campaigns/${id}`, { name: 'x' }, { headers: { 'if-match': '"7"' } })).status).toBe(412);
    const patched = await as(mia).patch(`/v1/campaigns/${id}`, { name: '双十二', budget: 1234.5 }, { headers: { 'if-match': '"1"' } });
    expect(patched.json).toMatchObject({ name: '双十二', budget: 1234.5, version: 2 });
    const cleared = await as(mia).patch(`/v1/campaigns/${id}`, { budget: null }, { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(cleared.json.budget).toBeUndefined();

    expect((await as(mia).delete(`/v1/campaigns/${id}`)).status).toBe(204);
    expect((await as(mia).get(`/v1/campaigns/${id}`)).status).toBe(404);
  });

  it('an unknown merge tag is a 400 naming the field; so is an unknown custom key or segment', async () => {
    const bad = await as(mia).post('/v1/campaigns', { ...body, html: '<p>{{nmae}}</p>' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([expect.objectContaining({ path: 'body.html', message: expect.stringContaining('{{nmae}}') })]);
    const custom = await as(mia).post('/v1/campaigns', { ...body, subject: '{{custom.nope}}' });
    expect(custom.json.errors[0].path).toBe('body.subject');
    const seg = await as(mia).post('/v1/campaigns', { ...body, segmentId: 'nope' });
    expect(seg.status).toBe(400);
    expect(seg.json.errors[0].path).toBe('body.segmentId');
    const id = (await as(mia).post('/v1/campaigns', body)).json.id;
    const patch = await as(mia).patch(`/v1/campaigns/${id}`, { text: 'hi {{ownr}}' });
    expect(patch.status).toBe(400);
    expect(patch.json.errors[0].path).toBe('body.text');
  });

  it('bodies are strict: unknown and server-owned fields are refused', async () => {
    expect((await as(mia).post('/v1/campaigns', { ...body, status: 'sent' })).status).toBe(400);
    expect((await as(mia).post('/v1/campaigns', { ...body, stats: {} })).status).toBe(400);
    expect((await as(mia).post('/v1/campaigns', { ...body, replyTo: 'not-an-email' })).status).toBe(400);
  });

  it('status machine: schedule, send, cancel; other transitions are 409 invalid_transition', async () => {
    const id = (await as(mia).post('/v1/campaigns', body)).json.id;
    const draftCancel = await as(mia).post(`/v1/campaigns/${id}/cancel`);
    // The problem's `status` is the HTTP status; the campaign's own is `campaignStatus`.
    expect(draftCancel.json).toMatchObject({ status: 409, code: 'invalid_transition', campaignStatus: 'draft' });
    const past = await as(mia).post(`/v1/campaigns/${id}/schedule`, { sendAt: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    const scheduled = await as(mia).post(`/v1/campaigns/${id}/schedule`, { sendAt: '2099-01-01T08:00:00+08:00' });
    expect(scheduled.json).toMatchObject({ status: 'scheduled', sendAt: '2099-01-01T00:00:00.000Z' });
    expect((await as(mia).patch(`/v1/campaigns/${id}`, { name: 'late' })).json.code).toBe('invalid_transition');
    expect((await as(mia).post(`/v1/campaigns/${id}/schedule`, { sendAt: '2099-01-02T00:00:00Z' })).status).toBe(409);
    const canceled = await as(mia).post(`/v1/campaigns/${id}/cancel`);
    expect(canceled.json).toMatchObject({ status: 'canceled' });
    expect((await as(mia).post(`/v1/campaigns/${id}/send`)).status).toBe(409);
    expect((await as(mia).delete(`/v1/campaigns/${id}`)).status).toBe(409);

    const other = (await as(mia).post('/v1/campaigns', body)).json.id;
    const sending = await as(mia).post(`/v1/campaigns/${other}/send`);
    expect(sending.json).toMatchObject({ status: 'sending' });
    expect((await as(mia).post(`/v1/campaigns/${other}/send`)).status).toBe(409);
  });

  it('two sends racing: one wins, the other gets 409 (or sees it already sending)', async () => {
    const id = (await as(mia).post('/v1/campaigns', body)).json.id;
    const answers = await Promise.all(Array.from({ length: 6 }, () => as(mia).post(`/v1/campaigns/${id}/send`)));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(5);
    expect((await as(mia).get(`/v1/campaigns/${id}`)).json.version).toBe(2);
  });

  it('only admins and marketers see campaigns; another tenant gets 404', async () => {
    const id = (await as(mia).post('/v1/campaigns', body)).json.id;
    for (const role of ['rep', 'manager', 'support'] as const) {
      const caller: Caller = { tenant: T, user: `u-${role}`, role };
      expect((await as(caller).get(`/v1/campaigns/${id}`)).status).toBe(403);
      expect((await as(caller).post('/v1/campaigns', body)).status).toBe(403);
    }
    expect((await as(admin(T)).get(`/v1/campaigns/${id}`)).status).toBe(200);
    expect((await as(marketer('other-tenant')).get(`/v1/campaigns/${id}`)).status).toBe(404);
  });
});

describe('marketing settings', () => {
  it('defaults, admin replaces them, marketers read them and may not change them', async () => {
    expect((await as(admin('settings-t')).get('/v1/marketing/settings')).json).toMatchObject({ sendRatePerSecond: 10, fromAddress: 'noreply@example.com' });
    const put = await as(admin('settings-t')).put('/v1/marketing/settings', { sendRatePerSecond: 500, fromAddress: 'News@Acme.example' });
    expect(put.json).toMatchObject({ sendRatePerSecond: 500, fromAddress: 'news@acme.example', version: 1 });
    expect((await as(marketer('settings-t')).get('/v1/marketing/settings')).json.sendRatePerSecond).toBe(500);
    expect((await as(marketer('settings-t')).put('/v1/marketing/settings', {})).status).toBe(403);
    expect((await as(admin('settings-t')).put('/v1/marketing/settings', { sendRatePerSecond: 0 })).status).toBe(400);
    expect((await as(admin('settings-t')).put('/v1/marketing/settings', {})).json).toMatchObject({ sendRatePerSecond: 10, version: 2 });
  });
});
