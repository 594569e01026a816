/** Workflow scenarios: a tenant with a marketer, an admin and reps, events emitted "as of" a moment, delivery to the consumers. */
import { expect } from 'vitest';
import type { Role } from '#domain/identity.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { api, uniq, type Caller } from '#test/support/fixtures.ts';

let n = 0;
const run = Math.random().toString(36).slice(2, 7);

export function people(prefix = 'wf') {
  const tenant = `${prefix}-${run}-${++n}`;
  return {
    tenant,
    root: { tenant, user: 'root', role: 'admin' } as Caller,
    max: { tenant, user: 'max', role: 'marketer' } as Caller,
    alice: { tenant, user: 'alice', role: 'rep', team: 'east' } as Caller,
    bob: { tenant, user: 'bob', role: 'rep', team: 'east' } as Caller,
    sam: { tenant, user: 'sam', role: 'support' } as Caller,
  };
}

/** Every caller's first request: they are in the users directory from then on. */
export async function enroll(...callers: Caller[]) {
  for (const c of callers) expect((await api(c).get('/v1/tasks')).status).toBe(200);
}

/** Delivers every pending event to the consumers; answers the events delivered. */
export async function deliver(): Promise<DomainEvent[]> {
  const seen: DomainEvent[] = [];
  const bus = publisher();
  const report = await deliverPending({
    publish: async (events) => {
      seen.push(...events);
      return bus.publish(events);
    },
  });
  expect(report.failedIds).toEqual([]);
  return seen;
}

/** Takes the pending events out of the outbox WITHOUT any consumer seeing them. */
export async function takePending(): Promise<DomainEvent[]> {
  const taken: DomainEvent[] = [];
  await deliverPending({ publish: async (events) => { taken.push(...events); return { failedIds: [] }; } });
  return taken;
}

/** Records a campaign tracking event (as the campaigns branch's public routes do) at `at`. */
export async function emailEvent(
  tenant: string,
  type: 'email.opened' | 'email.clicked',
  at: string,
  data: { campaignId: string; email: string; contactId?: string; leadId?: string; url?: string },
): Promise<void> {
  const uow = new UnitOfWork({ identity: { tenantId: tenant, userId: 'public', role: 'admin' as Role }, now: new Date(at) });
  const entity = data.contactId ? { type: 'contact', id: data.contactId } : { type: 'lead', id: data.leadId ?? data.email };
  if (type === 'email.clicked') uow.emit('email.clicked', entity, { ...data, url: data.url ?? 'https://example.com/' });
  else uow.emit('email.opened', entity, data);
  await uow.commit(undefined);
}

export async function createWorkflow(who: Caller, body: Record<string, unknown>) {
  const res = await api(who).post('/v1/workflows', { name: uniq('流程'), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; version: number; enabledSince: string | null };
}

export async function runsOf(who: Caller, workflowId: string) {
  const res = await api(who).get(`/v1/workflows/${workflowId}/runs?limit=100`);
  expect(res.status, res.body).toBe(200);
  return res.json.items as { id: string; status: string; subjectType: string; subjectId: string; eventId: string; runAt: string; doneAt: string | null; error?: string; skippedActions?: { action: number; type: string; reason: string }[] }[];
}

export async function notificationsOf(who: Caller) {
  const res = await api(who).get('/v1/notifications?limit=100');
  expect(res.status, res.body).toBe(200);
  return (res.json.items as { kind: string; message: string; entityId?: string }[]).filter((x) => x.kind === 'workflow.alert');
}

export async function tasksOf(who: Caller) {
  const res = await api(who).get('/v1/tasks?assigneeId=me&limit=100');
  expect(res.status, res.body).toBe(200);
  return res.json.items as { id: string; title: string; dueAt: string; contactId?: string; opportunityId?: string }[];
}

export async function lead(owner: Caller, body: Record<string, unknown> = {}) {
  const res = await api(owner).post('/v1/leads', { name: uniq('线索'), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; tags: string[]; status: string };
}

export async function contact(owner: Caller, body: Record<string, unknown> = {}) {
  const res = await api(owner).post('/v1/contacts', { name: uniq('联系人'), ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; tags: string[] };
}

export const plus = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();
export const DAY = 24 * 60 * 60 * 1000;
