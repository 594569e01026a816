/**
 * Activities on leads (API.md §5 activities: `leadId`): logging calls and meetings on a lead
 * before it is a customer, and listing a lead's activities, visible to whoever may open the lead.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'lead-acts';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'lead-acts-other', user: 'alice', role: 'rep', team: 'east' };

let leadId: string;
beforeAll(async () => {
  for (const c of [alice, bob, mia, sam, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  const lead = await api(alice).post('/v1/leads', { name: uniq('线索'), email: `${uniq('a').replace(/\W/g, '')}@acts.cn` });
  expect(lead.status, lead.body).toBe(201);
  leadId = lead.json.id;
});

describe('activities on a lead', () => {
  it('are logged on the lead alone, listed newest first to whoever may open the lead', async () => {
    const first = await api(alice).post('/v1/activities', { type: 'call', subject: '首次电话', leadId, occurredAt: '2026-03-01T08:00:00Z' });
    expect(first.status, first.body).toBe(201);
    expect(first.json).toMatchObject({ leadId, ownerId: 'alice' });
    expect(first.json.accountId).toBeUndefined();
    // Marketing touches the lead too (it reads every lead).
    const mail = await api(mark).post('/v1/activities', { type: 'email', subject: 'Newsletter 春季展会', leadId, occurredAt: '2026-03-02T08:00:00Z' });
    expect(mail.status, mail.body).toBe(201);

    const ids = async (c: Caller) => (await listAll(c, `/v1/activities?leadId=${leadId}`)).map((x) => x.id);
    expect(await ids(alice)).toEqual([mail.json.id, first.json.id]);
    expect(await ids(mia)).toEqual([mail.json.id, first.json.id]);
    expect(await ids(mark)).toEqual([mail.json.id, first.json.id]);
    for (const c of [bob, sam, other]) expectFieldError(await api(c).get(`/v1/activities?leadId=${leadId}`), 'leadId');
    expect(await listAll(alice, `/v1/activities?leadId=${leadId}&accountId=01JZZZZZZZZZZZZZZZZZZZZZZZ`)).toEqual([]);

    // One activity: the lead's readers open it; only its author (or manager, admin) changes it.
    expect((await api(mark).get(`/v1/activities/${first.json.id}`)).status).toBe(200);
    expectProblem(await api(mark).patch(`/v1/activities/${first.json.id}`, { subject: 'x' }), 403, 'forbidden');
    expectProblem(await api(bob).get(`/v1/activities/${first.json.id}`), 404, 'not_found');
    expect((await api(alice).patch(`/v1/activities/${mail.json.id}`, { subject: 'x' })).status).toBe(403);
  });

  it('a lead the caller may not open, or a missing one → 400 naming leadId; a lead with other links → 400', async () => {
    for (const c of [bob, sam, other]) {
      expectFieldError(await api(c).post('/v1/activities', { type: 'note', subject: 'x', leadId }), 'leadId');
    }
    expectFieldError(await api(alice).post('/v1/activities', { type: 'note', subject: 'x', leadId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }), 'leadId');
    const account = (await api(alice).post('/v1/accounts', { name: uniq('有客户') })).json.id as string;
    expectFieldError(await api(alice).post('/v1/activities', { type: 'note', subject: 'x', leadId, accountId: account }), 'leadId');
    expect((await listAll(alice, `/v1/activities?leadId=${leadId}`)).filter((x) => x.subject === 'x')).toEqual([]);
  });
});
