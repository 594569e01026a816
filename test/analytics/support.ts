/**
 * Analytics scenarios: a tenant with a manager's team and a rep of another team, helpers to
 * deliver the outbox to the consumers, and use cases run "as of" a past moment (the API
 * stamps facts with the real clock; the history a forecast learns from needs other months).
 */
import { expect } from 'vitest';
import type { UseCaseContext } from '#domain/context.ts';
import type { Role } from '#domain/identity.ts';
import { monthOf } from '#domain/analytics/periods.ts';
import { createOpportunity, updateOpportunity } from '#domain/sales/opportunities.ts';
import { defaultStages } from '#domain/sales/pipeline.ts';
import { toMinor, type Minor } from '#domain/sales/money.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { api, uniq, type Caller } from '#test/support/fixtures.ts';

let n = 0;
const run = Math.random().toString(36).slice(2, 7);

export function people(prefix = 'analytics') {
  const tenant = `${prefix}-${run}-${++n}`;
  return {
    tenant,
    root: { tenant, user: 'root', role: 'admin' } as Caller,
    mia: { tenant, user: 'mia', role: 'manager', team: 'east' } as Caller,
    alice: { tenant, user: 'alice', role: 'rep', team: 'east' } as Caller,
    bob: { tenant, user: 'bob', role: 'rep', team: 'east' } as Caller,
    carol: { tenant, user: 'carol', role: 'rep', team: 'west' } as Caller,
    sam: { tenant, user: 'sam', role: 'support' } as Caller,
    max: { tenant, user: 'max', role: 'marketer' } as Caller,
  };
}

/** Every caller's first request: they are in the users directory from then on. */
export async function enroll(...callers: Caller[]) {
  for (const c of callers) expect((await api(c).get('/v1/tasks')).status).toBe(200);
}

export const SHANGHAI = 'Asia/Shanghai';
/** The month an API response's timestamp falls in, in the tenant's (default) time zone. */
export const monthOfIso = (iso: string) => monthOf(iso, SHANGHAI);

/** Delivers every pending event to the consumers. */
export async function deliver(): Promise<void> {
  const report = await deliverPending(publisher());
  expect(report.failedIds).toEqual([]);
}

/** Takes the pending events out of the outbox WITHOUT any consumer seeing them. */
export async function takePending(): Promise<DomainEvent[]> {
  const taken: DomainEvent[] = [];
  await deliverPending({ publish: async (events) => { taken.push(...events); return { failedIds: [] }; } });
  return taken;
}

/** A GET that must answer 200; its JSON. */
export async function get(who: Caller, url: string) {
  const res = await api(who).get(url);
  expect(res.status, res.body).toBe(200);
  return res.json;
}

export async function account(owner: Caller, name = uniq('分析客户')): Promise<string> {
  const res = await api(owner).post('/v1/accounts', { name });
  expect(res.status, res.body).toBe(201);
  return res.json.id;
}

/** The default pipeline's stages of a tenant: s[0..3] open (10, 25, 50, 75), s[4] won, s[5] lost. */
export const stagesOf = (tenant: string) => defaultStages(tenant).map((s) => s.id);

export async function opportunity(owner: Caller, accountId: string, body: Record<string, unknown>) {
  const res = await api(owner).post('/v1/opportunities', { accountId, name: uniq('商机'), expectedCloseDate: '2026-12-31', ...body });
  expect(res.status, res.body).toBe(201);
  return res.json;
}

export async function move(by: Caller, id: string, body: Record<string, unknown>) {
  const res = await api(by).patch(`/v1/opportunities/${id}`, body);
  expect(res.status, res.body).toBe(200);
  return res.json;
}

/** A use-case context for `who` at `at` (the API always uses the real clock). */
export const asOf = (who: Caller, at: string): UseCaseContext => ({
  identity: { tenantId: who.tenant, userId: who.user, role: who.role as Role, ...(who.team ? { teamId: who.team } : {}) },
  now: new Date(at),
});

/** An opportunity created and moved through `path` (stage ids) at the given moments, as its owner. */
export async function historyOf(owner: Caller, accountId: string, amount: number, steps: { at: string; stageId: string; lostReason?: string }[], expectedCloseDate: string) {
  const [first, ...rest] = steps;
  const created = await createOpportunity(asOf(owner, first!.at), {
    accountId, name: uniq('历史'), amount: toMinor(amount) as Minor, expectedCloseDate, stageId: first!.stageId, contactIds: [], competitors: [], currency: 'CNY',
  });
  for (const step of rest) {
    await updateOpportunity(asOf(owner, step.at), created.id, { stageId: step.stageId, ...(step.lostReason ? { lostReason: step.lostReason } : {}) }, undefined);
  }
  return created.id;
}
