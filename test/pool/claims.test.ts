/**
 * Claiming, assigning, releasing, locking (API.md §6), through HTTP: every refusal, the caps
 * under real concurrent requests, and counters that stay exact.
 */
import { describe, expect, it } from 'vitest';
import { claimAccount } from '#domain/pool/pool.ts';
import { localDate } from '#domain/pool/rules.ts';
import { call, type ApiResponse } from '#test/support/api.ts';
import { listAll } from '#test/support/fixtures.ts';
import {
  api,
  claimsOn,
  counters,
  createAccount,
  enroll,
  expectCountersExact,
  expectProblem,
  newTenant,
  notificationsOf,
  poolAccount,
  putRules,
  type Caller,
} from './support.ts';

const MISSING = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

async function concurrently(requests: (() => Promise<ApiResponse>)[]): Promise<ApiResponse[]> {
  const answers = await Promise.all(requests.map((r) => r()));
  const errors = answers.filter((a) => a.status >= 500).map((a) => a.body);
  expect(errors, `${errors.length} of ${answers.length} concurrent requests answered 5xx`).toEqual([]);
  return answers;
}

const sent = (res: ApiResponse, req: string) => ({ ...res, req });

describe('claim', () => {
  it('makes the caller the owner: 200 with the account, its clock starting now, its contact details visible', async () => {
    const t = newTenant('claim');
    await enroll(t.alice, t.bob);
    const pooled = await poolAccount(t.alice, { email: 'buyer@claim.example.cn', phone: '+86 138 0000 0001' });
    expect(pooled).toMatchObject({ poolStatus: 'pool', ownerId: null, prevOwnerId: 'alice', ownerSince: null, releaseAt: null });

    const before = await counters(t.tenant, 'bob');
    const res = await api(t.bob).post(`/v1/pool/${pooled.id}/claim`);
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({
      id: pooled.id,
      ownerId: 'bob',
      poolStatus: 'owned',
      prevOwnerId: 'alice',
      locked: false,
      releasedAt: null,
      releaseReason: 'no_follow_up',
      email: 'buyer@claim.example.cn',
      phone: '+86 138 0000 0001',
      version: pooled.version + 1,
    });
    expect(Date.parse(res.json.releaseAt) - Date.parse(res.json.ownerSince)).toBe(30 * 86_400_000);
    expect((await api(t.bob).get(`/v1/accounts/${pooled.id}`)).json).toEqual(res.json);
    expect((await counters(t.tenant, 'bob')).owned).toBe(before.owned + 1);
    expect((await listAll(t.bob, '/v1/pool')).map((a) => a.id)).not.toContain(pooled.id);
    expect((await listAll(t.bob, '/v1/accounts')).map((a) => a.id)).toContain(pooled.id);
    // The day's claim is counted in the tenant's time zone (default Asia/Shanghai).
    expect(await claimsOn(t.tenant, 'bob', localDate(new Date(), 'Asia/Shanghai'))).toBe(1);
  });

  it('404 for an id that does not exist or is another tenant’s; 403 for roles that own no customers', async () => {
    const t = newTenant('claim404');
    const other = newTenant('claim404-other');
    await enroll(t.alice, other.alice);
    const theirs = await poolAccount(other.alice);
    expectProblem(sent(await api(t.alice).post(`/v1/pool/${MISSING}/claim`), 'claim missing'), 404, 'not_found');
    expectProblem(sent(await api(t.alice).post(`/v1/pool/${theirs.id}/claim`), 'claim foreign'), 404, 'not_found');
    const mine = await poolAccount(t.alice);
    for (const who of [t.sam, t.mark]) expectProblem(sent(await api(who).post(`/v1/pool/${mine.id}/claim`), who.role), 403, 'forbidden');
    expect((await api(t.admin).get(`/v1/accounts/${mine.id}`)).json.poolStatus).toBe('pool');
  });

  it('claim, lock and unlock take no body: any field is a 400 naming it, and nothing changes', async () => {
    const t = newTenant('nobody');
    await enroll(t.alice, t.bob);
    const pooled = await poolAccount(t.alice);
    const owned = await createAccount(t.bob);
    for (const [url, id] of [[`/v1/pool/${pooled.id}/claim`, pooled.id], [`/v1/accounts/${owned.id}/lock`, owned.id], [`/v1/accounts/${owned.id}/unlock`, owned.id]] as const) {
      const before = (await api(t.admin).get(`/v1/accounts/${id}`)).json;
      const res = await api(t.bob).post(url, { userId: 'bob' });
      expectProblem(sent(res, url), 400, 'validation_failed');
      expect(res.json.errors[0].path).toContain('userId');
      expect((await api(t.admin).get(`/v1/accounts/${id}`)).json).toEqual(before);
    }
  });

  it('409 not_in_pool for an owned account, visible to the caller or not, and nothing changes', async () => {
    const t = newTenant('notinpool');
    await enroll(t.alice, t.bob);
    const owned = await createAccount(t.alice);
    const before = (await api(t.admin).get(`/v1/accounts/${owned.id}`)).json;
    const res = await api(t.bob).post(`/v1/pool/${owned.id}/claim`);
    expectProblem(sent(res, 'claim owned'), 409, 'not_in_pool');
    expectProblem(sent(await api(t.alice).post(`/v1/pool/${owned.id}/claim`), 'claim own'), 409, 'not_in_pool');
    expect((await api(t.admin).get(`/v1/accounts/${owned.id}`)).json).toEqual(before);
    expect((await counters(t.tenant, 'bob')).owned).toBe(0);
  });

  it('409 pool_cap_reached when the rep holds maxAccountsPerRep accounts, whatever it owns them from', async () => {
    const t = newTenant('cap');
    await enroll(t.alice, t.bob);
    await putRules(t.admin, { maxAccountsPerRep: 2 });
    await createAccount(t.bob);
    await createAccount(t.bob);
    const pooled = await poolAccount(t.alice);
    const res = await api(t.bob).post(`/v1/pool/${pooled.id}/claim`);
    expectProblem(sent(res, 'claim over cap'), 409, 'pool_cap_reached');
    expect(res.json.maxAccountsPerRep).toBe(2);
    expect((await api(t.admin).get(`/v1/accounts/${pooled.id}`)).json.poolStatus).toBe('pool');
    expect(await counters(t.tenant, 'bob')).toEqual({ owned: 2, locked: 0 });
    // Giving one back makes room at once.
    const mine = (await listAll(t.bob, '/v1/accounts'))[0]!;
    expect((await api(t.bob).post(`/v1/accounts/${mine.id}/release`, { reason: 'make room' })).status).toBe(200);
    expect((await api(t.bob).post(`/v1/pool/${pooled.id}/claim`)).status).toBe(200);
    await expectCountersExact(t.admin, ['alice', 'bob']);
  });

  it('409 claim_limit_reached after maxClaimsPerDay claims today; a cap lowered by the admin holds for the next request', async () => {
    const t = newTenant('daily');
    await enroll(t.alice, t.bob);
    const accounts = [];
    for (let i = 0; i < 4; i++) accounts.push(await poolAccount(t.alice));
    await putRules(t.admin, { maxClaimsPerDay: 3 });
    expect((await api(t.bob).post(`/v1/pool/${accounts[0]!.id}/claim`)).status).toBe(200);
    expect((await api(t.bob).post(`/v1/pool/${accounts[1]!.id}/claim`)).status).toBe(200);
    await putRules(t.admin, { maxClaimsPerDay: 2 });
    const res = await api(t.bob).post(`/v1/pool/${accounts[2]!.id}/claim`);
    expectProblem(sent(res, 'third claim'), 409, 'claim_limit_reached');
    expect(res.json).toMatchObject({ maxClaimsPerDay: 2, timeZone: 'Asia/Shanghai', day: localDate(new Date(), 'Asia/Shanghai') });
    expect((await api(t.admin).get(`/v1/accounts/${accounts[2]!.id}`)).json.poolStatus).toBe('pool');
    // Releasing does not give a claim back; another rep has its own count.
    expect((await api(t.alice).post(`/v1/pool/${accounts[2]!.id}/claim`)).status).toBe(409); // alice: cooldown
    expect((await api(t.carol).post(`/v1/pool/${accounts[2]!.id}/claim`)).status).toBe(200);
    expect(await claimsOn(t.tenant, 'bob', localDate(new Date(), 'Asia/Shanghai'))).toBe(2);
  });

  it('409 claim_cooldown for the rep the account left less than reclaimCooldownDays ago; others may claim it, and 0 days lifts it', async () => {
    const t = newTenant('cooldown');
    await enroll(t.alice, t.bob);
    const pooled = await poolAccount(t.alice);
    const res = await api(t.alice).post(`/v1/pool/${pooled.id}/claim`);
    expectProblem(sent(res, 'reclaim'), 409, 'claim_cooldown');
    expect(Date.parse(res.json.availableAt) - Date.parse(pooled.releasedAt)).toBe(7 * 86_400_000);
    expect((await api(t.admin).get(`/v1/accounts/${pooled.id}`)).json.poolStatus).toBe('pool');

    await putRules(t.admin, { reclaimCooldownDays: 0 });
    expect((await api(t.alice).post(`/v1/pool/${pooled.id}/claim`)).status).toBe(200);

    // It remembers every recent owner, not only the last one: alice → pool → bob → pool, alice waits again.
    await putRules(t.admin, { reclaimCooldownDays: 7 });
    expect((await api(t.alice).post(`/v1/accounts/${pooled.id}/release`, { reason: 'again' })).status).toBe(200);
    expect((await api(t.bob).post(`/v1/pool/${pooled.id}/claim`)).status).toBe(200);
    expect((await api(t.bob).post(`/v1/accounts/${pooled.id}/release`, { reason: 'not mine' })).status).toBe(200);
    expectProblem(sent(await api(t.alice).post(`/v1/pool/${pooled.id}/claim`), 'alice again'), 409, 'claim_cooldown');
    expectProblem(sent(await api(t.bob).post(`/v1/pool/${pooled.id}/claim`), 'bob again'), 409, 'claim_cooldown');
    expect((await api(t.carol).post(`/v1/pool/${pooled.id}/claim`)).status).toBe(200);
  });

  it('20 reps claiming one account at once: exactly one owner, 19 × 409 not_in_pool', async () => {
    const t = newTenant('race20');
    const reps: Caller[] = Array.from({ length: 20 }, (_, i) => ({ tenant: t.tenant, user: `rep${i}`, role: 'rep', team: 'east' }));
    await enroll(t.alice, ...reps);
    const pooled = await poolAccount(t.alice);
    const answers = await concurrently(reps.map((r) => () => call(r, 'POST', `/v1/pool/${pooled.id}/claim`)));
    const won = answers.map((a, i) => ({ a, rep: reps[i]! })).filter(({ a }) => a.status === 200);
    expect(won, answers.map((a) => a.status).join(',')).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expectProblem(sent(a, 'losing claim'), 409, 'not_in_pool');
    const winner = won[0]!.rep.user;
    const final = (await api(t.admin).get(`/v1/accounts/${pooled.id}`)).json;
    expect(final).toMatchObject({ ownerId: winner, poolStatus: 'owned', version: pooled.version + 1 });
    await expectCountersExact(t.admin, reps.map((r) => r.user));
  });

  it('one rep firing 50 claims at once with a cap of 5: owns exactly 5, the rest 409 pool_cap_reached', async () => {
    const t = newTenant('race50');
    await enroll(t.alice, t.bob);
    await putRules(t.admin, { maxAccountsPerRep: 5, maxClaimsPerDay: 100 });
    const pooled = [];
    for (let i = 0; i < 50; i++) pooled.push(await poolAccount(t.alice));
    const answers = await concurrently(pooled.map((p) => () => call(t.bob, 'POST', `/v1/pool/${p.id}/claim`)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200), statuses.join(',')).toHaveLength(5);
    for (const a of answers.filter((x) => x.status !== 200)) expectProblem(sent(a, 'claim over cap'), 409, 'pool_cap_reached');
    const owned = await listAll(t.bob, '/v1/accounts');
    expect(owned).toHaveLength(5);
    expect(await counters(t.tenant, 'bob')).toEqual({ owned: 5, locked: 0 });
    expect((await listAll(t.bob, '/v1/pool')).length).toBe(45);
  });

  it('the daily cap holds under concurrency too: 10 claims at once with maxClaimsPerDay 3 → 3 claimed', async () => {
    const t = newTenant('race-daily');
    await enroll(t.alice, t.bob);
    await putRules(t.admin, { maxClaimsPerDay: 3 });
    const pooled = [];
    for (let i = 0; i < 10; i++) pooled.push(await poolAccount(t.alice));
    const answers = await concurrently(pooled.map((p) => () => call(t.bob, 'POST', `/v1/pool/${p.id}/claim`)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    for (const a of answers.filter((x) => x.status !== 200)) expectProblem(sent(a, 'claim over daily cap'), 409, 'claim_limit_reached');
    expect(await claimsOn(t.tenant, 'bob', localDate(new Date(), 'Asia/Shanghai'))).toBe(3);
    await expectCountersExact(t.admin, ['bob']);
  });

  it('the daily limit resets at midnight in the tenant’s time zone, not in UTC', async () => {
    for (const [timeZone, secondDay] of [['Asia/Shanghai', true], ['UTC', false]] as const) {
      const t = newTenant(`midnight-${timeZone}`);
      await enroll(t.alice, t.bob);
      await putRules(t.admin, { maxClaimsPerDay: 1, timeZone });
      const [a, b] = [await poolAccount(t.alice), await poolAccount(t.alice)];
      const bob = { tenantId: t.tenant, userId: 'bob', role: 'rep' as const, teamId: 'east' };
      // 23:59:59 and 00:00:00 in Shanghai (15:59:59Z and 16:00:00Z): two days there, one day in UTC.
      await claimAccount({ identity: bob, now: new Date('2026-03-01T15:59:59Z') }, a.id);
      const second = claimAccount({ identity: bob, now: new Date('2026-03-01T16:00:00Z') }, b.id);
      if (secondDay) {
        expect((await second).ownerId).toBe('bob');
        expect(await claimsOn(t.tenant, 'bob', '2026-03-01')).toBe(1);
        expect(await claimsOn(t.tenant, 'bob', '2026-03-02')).toBe(1);
      } else {
        await expect(second).rejects.toMatchObject({ status: 409, code: 'claim_limit_reached' });
        expect(await claimsOn(t.tenant, 'bob', '2026-03-01')).toBe(1);
      }
    }
  });

  it('Idempotency-Key: a retried claim answers the first 200 again and claims once', async () => {
    const t = newTenant('idem');
    await enroll(t.alice, t.bob);
    const pooled = await poolAccount(t.alice);
    const key = { headers: { 'idempotency-key': 'claim-once' } };
    const first = await api(t.bob).post(`/v1/pool/${pooled.id}/claim`, undefined, key);
    const again = await api(t.bob).post(`/v1/pool/${pooled.id}/claim`, undefined, key);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect(await claimsOn(t.tenant, 'bob', localDate(new Date(), 'Asia/Shanghai'))).toBe(1);
    expect(await counters(t.tenant, 'bob')).toEqual({ owned: 1, locked: 0 });
  });
});

describe('assign', () => {
  it('a manager assigns a pool account to a rep of its team; an admin to anyone in sales; the cap applies', async () => {
    const t = newTenant('assign');
    await enroll(t.alice, t.bob, t.carol, t.wes, t.mia, t.max, t.sam);
    const a = await poolAccount(t.alice);
    const res = await api(t.mia).post(`/v1/pool/${a.id}/assign`, { userId: 'bob' });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({ ownerId: 'bob', poolStatus: 'owned', prevOwnerId: 'alice' });
    expect((await api(t.bob).get(`/v1/accounts/${a.id}`)).status).toBe(200);

    const b = await poolAccount(t.alice);
    expectProblem(sent(await api(t.mia).post(`/v1/pool/${b.id}/assign`, { userId: 'wes' }), 'outside team'), 403, 'forbidden');
    const unknown = await api(t.mia).post(`/v1/pool/${b.id}/assign`, { userId: 'ghost' });
    expectProblem(sent(unknown, 'unknown user'), 400, 'validation_failed');
    expect(unknown.json.errors[0].path).toBe('body.userId');
    expectProblem(sent(await api(t.admin).post(`/v1/pool/${b.id}/assign`, { userId: 'sam' }), 'support user'), 400, 'validation_failed');
    for (const who of [t.alice, t.sam, t.mark]) {
      expectProblem(sent(await api(who).post(`/v1/pool/${b.id}/assign`, { userId: 'bob' }), who.user), 403, 'forbidden');
    }
    expectProblem(sent(await api(t.mia).post(`/v1/pool/${MISSING}/assign`, { userId: 'bob' }), 'missing'), 404, 'not_found');
    expectProblem(sent(await api(t.mia).post(`/v1/pool/${a.id}/assign`, { userId: 'carol' }), 'owned'), 409, 'not_in_pool');
    expect((await api(t.admin).post(`/v1/pool/${b.id}/assign`, { userId: 'wes' })).status).toBe(200);

    await putRules(t.admin, { maxAccountsPerRep: 1 });
    const c = await poolAccount(t.alice);
    expectProblem(sent(await api(t.admin).post(`/v1/pool/${c.id}/assign`, { userId: 'bob' }), 'over cap'), 409, 'pool_cap_reached');
    expect((await api(t.admin).get(`/v1/accounts/${c.id}`)).json.poolStatus).toBe('pool');
    await expectCountersExact(t.admin, ['alice', 'bob', 'wes']);
  });
});

describe('release', () => {
  it('the owner puts an account back; its manager too (the owner is told); others may not', async () => {
    const t = newTenant('release');
    await enroll(t.alice, t.bob, t.mia, t.max);
    const a = await createAccount(t.alice, { email: 'a@release.example.cn' });
    for (const who of [t.bob, t.max]) expectProblem(sent(await api(who).post(`/v1/accounts/${a.id}/release`, { reason: 'x' }), who.user), 404, 'not_found');
    for (const who of [t.sam, t.mark]) expectProblem(sent(await api(who).post(`/v1/accounts/${a.id}/release`, { reason: 'x' }), who.user), 403, 'forbidden');
    const noReason = await api(t.alice).post(`/v1/accounts/${a.id}/release`, {});
    expectProblem(sent(noReason, 'no reason'), 400, 'validation_failed');
    expect((await api(t.alice).get(`/v1/accounts/${a.id}`)).json.poolStatus).toBe('owned');

    const res = await api(t.alice).post(`/v1/accounts/${a.id}/release`, { reason: '客户预算取消' });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toMatchObject({ ownerId: null, poolStatus: 'pool', prevOwnerId: 'alice', ownerSince: null, releaseAt: null, releaseReason: null, locked: false });
    expect('email' in res.json, 'a rep sees a pool account without contact details').toBe(false);
    expect(typeof res.json.releasedAt).toBe('string');
    expectProblem(sent(await api(t.alice).post(`/v1/accounts/${a.id}/release`, { reason: 'again' }), 'twice'), 409, 'not_in_pool');
    // The feed names who released it and why.
    const feed = (await api(t.admin).get(`/v1/accounts/${a.id}/360`)).json.activities;
    expect(feed[0].subject).toContain('客户预算取消');
    expect(feed[0].subject).toContain('alice');
    expect(await notificationsOf(t.alice)).toEqual([]); // released by herself: nothing to tell her

    const b = await createAccount(t.alice);
    expect((await api(t.mia).post(`/v1/accounts/${b.id}/release`, { reason: 'rebalancing' })).status).toBe(200);
    const told = await notificationsOf(t.alice);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ kind: 'pool.released', entityType: 'account', entityId: b.id, readAt: null });
    expect(told[0]!.message).toContain('mia');
    await expectCountersExact(t.admin, ['alice']);
  });
});

describe('lock and unlock', () => {
  it('locks exempt an account (releaseAt null at once), within maxLockedPerRep; unlock restores the clock', async () => {
    const t = newTenant('lock');
    await enroll(t.alice, t.bob, t.mia);
    await putRules(t.admin, { maxLockedPerRep: 2 });
    const [a, b, c] = [await createAccount(t.alice), await createAccount(t.alice), await createAccount(t.alice)];
    const locked = await api(t.alice).post(`/v1/accounts/${a.id}/lock`);
    expect(locked.status, locked.body).toBe(200);
    expect(locked.json).toMatchObject({ locked: true, releaseAt: null, releaseReason: null, version: a.version + 1 });
    const again = await api(t.alice).post(`/v1/accounts/${a.id}/lock`);
    expect(again.status).toBe(200);
    expect(again.json.version, 'locking a locked account changes nothing').toBe(a.version + 1);
    expect((await api(t.mia).post(`/v1/accounts/${b.id}/lock`)).status, 'the owner’s manager').toBe(200);
    const third = await api(t.alice).post(`/v1/accounts/${c.id}/lock`);
    expectProblem(sent(third, 'third lock'), 409, 'lock_limit_reached');
    expect((await api(t.alice).get(`/v1/accounts/${c.id}`)).json).toMatchObject({ locked: false, version: c.version });
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 3, locked: 2 });

    for (const who of [t.bob]) expectProblem(sent(await api(who).post(`/v1/accounts/${c.id}/lock`), 'bob'), 404, 'not_found');
    for (const who of [t.sam, t.mark]) expectProblem(sent(await api(who).post(`/v1/accounts/${c.id}/lock`), who.user), 403, 'forbidden');

    const unlocked = await api(t.alice).post(`/v1/accounts/${a.id}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.json).toMatchObject({ locked: false, releaseAt: a.releaseAt, releaseReason: 'no_follow_up' });
    expect((await api(t.alice).post(`/v1/accounts/${a.id}/unlock`)).json.version, 'unlocking an unlocked account changes nothing').toBe(unlocked.json.version);
    expect((await api(t.alice).post(`/v1/accounts/${c.id}/lock`)).status).toBe(200);

    const pooled = await poolAccount(t.bob);
    expectProblem(sent(await api(t.admin).post(`/v1/accounts/${pooled.id}/lock`), 'lock pool'), 409, 'invalid_transition');
    expectProblem(sent(await api(t.alice).post(`/v1/accounts/${MISSING}/lock`), 'lock missing'), 404, 'not_found');
    await expectCountersExact(t.admin, ['alice', 'bob']);
  });

  it('10 locks at once with maxLockedPerRep 3: exactly 3 locked', async () => {
    const t = newTenant('lockrace');
    await enroll(t.alice);
    await putRules(t.admin, { maxLockedPerRep: 3 });
    const accounts = [];
    for (let i = 0; i < 10; i++) accounts.push(await createAccount(t.alice));
    const answers = await concurrently(accounts.map((a) => () => call(t.alice, 'POST', `/v1/accounts/${a.id}/lock`)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    for (const a of answers.filter((x) => x.status !== 200)) expectProblem(sent(a, 'lock over cap'), 409, 'lock_limit_reached');
    await expectCountersExact(t.admin, ['alice']);
  });

  it('a released, reassigned or deleted locked account gives its lock back', async () => {
    const t = newTenant('lockmoves');
    await enroll(t.alice, t.bob, t.mia);
    const [a, b, c] = [await createAccount(t.alice), await createAccount(t.alice), await createAccount(t.alice)];
    for (const x of [a, b, c]) expect((await api(t.alice).post(`/v1/accounts/${x.id}/lock`)).status).toBe(200);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 3, locked: 3 });
    expect((await api(t.alice).post(`/v1/accounts/${a.id}/release`, { reason: 'done' })).json.locked).toBe(false);
    const moved = await api(t.mia).patch(`/v1/accounts/${b.id}`, { ownerId: 'bob' });
    expect(moved.json).toMatchObject({ ownerId: 'bob', locked: false, prevOwnerId: 'alice' });
    expect((await api(t.alice).delete(`/v1/accounts/${c.id}`)).status).toBe(204);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 0, locked: 0 });
    await expectCountersExact(t.admin, ['alice', 'bob']);
  });
});

describe('pool visibility and the pool list', () => {
  it('every role opens a pool account; reps and managers without email and phone (absent) and a 360 without contacts, until they claim it', async () => {
    const t = newTenant('visible');
    await enroll(t.alice, t.bob, t.mia, t.max);
    const a = await createAccount(t.alice, { email: 'hidden@visible.example.cn', phone: '+86 139 0000 0002', tier: 'B' });
    const contact = await api(t.alice).post('/v1/contacts', { name: '王经理', email: 'wang@visible.example.cn', accountId: a.id });
    expect(contact.status).toBe(201);
    expect((await api(t.alice).post(`/v1/accounts/${a.id}/release`, { reason: 'pool it' })).status).toBe(200);

    for (const who of [t.bob, t.mia, t.max, t.alice]) {
      const got = await api(who).get(`/v1/accounts/${a.id}`);
      expect(got.status, who.user).toBe(200);
      expect('email' in got.json || 'phone' in got.json, `${who.user} sees contact details`).toBe(false);
      const view = await api(who).get(`/v1/accounts/${a.id}/360`);
      expect(view.status).toBe(200);
      expect(view.json.contacts).toEqual([]);
      expect('email' in view.json.account).toBe(false);
      const listed = (await listAll(who, '/v1/pool')).find((x) => x.id === a.id);
      expect(listed && !('email' in listed) && !('phone' in listed), `${who.user}'s pool list`).toBe(true);
    }
    for (const who of [t.admin, t.sam, t.mark]) {
      expect((await api(who).get(`/v1/accounts/${a.id}`)).json.email, who.user).toBe('hidden@visible.example.cn');
      expect((await api(who).get(`/v1/accounts/${a.id}/360`)).json.contacts).toHaveLength(1);
    }
    // Opening is not changing: a rep's PATCH or DELETE of a pool account is a 403.
    expectProblem(sent(await api(t.bob).patch(`/v1/accounts/${a.id}`, { industry: 'x' }), 'patch pool'), 403, 'forbidden');
    expectProblem(sent(await api(t.bob).delete(`/v1/accounts/${a.id}`), 'delete pool'), 403, 'forbidden');

    const claimed = await api(t.bob).post(`/v1/pool/${a.id}/claim`);
    expect(claimed.json).toMatchObject({ email: 'hidden@visible.example.cn', phone: '+86 139 0000 0002' });
    expect((await api(t.bob).get(`/v1/accounts/${a.id}/360`)).json.contacts).toHaveLength(1);
    expectProblem(sent(await api(t.alice).get(`/v1/accounts/${a.id}`), 'alice after bob claimed'), 404, 'not_found');
  });

  it('GET /v1/pool lists pool accounts longest in the pool first, walks its cursor, filters by tier and prevOwnerId', async () => {
    const t = newTenant('list');
    await enroll(t.alice, t.bob);
    const released: string[] = [];
    for (let i = 0; i < 7; i++) released.push((await poolAccount(i % 2 ? t.alice : t.bob, { tier: i % 3 === 0 ? 'A' : 'C' })).id);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiResponse = await call(t.wes, 'GET', `/v1/pool?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status, page.body).toBe(200);
      walked.push(...page.json.items.map((x: { id: string }) => x.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(walked).toEqual(released);
    const tierA = (await listAll(t.alice, '/v1/pool?tier=A')).map((x) => x.id);
    expect(tierA).toEqual(released.filter((_, i) => i % 3 === 0));
    const fromAlice = (await listAll(t.admin, '/v1/pool?prevOwnerId=alice')).map((x) => x.id);
    expect(fromAlice).toEqual(released.filter((_, i) => i % 2 === 1));
    // A claimed account leaves the list; released again, it goes to the end.
    expect((await api(t.wes).post(`/v1/pool/${released[0]}/claim`)).status).toBe(200);
    expect((await api(t.wes).post(`/v1/accounts/${released[0]}/release`, { reason: 'back' })).status).toBe(200);
    expect((await listAll(t.bob, '/v1/pool')).map((x) => x.id)).toEqual([...released.slice(1), released[0]]);
  });
});

describe('counters stay exact on every ownership change', () => {
  it('create, create for another, reassign, claim, assign, release, delete', async () => {
    const t = newTenant('exact');
    await enroll(t.alice, t.bob, t.carol, t.mia);
    const a = await createAccount(t.alice);
    const b = await createAccount(t.alice);
    expect((await api(t.mia).post('/v1/accounts', { name: `for carol ${a.id}`, ownerId: 'carol' })).status).toBe(201);
    expect((await api(t.mia).patch(`/v1/accounts/${a.id}`, { ownerId: 'bob' })).status).toBe(200);
    expect((await api(t.bob).post(`/v1/accounts/${a.id}/release`, { reason: 'r' })).status).toBe(200);
    expect((await api(t.carol).post(`/v1/pool/${a.id}/claim`)).status).toBe(200);
    expect((await api(t.alice).post(`/v1/accounts/${b.id}/release`, { reason: 'r' })).status).toBe(200);
    expect((await api(t.mia).post(`/v1/pool/${b.id}/assign`, { userId: 'bob' })).status).toBe(200);
    expect((await api(t.bob).delete(`/v1/accounts/${b.id}`)).status).toBe(204);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 0, locked: 0 });
    expect(await counters(t.tenant, 'bob')).toEqual({ owned: 0, locked: 0 });
    expect(await counters(t.tenant, 'carol')).toEqual({ owned: 2, locked: 0 });
    await expectCountersExact(t.admin, ['alice', 'bob', 'carol', 'mia']);
  });
});
