/**
 * NPS surveys (api/service.md "Satisfaction surveys"): create/read/list, roles, `/send` then the
 * next campaign-dispatch run mails the segment once each (batches ≤ 50, suppression respected,
 * a second run and a second send change nothing), the `/s/` form (0..10), one answer each, and
 * the stats with the NPS math.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, as, type Caller } from '#test/support/api.ts';
import { expectProblem } from '#test/support/fixtures.ts';
import { bucketOf, npsOf } from '#domain/service/surveys-nps.ts';
import { dispatch, linkIn, mailbox } from '#test/marketing/support.ts';

const T = 'surveys-nps';
const admin: Caller = { tenant: T, user: 'boss', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mia: Caller = { tenant: T, user: 'mia', role: 'marketer' };
const rep: Caller = { tenant: T, user: 'alice', role: 'rep' };
const mgr: Caller = { tenant: T, user: 'max', role: 'manager' };

let segmentId: string;
const MEMBERS = 60; // more than one batch of 50

beforeAll(async () => {
  for (const c of [admin, sam, mia, rep, mgr]) expect((await as(c).get('/v1/notifications')).status).toBe(200);
  for (let i = 0; i < MEMBERS; i++) {
    expect((await as(rep).post('/v1/contacts', { name: `客户${i}`, email: `nps${i}@example.com`, tags: ['nps'] })).status).toBe(201);
  }
  // A second contact with the same address (another case): mailed once.
  expect((await as(rep).post('/v1/contacts', { name: '重复', email: 'NPS0@example.com', tags: ['nps'] })).status).toBe(409);
  expect((await as(mia).post('/v1/suppressions', { email: 'nps1@example.com' })).status).toBe(201);
  const segment = await as(mia).post('/v1/segments', { name: 'NPS', entity: 'contacts', match: 'all', conditions: [{ field: 'tags', op: 'contains', value: 'nps' }] });
  expect(segment.status, segment.body).toBe(201);
  segmentId = segment.json.id;
  await as(admin).put('/v1/marketing/settings', { sendRatePerSecond: 1000 });
});

describe('NPS math', () => {
  it('buckets and the rounded score', () => {
    expect([0, 6, 7, 8, 9, 10].map(bucketOf)).toEqual(['detractors', 'detractors', 'passives', 'passives', 'promoters', 'promoters']);
    expect(npsOf(0, 0, 0)).toBeNull();
    expect(npsOf(2, 1, 4)).toBe(25);
    expect(npsOf(1, 2, 3)).toBe(-33);
    expect(npsOf(2, 0, 3)).toBe(67);
    expect(npsOf(5, 5, 10)).toBe(0);
  });
});

describe('surveys', () => {
  it('create (admin, support, marketer; others 403), defaults, bad input, list and get', async () => {
    const created = await as(sam).post('/v1/surveys', { name: '  季度 NPS  ', segmentId });
    expect(created.status, created.body).toBe(201);
    expect(created.headers.location).toBe(`/v1/surveys/${created.json.id}`);
    expect(created.json).toMatchObject({
      name: '季度 NPS', segmentId, status: 'draft', kind: 'nps', version: 1, sentAt: null,
      question: 'How likely are you to recommend us to a friend or colleague?',
      stats: { sent: 0, responses: 0, promoters: 0, passives: 0, detractors: 0, nps: null },
    });
    for (const c of [admin, mia]) expect((await as(c).post('/v1/surveys', { name: 'x', segmentId, question: '你会推荐我们吗？' })).status).toBe(201);
    for (const c of [rep, mgr]) {
      expectProblem((await as(c).post('/v1/surveys', { name: 'x', segmentId })) as any, 403, 'forbidden');
      expectProblem((await as(c).get(`/v1/surveys/${created.json.id}`)) as any, 403, 'forbidden');
      expectProblem((await as(c).get('/v1/surveys')) as any, 403, 'forbidden');
    }
    expectProblem((await as(mia).post('/v1/surveys', { name: 'x', segmentId: 'nope' })) as any, 400, 'validation_failed');
    expectProblem((await as(mia).post('/v1/surveys', { name: 'x', segmentId, status: 'sent' })) as any, 400, 'validation_failed');
    const got = await as(mia).get(`/v1/surveys/${created.json.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    const list = await as(admin).get('/v1/surveys?limit=2');
    expect(list.json.items).toHaveLength(2);
    expect(list.json.nextCursor).not.toBeNull();
    expectProblem((await as(admin).get(`/v1/surveys/${'0'.repeat(26)}`)) as any, 404, 'not_found');
  });

  it('send → the next dispatch run mails the segment once each, suppression respected; answers, stats and nps', async () => {
    const s = (await as(mia).post('/v1/surveys', { name: 'NPS 2026', segmentId, question: '<b>推荐</b>?' })).json;
    const sent = await as(mia).post(`/v1/surveys/${s.id}/send`);
    expect(sent.status, sent.body).toBe(200);
    expect(sent.json).toMatchObject({ status: 'sending', version: 2 });
    expectProblem((await as(mia).post(`/v1/surveys/${s.id}/send`)) as any, 409, 'invalid_transition');
    expect((await mailbox(T)).filter((m) => m.subject === 'NPS 2026')).toHaveLength(0);

    const report = await dispatch({ now: new Date() });
    expect(report.providerCalls).toBeGreaterThanOrEqual(2); // ≤ 50 a request
    await dispatch({ now: new Date() }); // a second run sends nothing more
    const mails = (await mailbox(T)).filter((m) => m.subject === 'NPS 2026');
    expect(mails).toHaveLength(MEMBERS - 1);
    expect(new Set(mails.map((m) => m.to)).size).toBe(MEMBERS - 1);
    expect(mails.map((m) => m.to)).not.toContain('nps1@example.com');
    expect(mails[0].html).toContain('&lt;b&gt;推荐&lt;/b&gt;?');

    const view = (await as(sam).get(`/v1/surveys/${s.id}`)).json;
    expect(view).toMatchObject({ status: 'sent', stats: { sent: MEMBERS - 1, responses: 0, nps: null } });

    const linkOf = (to: string) => linkIn(mails.find((m) => m.to === to)!.html, '/s/');
    const page = await call(null, 'GET', linkOf('nps2@example.com'));
    expect(page.status).toBe(200);
    for (let i = 0; i <= 10; i++) expect(page.body).toContain(`name="score" value="${i}"`);
    expect(page.body).toContain('&lt;b&gt;推荐&lt;/b&gt;?');

    // Scores 10, 9, 8, 3 → 2 promoters, 1 passive, 1 detractor: nps = round(100 × 1 / 4) = 25.
    const scores: [string, number][] = [['nps2@example.com', 10], ['nps3@example.com', 9], ['nps4@example.com', 8], ['nps5@example.com', 3]];
    for (const [to, score] of scores) {
      const res = await call(null, 'POST', linkOf(to), undefined, { raw: `score=${score}&comment=`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(res.status, res.body).toBe(200);
    }
    expectProblem((await call(null, 'POST', linkOf('nps2@example.com'), { score: 0 })) as any, 409, 'already_answered');
    expectProblem((await call(null, 'POST', linkOf('nps6@example.com'), { score: 11 })) as any, 400, 'validation_failed');
    expectProblem((await call(null, 'POST', linkOf('nps6@example.com'), { score: -1 })) as any, 400, 'validation_failed');
    // Concurrent answers of one recipient: one lands.
    const race = await Promise.all([0, 7, 10].map((score) => call(null, 'POST', linkOf('nps7@example.com'), { score })));
    expect(race.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const raced = (race.find((r) => r.status === 200)!.json as any).score as number;

    const stats = (await as(admin).get(`/v1/surveys/${s.id}`)).json.stats;
    const all = [10, 9, 8, 3, raced];
    const promoters = all.filter((x) => x >= 9).length;
    const detractors = all.filter((x) => x <= 6).length;
    expect(stats).toEqual({
      sent: MEMBERS - 1,
      responses: 5,
      promoters,
      passives: all.length - promoters - detractors,
      detractors,
      nps: Math.round((100 * (promoters - detractors)) / 5),
    });
  });
});
