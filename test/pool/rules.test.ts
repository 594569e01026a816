/** `GET /v1/pool/rules`, `PUT /v1/pool/rules` (API.md §6): defaults, validation, who may, per tenant. */
import { describe, expect, it } from 'vitest';
import { localDate } from '#domain/pool/rules.ts';
import { api, createAccount, enroll, expectProblem, newTenant, plus } from './support.ts';

const DEFAULTS = {
  releaseAfterDays: 30,
  releaseIfNotWonDays: null,
  remindBeforeDays: [3, 1],
  maxAccountsPerRep: 200,
  maxLockedPerRep: 10,
  maxClaimsPerDay: 20,
  reclaimCooldownDays: 7,
  exemptTiers: [],
  exemptWithOpenOpportunity: true,
  timeZone: 'Asia/Shanghai',
};

describe('pool rules', () => {
  it('every role reads the documented defaults until an admin changes them', async () => {
    const t = newTenant('defaults');
    for (const who of [t.admin, t.mia, t.alice, t.sam, t.mark]) {
      const res = await api(who).get('/v1/pool/rules');
      expect(res.status, who.user).toBe(200);
      expect(res.json).toEqual({ ...DEFAULTS, version: 0, updatedAt: null, updatedBy: null });
    }
  });

  it('PUT replaces the whole rule set (omitted fields take their defaults) and answers the rules in force', async () => {
    const t = newTenant('put');
    const first = await api(t.admin).put('/v1/pool/rules', { releaseAfterDays: 15, remindBeforeDays: [1, 5], exemptTiers: ['A'], timeZone: 'Europe/Berlin' });
    expect(first.status, first.body).toBe(200);
    expect(first.json).toMatchObject({ ...DEFAULTS, releaseAfterDays: 15, remindBeforeDays: [5, 1], exemptTiers: ['A'], timeZone: 'Europe/Berlin', version: 1, updatedBy: 'root' });
    expect((await api(t.alice).get('/v1/pool/rules')).json).toEqual(first.json);
    const second = await api(t.admin).put('/v1/pool/rules', { maxClaimsPerDay: 5 });
    expect(second.json).toMatchObject({ ...DEFAULTS, maxClaimsPerDay: 5, version: 2 });
    expect((await api(t.mia).get('/v1/pool/rules')).json).toEqual(second.json);
    // Back to the defaults with an empty body.
    expect((await api(t.admin).put('/v1/pool/rules', {})).json).toMatchObject({ ...DEFAULTS, version: 3 });
  });

  it('only an admin may change them (403), and nothing changes', async () => {
    const t = newTenant('who');
    await api(t.admin).put('/v1/pool/rules', { releaseAfterDays: 20 });
    const before = (await api(t.admin).get('/v1/pool/rules')).json;
    for (const who of [t.mia, t.alice, t.sam, t.mark]) {
      expectProblem({ ...(await api(who).put('/v1/pool/rules', { releaseAfterDays: 5 })), req: who.user }, 403, 'forbidden');
    }
    expect((await api(t.admin).get('/v1/pool/rules')).json).toEqual(before);
  });

  it('an invalid rule set is a 400 naming the field, and the old rules stay in force', async () => {
    const t = newTenant('invalid');
    const good = await api(t.admin).put('/v1/pool/rules', { releaseAfterDays: 20, maxAccountsPerRep: 50 });
    const cases: [Record<string, unknown>, string][] = [
      [{ releaseAfterDays: -1 }, 'releaseAfterDays'],
      [{ releaseAfterDays: 0 }, 'releaseAfterDays'],
      [{ releaseAfterDays: 1.5 }, 'releaseAfterDays'],
      [{ releaseAfterDays: '30' }, 'releaseAfterDays'],
      [{ releaseIfNotWonDays: -3 }, 'releaseIfNotWonDays'],
      [{ remindBeforeDays: [] }, 'remindBeforeDays'],
      [{ remindBeforeDays: [-1] }, 'remindBeforeDays'],
      [{ remindBeforeDays: [0] }, 'remindBeforeDays'],
      [{ remindBeforeDays: [3, 3] }, 'remindBeforeDays'],
      [{ remindBeforeDays: [1, 2, 3, 4, 5, 6] }, 'remindBeforeDays'],
      [{ releaseAfterDays: 5, remindBeforeDays: [5] }, 'remindBeforeDays'],
      [{ remindBeforeDays: 3 }, 'remindBeforeDays'],
      [{ maxAccountsPerRep: -1 }, 'maxAccountsPerRep'],
      [{ maxLockedPerRep: -2 }, 'maxLockedPerRep'],
      [{ maxClaimsPerDay: -5 }, 'maxClaimsPerDay'],
      [{ reclaimCooldownDays: -7 }, 'reclaimCooldownDays'],
      [{ exemptTiers: ['E'] }, 'exemptTiers'],
      [{ exemptTiers: ['A', 'A'] }, 'exemptTiers'],
      [{ exemptWithOpenOpportunity: 'yes' }, 'exemptWithOpenOpportunity'],
      [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ timeZone: '' }, 'timeZone'],
      [{ version: 9 }, 'version'],
      [{ bogus: true }, 'bogus'],
    ];
    for (const [body, field] of cases) {
      const res = await api(t.admin).put('/v1/pool/rules', body);
      expectProblem({ ...res, req: JSON.stringify(body) }, 400, 'validation_failed');
      expect(res.json.errors.some((e: { path: string }) => e.path.split('.').includes(field)), `${JSON.stringify(body)}: ${res.body}`).toBe(true);
      expect((await api(t.admin).get('/v1/pool/rules')).json, `after ${JSON.stringify(body)}`).toEqual(good.json);
    }
    // The rules in force still decide: an account shows releaseAt 20 days on.
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    expect(a.releaseAt).toBe(plus(a.ownerSince, 20));
  });

  it('are per tenant: one tenant’s change is invisible to another', async () => {
    const t = newTenant('tenantA');
    const u = newTenant('tenantB');
    await api(t.admin).put('/v1/pool/rules', { releaseAfterDays: 3, remindBeforeDays: [1] });
    expect((await api(u.admin).get('/v1/pool/rules')).json).toMatchObject({ ...DEFAULTS, version: 0 });
    await enroll(u.alice);
    const a = await createAccount(u.alice);
    expect(a.releaseAt).toBe(plus(a.ownerSince, 30));
  });

  it('the claims day is the tenant’s local day (default Asia/Shanghai, UTC+8)', () => {
    expect(localDate(new Date('2026-03-01T15:59:59Z'), 'Asia/Shanghai')).toBe('2026-03-01');
    expect(localDate(new Date('2026-03-01T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-03-02');
    expect(localDate(new Date('2026-03-01T16:00:00Z'), 'UTC')).toBe('2026-03-01');
    expect(localDate(new Date('2026-03-02T04:59:59Z'), 'America/New_York')).toBe('2026-03-01');
  });
});
