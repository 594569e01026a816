/**
 * The `pool-release` job (API.md §6): releases, reminders, exemptions, rule changes, exactly-once
 * effects when killed and re-run, paging within a time budget, and reads that grow with the
 * accounts due, not with the accounts stored. Run through `POST /_local/jobs/pool-release`
 * (as the local scheduler runs it) and, for fault injection, through the domain function.
 */
import { describe, expect, it } from 'vitest';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { auditKey, entityKey } from '#domain/table/keys.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { schedules } from '#events/schedules.ts';
import { InjectedFailure, runPoolRelease } from '#domain/pool/release-job.ts';
import { nudgePoolClock } from '#domain/pool/writes.ts';
import { jobHandlers } from '#local/registry.ts';
import { startScheduler } from '#local/scheduler.ts';
import { call } from '#test/support/api.ts';
import { listAll } from '#test/support/fixtures.ts';
import {
  api,
  counters,
  createAccount,
  DAY,
  enroll,
  expectCountersExact,
  expectProblem,
  newTenant,
  notificationsOf,
  plus,
  poolAccount,
  putRules,
  runJob,
  type Caller,
} from './support.ts';

const released = (n: Record<string, any>[]) => n.filter((x) => x.kind === 'pool.released');
const reminders = (n: Record<string, any>[]) => n.filter((x) => x.kind === 'pool.reminder');

async function account(admin: Caller, id: string) {
  return (await api(admin).get(`/v1/accounts/${id}`)).json;
}

/** The audit trail of an account (every event the consumers got), after delivering what is pending. */
async function eventsOf(tenant: string, accountId: string): Promise<string[]> {
  await deliverPending(publisher());
  const out = await db.send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': auditKey(tenant, 'account', accountId, 'x').PK },
    }),
  );
  return (out.Items ?? []).map((i) => i.eventType as string);
}

describe('pool-release: the schedule', () => {
  it('is in the one schedule table every 15 minutes, has a job handler, and the local scheduler fires it on quarter hours', async () => {
    const entry = schedules.find((s) => s.name === 'pool-release');
    expect(entry).toMatchObject({ cron: '*/15 * * * *', reservedConcurrency: 1 });
    expect(jobHandlers['pool-release']).toBeDefined();
    const scheduler = startScheduler([entry!], async () => undefined);
    try {
      const next = scheduler.nextRuns()['pool-release']!;
      expect(next.getUTCMinutes() % 15).toBe(0);
      expect(next.getUTCSeconds()).toBe(0);
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    } finally {
      await scheduler.stop();
    }
  });

  it('POST /_local/jobs/pool-release runs it for an admin only', async () => {
    const t = newTenant('jobauth');
    for (const who of [t.alice, t.mia, t.sam]) {
      const res = await call(who, 'POST', '/_local/jobs/pool-release', { now: new Date().toISOString() });
      expect(res.status).toBe(403);
    }
    expect((await call(t.admin, 'POST', '/_local/jobs/pool-release', {})).json).toMatchObject({ job: 'pool-release', complete: true });
  });
});

describe('pool-release: reminders, then the release', () => {
  it('reminds once per reminder day, releases at releaseAt with feed entry, event and notification; a second run at the same now does nothing', async () => {
    const t = newTenant('cycle');
    await enroll(t.alice, t.bob);
    const a = await createAccount(t.alice, { email: 'kept@cycle.example.cn' });
    const at = (days: number) => plus(a.ownerSince, days);

    await runJob(t.admin, 'pool-release', at(26.9));
    expect(reminders(await notificationsOf(t.alice))).toHaveLength(0);
    await runJob(t.admin, 'pool-release', at(27.01));
    expect((await runJob(t.admin, 'pool-release', at(27.01))).processed, 'same now again').toBe(0);
    await runJob(t.admin, 'pool-release', at(28));
    let told = reminders(await notificationsOf(t.alice));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ entityType: 'account', entityId: a.id, data: { daysBefore: 3, releaseAt: a.releaseAt, releaseReason: 'no_follow_up' } });

    await runJob(t.admin, 'pool-release', at(29.5));
    told = reminders(await notificationsOf(t.alice));
    expect(told.map((n) => n.data.daysBefore)).toEqual([1, 3]);
    expect((await account(t.admin, a.id)).poolStatus).toBe('owned');

    const run = await runJob(t.admin, 'pool-release', at(30.001));
    expect(run).toMatchObject({ complete: true });
    expect(run.released).toBeGreaterThanOrEqual(1);
    const after = await account(t.admin, a.id);
    expect(after).toMatchObject({ ownerId: null, poolStatus: 'pool', prevOwnerId: 'alice', ownerSince: null, releaseAt: null, email: 'kept@cycle.example.cn' });
    const feed = (await api(t.admin).get(`/v1/accounts/${a.id}/360`)).json.activities;
    expect(feed[0].subject).toMatch(/no follow-up for 30 days/);
    expect(feed[0].subject).toMatch(/no_follow_up/);
    const gone = released(await notificationsOf(t.alice));
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ entityId: a.id, data: { rule: 'no_follow_up', days: 30 } });
    expect((await eventsOf(t.tenant, a.id)).filter((e) => e === 'account.released')).toHaveLength(1);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 0, locked: 0 });
    expect((await listAll(t.bob, '/v1/pool')).map((x) => x.id)).toContain(a.id);

    const again = await runJob(t.admin, 'pool-release', at(30.001));
    expect(again.processed).toBe(0);
    expect(released(await notificationsOf(t.alice))).toHaveLength(1);
    expect(reminders(await notificationsOf(t.alice))).toHaveLength(2);
  });

  it('a follow-up moves releaseAt at once and starts a new reminder cycle', async () => {
    const t = newTenant('followup');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    const at = (days: number) => plus(a.ownerSince, days);
    await runJob(t.admin, 'pool-release', at(27.5));
    expect(reminders(await notificationsOf(t.alice))).toHaveLength(1);

    const logged = await api(t.alice).post('/v1/activities', { type: 'call', subject: 'still interested', accountId: a.id, occurredAt: at(28) });
    expect(logged.status, logged.body).toBe(201);
    const moved = await account(t.admin, a.id);
    expect(moved.releaseAt).toBe(at(58));
    expect(moved.lastFollowUpAt).toBe(at(28));

    await runJob(t.admin, 'pool-release', at(30.5));
    expect((await account(t.admin, a.id)).ownerId, 'not released at the old releaseAt').toBe('alice');
    await runJob(t.admin, 'pool-release', at(55.5));
    const cycles = reminders(await notificationsOf(t.alice));
    expect(cycles.map((n) => n.data.daysBefore), 'the new cycle reminds again').toEqual([3, 3]);
    expect(cycles[0]!.data.releaseAt).toBe(at(58));
    await runJob(t.admin, 'pool-release', at(58.1));
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
  });

  it('a follow-up that lands between the job’s read and its write wins: the account stays', async () => {
    const t = newTenant('lateFollowUp');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    const now = new Date(Date.parse(plus(a.ownerSince, 31)));
    const report = await runPoolRelease({
      now,
      beforeWrite: async (id) => {
        if (id !== a.id) return;
        const res = await api(t.alice).post('/v1/activities', { type: 'visit', subject: 'just in time', accountId: a.id, occurredAt: now.toISOString() });
        expect(res.status).toBe(201);
      },
    });
    expect(report.skipped).toBeGreaterThanOrEqual(1);
    const after = await account(t.admin, a.id);
    expect(after).toMatchObject({ ownerId: 'alice', poolStatus: 'owned', releaseAt: plus(now.toISOString(), 30) });
    expect(released(await notificationsOf(t.alice))).toEqual([]);
    await runJob(t.admin, 'pool-release', now);
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
  });

  it('not_won releases an account kept alive by follow-ups, naming its rule and day count', async () => {
    const t = newTenant('notwon');
    await enroll(t.alice);
    await putRules(t.admin, { releaseIfNotWonDays: 45 });
    const a = await createAccount(t.alice);
    expect(a).toMatchObject({ releaseReason: 'no_follow_up', releaseAt: plus(a.ownerSince, 30) });
    await api(t.alice).post('/v1/activities', { type: 'call', subject: 'keep going', accountId: a.id, occurredAt: plus(a.ownerSince, 25) });
    expect(await account(t.admin, a.id)).toMatchObject({ releaseReason: 'not_won', releaseAt: plus(a.ownerSince, 45) });
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 44));
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 45.01));
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
    const n = released(await notificationsOf(t.alice));
    expect(n[0]!.data).toEqual({ rule: 'not_won', days: 45 });
    expect((await api(t.admin).get(`/v1/accounts/${a.id}/360`)).json.activities[0].subject).toMatch(/45 days.*not_won/);
  });
});

describe('pool-release: exemptions', () => {
  it('locked accounts and exempt tiers are not released; a rule change or unlock lets the next run release them', async () => {
    const t = newTenant('exempt');
    await enroll(t.alice);
    await putRules(t.admin, { exemptTiers: ['A'] });
    const tierA = await createAccount(t.alice, { tier: 'A' });
    const locked = await createAccount(t.alice, { tier: 'B' });
    const plain = await createAccount(t.alice, { tier: 'B' });
    expect(tierA.releaseAt).toBeNull();
    expect((await api(t.alice).post(`/v1/accounts/${locked.id}/lock`)).json.releaseAt).toBeNull();
    const later = plus(plain.ownerSince, 40);

    const first = await runJob(t.admin, 'pool-release', later);
    expect(first.parked).toBeGreaterThanOrEqual(1);
    expect((await account(t.admin, plain.id)).poolStatus).toBe('pool');
    expect((await account(t.admin, tierA.id)).ownerId).toBe('alice');
    expect((await account(t.admin, locked.id)).ownerId).toBe('alice');
    expect((await runJob(t.admin, 'pool-release', later)).processed, 'parked: not read again').toBe(0);

    await putRules(t.admin, { exemptTiers: [] });
    expect((await account(t.admin, tierA.id)).releaseAt, 'shown at once').toBe(plus(tierA.ownerSince, 30));
    await runJob(t.admin, 'pool-release', later);
    expect((await account(t.admin, tierA.id)).poolStatus, 'released by the next run').toBe('pool');

    expect((await api(t.alice).post(`/v1/accounts/${locked.id}/unlock`)).json.releaseAt).toBe(plus(locked.ownerSince, 30));
    await runJob(t.admin, 'pool-release', later);
    expect((await account(t.admin, locked.id)).poolStatus).toBe('pool');
    expect(reminders(await notificationsOf(t.alice))).toHaveLength(0);
    await expectCountersExact(t.admin, ['alice']);
  });

  it('a tier change out of an exempt tier un-parks the account at once', async () => {
    const t = newTenant('tierchange');
    await enroll(t.alice);
    await putRules(t.admin, { exemptTiers: ['A'] });
    const a = await createAccount(t.alice, { tier: 'A' });
    const later = plus(a.ownerSince, 40);
    expect((await runJob(t.admin, 'pool-release', later)).parked).toBeGreaterThanOrEqual(1);
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    const patched = await api(t.alice).patch(`/v1/accounts/${a.id}`, { tier: 'C' });
    expect(patched.json.releaseAt).toBe(plus(a.ownerSince, 30));
    await runJob(t.admin, 'pool-release', later);
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
  });

  it('an open opportunity exempts the account; when it closes, a nudge lets the next run release it', async () => {
    const t = newTenant('openopp');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    const setOpen = async (count: number, nudge: boolean) => {
      // What the opportunities context does in its own transaction (domain/sales/opportunities.ts).
      const ctx = { identity: { tenantId: t.tenant, userId: 'alice', role: 'rep' as const }, now: new Date() };
      const uow = new UnitOfWork(ctx).update(entityKey(t.tenant, 'ACCOUNT', a.id), {
        expression: 'SET openOpportunityCount = :c, version = version + :one',
        values: { ':c': count, ':one': 1 },
      });
      if (nudge) nudgePoolClock(ctx, uow, a.id);
      await uow.commit(undefined);
    };
    await setOpen(1, false);
    expect((await account(t.admin, a.id)).releaseAt, 'exempt from the response on').toBeNull();
    const later = plus(a.ownerSince, 40);
    expect((await runJob(t.admin, 'pool-release', later)).parked).toBeGreaterThanOrEqual(1);
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    expect((await runJob(t.admin, 'pool-release', later)).processed, 'parked: not read again').toBe(0);
    await setOpen(0, true);
    expect((await account(t.admin, a.id)).releaseAt).toBe(plus(a.ownerSince, 30));
    const run = await runJob(t.admin, 'pool-release', later);
    expect(run.nudged).toBeGreaterThanOrEqual(1);
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
  });
});

describe('pool-release: rule changes', () => {
  it('hold for every account from the next run, without rewriting any account', async () => {
    const t = newTenant('rulechange');
    await enroll(t.alice);
    const accounts = [];
    for (let i = 0; i < 5; i++) accounts.push(await createAccount(t.alice));
    const start = accounts[0]!.ownerSince as string;
    await runJob(t.admin, 'pool-release', plus(start, 12));
    for (const a of accounts) expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    await putRules(t.admin, { releaseAfterDays: 10, remindBeforeDays: [2] });
    for (const a of accounts) {
      const now = await account(t.admin, a.id);
      expect(now.version, 'not rewritten').toBe(a.version);
      expect(now.releaseAt).toBe(plus(a.ownerSince, 10));
    }
    await runJob(t.admin, 'pool-release', plus(start, 12));
    for (const a of accounts) expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
    await expectCountersExact(t.admin, ['alice']);
  });

  it('a longer period moves releases later; reminders follow the new days', async () => {
    const t = newTenant('longer');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    await putRules(t.admin, { releaseAfterDays: 60, remindBeforeDays: [7, 3, 1] });
    const days = async () => reminders(await notificationsOf(t.alice)).map((n) => n.data.daysBefore);
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 31));
    expect(await days()).toEqual([]);
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 53.5));
    expect(await days()).toEqual([7]);
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 57.5));
    expect(await days()).toEqual([3, 7]);
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 59.5));
    expect(await days()).toEqual([1, 3, 7]);
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 60.01));
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
  });
});

describe('pool-release: killed and run again', () => {
  it('releases and notifies nothing twice, whichever item it was killed after', async () => {
    const t = newTenant('killed');
    const u = newTenant('killed-2');
    await enroll(t.alice, t.bob, u.alice);
    const due = [];
    for (let i = 0; i < 4; i++) due.push(await createAccount(i % 2 ? t.alice : t.bob));
    for (let i = 0; i < 3; i++) due.push(await createAccount(u.alice));
    const now = new Date(Date.parse(plus(due.at(-1)!.ownerSince, 31)));

    for (const failAfter of [1, 2]) {
      await expect(runPoolRelease({ now, failAfter, pageSize: 2 })).rejects.toBeInstanceOf(InjectedFailure);
    }
    const rest = await runJob(t.admin, 'pool-release', now);
    expect(rest.complete).toBe(true);
    expect((await runJob(t.admin, 'pool-release', now)).processed).toBe(0);

    for (const [i, a] of due.entries()) {
      const tenant = i >= 4 ? u : t;
      expect((await account(tenant.admin, a.id)).poolStatus).toBe('pool');
      expect((await eventsOf(tenant.tenant, a.id)).filter((e) => e === 'account.released'), a.id).toHaveLength(1);
      const notes = (await api(tenant.admin).get(`/v1/accounts/${a.id}/360`)).json.activities.filter((x: any) => /public pool/.test(x.subject));
      expect(notes, `feed entries of ${a.id}`).toHaveLength(1);
    }
    for (const [who, n] of [[t.alice, 2], [t.bob, 2], [u.alice, 3]] as const) {
      const n1 = released(await notificationsOf(who));
      expect(n1, who.user).toHaveLength(n);
      expect(new Set(n1.map((x) => x.entityId)).size).toBe(n);
    }
    await expectCountersExact(t.admin, ['alice', 'bob']);
    await expectCountersExact(u.admin, ['alice']);
  });

  it('sends each reminder once when killed in the middle of the reminders', async () => {
    const t = newTenant('killedReminders');
    await enroll(t.alice);
    const accounts = [];
    for (let i = 0; i < 5; i++) accounts.push(await createAccount(t.alice));
    const now = new Date(Date.parse(plus(accounts.at(-1)!.ownerSince, 29.5)));
    await expect(runPoolRelease({ now, failAfter: 2, pageSize: 1 })).rejects.toBeInstanceOf(InjectedFailure);
    await runJob(t.admin, 'pool-release', now);
    const sent = reminders(await notificationsOf(t.alice));
    // Both reminder days have come for each of the 5 accounts: 10, each once.
    expect(sent).toHaveLength(10);
    expect(new Set(sent.map((n) => `${n.entityId}/${n.data.daysBefore}`)).size).toBe(10);
    expect((await runJob(t.admin, 'pool-release', now)).processed).toBe(0);
  });
});

describe('pool-release: more than one invocation can do', () => {
  it('stops when its time budget runs low, and the next run resumes where it stopped', async () => {
    const t = newTenant('budget');
    await enroll(t.alice);
    const accounts = [];
    for (let i = 0; i < 12; i++) accounts.push(await createAccount(t.alice));
    const now = new Date(Date.parse(plus(accounts.at(-1)!.ownerSince, 31)));
    const ids = new Set(accounts.map((a) => a.id));
    let seen = 0;
    // Plenty of time until 5 of this tenant's accounts were looked at, then "10 s left".
    const first = await runPoolRelease({
      now,
      pageSize: 2,
      beforeWrite: async (id) => {
        if (ids.has(id)) seen++;
      },
      timeLeftMs: () => (seen >= 5 ? 10_000 : 600_000),
    });
    expect(first.complete).toBe(false);
    const pooled = async () => (await listAll(t.admin, '/v1/pool')).filter((x) => ids.has(x.id)).length;
    const afterFirst = await pooled();
    expect(afterFirst).toBeGreaterThanOrEqual(5);
    expect(afterFirst).toBeLessThan(12);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 12 - afterFirst, locked: 0 });
    const second = await runPoolRelease({ now, pageSize: 2, timeLeftMs: () => 600_000 });
    expect(second.complete).toBe(true);
    expect(await pooled()).toBe(12);
    expect(await counters(t.tenant, 'alice')).toEqual({ owned: 0, locked: 0 });
  });
});

describe('pool-release: reads grow with the accounts due, not with those stored', () => {
  it('reads only the due accounts’ index entries and records', async () => {
    const t = newTenant('reads');
    await enroll(t.alice, t.bob);
    const old = [];
    for (let i = 0; i < 3; i++) old.push(await createAccount(t.alice));
    // The follow-up clock of the others is fresh: 40 of them, none due.
    const now = plus(old.at(-1)!.ownerSince, 31);
    for (let i = 0; i < 40; i++) {
      const a = await createAccount(t.bob);
      const res = await api(t.bob).post('/v1/activities', { type: 'note', subject: 'fresh', accountId: a.id, occurredAt: plus(now, -1) });
      expect(res.status).toBe(201);
    }
    await runJob(t.admin, 'pool-release', plus(now, -2)); // settle anything of other tests
    let itemsRead = 0;
    const counting = (next: any) => async (args: any) => {
      const out: any = await next(args);
      // In the build step the input is in wire form: { S: '...' }.
      const pk = args.input?.ExpressionAttributeValues?.[':pk'];
      if (args.input?.IndexName === 'byDue' && String(pk?.S ?? pk ?? '').startsWith(`DUE#POOL#${t.tenant}#`)) {
        itemsRead += out.output?.Items?.length ?? 0;
      }
      return out;
    };
    db.middlewareStack.add(counting, { step: 'build', name: 'countDueReads' });
    try {
      await runJob(t.admin, 'pool-release', now);
    } finally {
      db.middlewareStack.remove('countDueReads');
    }
    expect(itemsRead, 'due-index items read for this tenant').toBe(3);
    for (const a of old) expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
  });
});

describe('pool-release: refusals and stale state', () => {
  it('a clock left behind (account deleted meanwhile) is repaired, never a 500', async () => {
    const t = newTenant('stale');
    await enroll(t.alice);
    const a = await createAccount(t.alice);
    // An account whose clock is older than it should be (e.g. a follow-up raced a reassignment).
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: entityKey(t.tenant, 'ACCOUNT', a.id),
        UpdateExpression: 'SET lastFollowUpAt = :t, version = version + :one',
        ExpressionAttributeValues: { ':t': plus(a.ownerSince, 20), ':one': 1 },
      }),
    );
    const run = await runJob(t.admin, 'pool-release', plus(a.ownerSince, 31));
    expect(run.repaired).toBeGreaterThanOrEqual(1);
    expect((await account(t.admin, a.id)).ownerId).toBe('alice');
    await runJob(t.admin, 'pool-release', plus(a.ownerSince, 50.1));
    expect((await account(t.admin, a.id)).poolStatus).toBe('pool');
    const pooled = await poolAccount(t.alice);
    expectProblem({ ...(await api(t.alice).post(`/v1/accounts/${pooled.id}/release`, { reason: 'x' })), req: 'release pool' }, 409, 'not_in_pool');
    expect(DAY).toBe(86_400_000);
  });
});
