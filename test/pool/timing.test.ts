/**
 * Release timing on every account response (API.md §6): `ownerSince`, `releaseAt`,
 * `releaseReason`, `locked`, `prevOwnerId`, moved at once by a follow-up or a reassignment,
 * `null` from the response of the request that made an account exempt.
 */
import { describe, expect, it } from 'vitest';
import { listAll } from '#test/support/fixtures.ts';
import { api, createAccount, enroll, newTenant, plus, putRules } from './support.ts';

const POOL_FIELDS = ['ownerSince', 'releaseAt', 'releaseReason', 'locked', 'prevOwnerId'];

describe('release timing on every account', () => {
  it('create, get, list, patch, 360 and the pool list all show the pool fields', async () => {
    const t = newTenant('fields');
    await enroll(t.alice, t.mia);
    const created = await createAccount(t.alice, { tier: 'B' });
    expect(created).toMatchObject({ ownerSince: created.createdAt, releaseAt: plus(created.createdAt, 30), releaseReason: 'no_follow_up', locked: false, prevOwnerId: null });
    const got = (await api(t.alice).get(`/v1/accounts/${created.id}`)).json;
    const listed = (await listAll(t.mia, '/v1/accounts')).find((a) => a.id === created.id);
    const patched = (await api(t.alice).patch(`/v1/accounts/${created.id}`, { industry: 'Retail' })).json;
    const view = (await api(t.alice).get(`/v1/accounts/${created.id}/360`)).json.account;
    for (const [what, body] of [['get', got], ['list', listed], ['patch', patched], ['360', view]] as const) {
      for (const f of POOL_FIELDS) expect(body, `${what} has ${f}`).toHaveProperty(f);
      expect(body.releaseAt, what).toBe(created.releaseAt);
    }
    expect('formerOwners' in got, 'internal fields never show').toBe(false);
  });

  it('a follow-up moves releaseAt at once; one dated before the current owner got it does not', async () => {
    const t = newTenant('follow');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    const later = plus(a.ownerSince, 3);
    expect((await api(t.alice).post('/v1/activities', { type: 'meeting', subject: '拜访', accountId: a.id, occurredAt: later })).status).toBe(201);
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json).toMatchObject({ lastFollowUpAt: later, releaseAt: plus(later, 30) });
    // A follow-up through a contact of the account counts too.
    const contact = (await api(t.alice).post('/v1/contacts', { name: '李四', accountId: a.id })).json;
    const evenLater = plus(a.ownerSince, 5);
    expect((await api(t.alice).post('/v1/activities', { type: 'call', subject: 'call', contactId: contact.id, occurredAt: evenLater })).status).toBe(201);
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json.releaseAt).toBe(plus(evenLater, 30));

    const b = await createAccount(t.alice);
    const before = plus(b.ownerSince, -10);
    expect((await api(t.alice).post('/v1/activities', { type: 'note', subject: 'old news', accountId: b.id, occurredAt: before })).status).toBe(201);
    expect((await api(t.alice).get(`/v1/accounts/${b.id}`)).json).toMatchObject({ lastFollowUpAt: before, releaseAt: plus(b.ownerSince, 30) });
  });

  it('a reassignment restarts the clock at once and keeps the former owner', async () => {
    const t = newTenant('reassign');
    await enroll(t.alice, t.bob, t.mia);
    const a = await createAccount(t.alice);
    await api(t.alice).post('/v1/activities', { type: 'call', subject: 'x', accountId: a.id, occurredAt: plus(a.ownerSince, 1) });
    const moved = await api(t.mia).patch(`/v1/accounts/${a.id}`, { ownerId: 'bob' });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ ownerId: 'bob', prevOwnerId: 'alice', locked: false });
    expect(Date.parse(moved.json.ownerSince)).toBeGreaterThan(Date.parse(a.ownerSince));
    expect(moved.json.releaseAt).toBe(plus(plus(a.ownerSince, 1) > moved.json.ownerSince ? plus(a.ownerSince, 1) : moved.json.ownerSince, 30));
  });

  it('exempt accounts show releaseAt null from the response that made them exempt: tier, lock, open opportunity', async () => {
    const t = newTenant('exemptNow');
    await enroll(t.alice);
    await putRules(t.admin, { exemptTiers: ['A', 'B'] });
    const a = await createAccount(t.alice, { tier: 'C' });
    expect(a.releaseAt).not.toBeNull();
    const tierB = await api(t.alice).patch(`/v1/accounts/${a.id}`, { tier: 'B' });
    expect(tierB.json).toMatchObject({ releaseAt: null, releaseReason: null });
    const tierD = await api(t.alice).patch(`/v1/accounts/${a.id}`, { tier: 'D' });
    expect(tierD.json.releaseAt).toBe(a.releaseAt);
    expect((await api(t.alice).post(`/v1/accounts/${a.id}/lock`)).json.releaseAt).toBeNull();
    expect((await api(t.alice).post(`/v1/accounts/${a.id}/unlock`)).json.releaseAt).toBe(a.releaseAt);

    const opp = await api(t.alice).post('/v1/opportunities', { accountId: a.id, name: '年度合同', amount: 120000, expectedCloseDate: '2027-06-30' });
    expect(opp.status, opp.body).toBe(201);
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json).toMatchObject({ releaseAt: null, releaseReason: null });
    await putRules(t.admin, { exemptTiers: ['A', 'B'], exemptWithOpenOpportunity: false });
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json.releaseAt).toBe(a.releaseAt);
  });

  it('not_won, when set, counts from ownerSince; the earlier rule decides', async () => {
    const t = newTenant('both');
    await enroll(t.alice);
    await putRules(t.admin, { releaseIfNotWonDays: 20 });
    const a = await createAccount(t.alice);
    expect(a).toMatchObject({ releaseReason: 'not_won', releaseAt: plus(a.ownerSince, 20) });
    await putRules(t.admin, { releaseIfNotWonDays: 90 });
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json).toMatchObject({ releaseReason: 'no_follow_up', releaseAt: plus(a.ownerSince, 30) });
  });
});
