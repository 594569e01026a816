/** Helpers for the pool tests: a fresh tenant per test, its people, rules, counters, pool accounts, job runs. */
import { expect } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { claimCounterKey, repCounterKey } from '#domain/pool/keys.ts';
import { call } from '#test/support/api.ts';
import { api, expectProblem, listAll, type Caller, type Sent } from '#test/support/fixtures.ts';

let n = 0;
const run = Math.random().toString(36).slice(2, 7);

/** A tenant of its own, with an admin, a manager and three reps of team east, a rep of team west, support and a marketer. */
export function newTenant(label: string) {
  const tenant = `pool-${label}-${run}-${++n}`.replace(/[^A-Za-z0-9_.@-]/g, '-');
  const who = {
    admin: { tenant, user: 'root', role: 'admin' },
    mia: { tenant, user: 'mia', role: 'manager', team: 'east' },
    alice: { tenant, user: 'alice', role: 'rep', team: 'east' },
    bob: { tenant, user: 'bob', role: 'rep', team: 'east' },
    carol: { tenant, user: 'carol', role: 'rep', team: 'east' },
    wes: { tenant, user: 'wes', role: 'rep', team: 'west' },
    max: { tenant, user: 'max', role: 'manager', team: 'west' },
    sam: { tenant, user: 'sam', role: 'support' },
    mark: { tenant, user: 'mark', role: 'marketer' },
  } satisfies Record<string, Caller>;
  return { tenant, ...who };
}

/** Everyone makes a first request, so the users directory holds them all. */
export async function enroll(...callers: Caller[]): Promise<void> {
  for (const c of callers) expect((await api(c).get('/v1/tasks')).status).toBe(200);
}

let names = 0;
export const uniqueName = (prefix = 'Pool Co') => `${prefix} ${run}${(++names).toString(36)}`;

export async function createAccount(owner: Caller, body: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await api(owner).post('/v1/accounts', { name: uniqueName(), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json;
}

/** An account created by `owner` and released by it into the pool. */
export async function poolAccount(owner: Caller, body: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const a = await createAccount(owner, body);
  const res = await api(owner).post(`/v1/accounts/${a.id}/release`, { reason: 'test fixture' });
  expect(res.status, res.body).toBe(200);
  return res.json;
}

export async function putRules(admin: Caller, rules: Record<string, unknown>): Promise<Sent> {
  const res = await api(admin).put('/v1/pool/rules', rules);
  expect(res.status, res.body).toBe(200);
  return res;
}

/** The rep's counter item, as stored. */
export async function counters(tenant: string, userId: string): Promise<{ owned: number; locked: number }> {
  const out = await db.send(new GetCommand({ TableName: tableName(), Key: repCounterKey(tenant, userId), ConsistentRead: true }));
  return { owned: Number(out.Item?.owned ?? 0), locked: Number(out.Item?.locked ?? 0) };
}

export async function claimsOn(tenant: string, userId: string, day: string): Promise<number> {
  const out = await db.send(new GetCommand({ TableName: tableName(), Key: claimCounterKey(tenant, userId, day), ConsistentRead: true }));
  return Number(out.Item?.claims ?? 0);
}

/** The counters must equal what the lists say each user owns and has locked. */
export async function expectCountersExact(admin: Caller, users: string[]): Promise<void> {
  for (const user of users) {
    const owned = await listAll(admin, `/v1/accounts?ownerId=${user}`);
    const c = await counters(admin.tenant, user);
    expect(c.owned, `${user}: owned counter vs accounts listed`).toBe(owned.length);
    expect(c.locked, `${user}: locked counter vs locked accounts listed`).toBe(owned.filter((a) => a.locked).length);
  }
}

/** `POST /_local/jobs/<job> {"now"}` as an admin, as the local scheduler would run it. */
export async function runJob(admin: Caller, job: 'pool-release' | 'task-reminders', now: Date | string): Promise<Record<string, any>> {
  const res = await call(admin, 'POST', `/_local/jobs/${job}`, { now: typeof now === 'string' ? now : now.toISOString() });
  expect(res.status, res.body).toBe(200);
  expect(res.json.job).toBe(job);
  return res.json;
}

export const DAY = 86_400_000;
export const plus = (iso: string, days: number) => new Date(Date.parse(iso) + days * DAY).toISOString();

/** Every notification of a user, newest first. */
export async function notificationsOf(caller: Caller, query = ''): Promise<Record<string, any>[]> {
  return listAll(caller, `/v1/notifications${query ? `?${query}` : ''}`);
}

/** Every item of a partition of the table (test inspection of what is stored). */
export async function partition(pk: string): Promise<Record<string, unknown>[]> {
  const out = await db.send(new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true }));
  return out.Items ?? [];
}

export { api, expectProblem, type Caller };
