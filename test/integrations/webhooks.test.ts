/**
 * Outbound webhooks (api/integrations.md) over HTTP and through the `webhooks` consumer, against
 * a real local receiver: CRUD, roles, the event-types list, signed deliveries (checked with the
 * `standardwebhooks` package, two signatures after a rotation), one delivery per event however
 * often it arrives, 410 disabling, a slow receiver not delaying another, the deliveries list.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { configureEgress, resetEgress } from '#domain/integrations/egress-policy.ts';
import { fanOutEvent } from '#domain/integrations/webhook-deliveries.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { eventCatalog, type EventType } from '#events/catalog.ts';
import { api, expectFieldError, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { domainEvent } from '#test/integrations/webhook-support.ts';
import { ok, startReceiver, status, type Receiver } from '#test/integrations/receiver.ts';

/** Each test is an admin of a tenant of its own: webhooks of `*` of one test never see another's events. */
let T: string;
let root: Caller;
let tenants = 0;
const other: Caller = { tenant: 'hooks-other', user: 'root', role: 'admin' };
const nonAdmins = (): Caller[] => [
  { tenant: T, user: 'mia', role: 'manager', team: 'east' },
  { tenant: T, user: 'alice', role: 'rep', team: 'east' },
  { tenant: T, user: 'sam', role: 'support' },
  { tenant: T, user: 'mark', role: 'marketer' },
];

let rx: Receiver;
let n = 0;
/** A fresh path on the receiver, so tests never see each other's requests. */
const path = (name: string) => `/${name}-${++n}`;

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  resetEgress();
  await rx.close();
});
beforeEach(() => {
  T = `hooks-${++tenants}`;
  root = { tenant: T, user: 'root', role: 'admin' };
  resetEgress();
  configureEgress({ timeoutMs: 2_000 });
});

async function createHook(caller: Caller, body: Record<string, unknown>) {
  const res = await api(caller).post('/v1/webhooks', body);
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; secret: string; url: string; events: string[]; enabled: boolean; version: number };
}

const deliveries = (caller: Caller, id: string, query = '') => listAll(caller, `/v1/webhooks/${id}/deliveries${query}`);

describe('webhooks: the resource', () => {
  it('create → 201 with the secret shown once; GET, list, PATCH, DELETE; Location', async () => {
    const url = rx.url(path('crud'));
    const res = await api(root).post('/v1/webhooks', { url, events: ['account.created', 'lead.created'], description: '  ERP 同步 ' });
    expect(res.status, res.body).toBe(201);
    expect(res.json).toMatchObject({ url, events: ['account.created', 'lead.created'], description: 'ERP 同步', enabled: true, version: 1 });
    expect(res.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(res.json.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(res.headers.location).toBe(`/v1/webhooks/${res.json.id}`);

    const got = await api(root).get(res.headers.location!);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    const { secret: _secret, ...withoutSecret } = res.json;
    expect(got.json).toEqual(withoutSecret);
    expect((await listAll(root, '/v1/webhooks')).map((w) => w.id)).toContain(res.json.id);
    expect((await listAll(root, '/v1/webhooks')).every((w) => !('secret' in w))).toBe(true);

    const patched = await api(root).patch(res.headers.location!, { events: ['*'], enabled: false }, { headers: { 'if-match': '"1"' } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json).toMatchObject({ events: ['*'], enabled: false, version: 2 });
    expect('secret' in patched.json).toBe(false);
    expectProblem(await api(root).patch(res.headers.location!, { enabled: true }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');

    expectProblem(await api(other).get(res.headers.location!), 404, 'not_found');
    expect(await listAll(other, '/v1/webhooks')).toEqual([]);
    expect((await api(root).delete(res.headers.location!)).status).toBe(204);
    expectProblem(await api(root).get(res.headers.location!), 404, 'not_found');
  });

  it('admins only: every other role 403, reads included', async () => {
    const hook = await createHook(root, { url: rx.url(path('roles')), events: ['*'] });
    for (const c of nonAdmins()) {
      expectProblem(await api(c).post('/v1/webhooks', { url: rx.url('/x'), events: ['*'] }), 403, 'forbidden');
      expectProblem(await api(c).get('/v1/webhooks'), 403, 'forbidden');
      expectProblem(await api(c).get('/v1/webhooks/event-types'), 403, 'forbidden');
      expectProblem(await api(c).get(`/v1/webhooks/${hook.id}`), 403, 'forbidden');
      expectProblem(await api(c).post(`/v1/webhooks/${hook.id}/rotate-secret`), 403, 'forbidden');
      expectProblem(await api(c).get(`/v1/webhooks/${hook.id}/deliveries`), 403, 'forbidden');
    }
  });

  it('GET /v1/webhooks/event-types: every catalog type with its version and a description, paged', async () => {
    const items = await listAll<{ type: string; version: number; description: string }>(root, '/v1/webhooks/event-types');
    expect(items.map((i) => i.type).sort()).toEqual(Object.keys(eventCatalog()).sort());
    for (const i of items) {
      expect(i.version).toBe(eventCatalog()[i.type as EventType].version);
      expect(i.description.length).toBeGreaterThan(10);
    }
    expect(items.map((i) => i.type)).toEqual(expect.arrayContaining(['account.created', 'account.updated', 'opportunity.won', 'lead.created']));
    const first = await api(root).get('/v1/webhooks/event-types?limit=5');
    expect(first.json.items).toHaveLength(5);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    expectProblem(await api(root).get(`/v1/webhooks/event-types?limit=5&cursor=${first.json.nextCursor}x`), 400, 'invalid_cursor');
  });

  it('events: unknown types → 400, "*" alone, duplicates folded; bad bodies → 400', async () => {
    expectFieldError(await api(root).post('/v1/webhooks', { url: rx.url('/e'), events: ['account.created', 'account.exploded'] }), 'events');
    expectFieldError(await api(root).post('/v1/webhooks', { url: rx.url('/e'), events: ['*', 'lead.created'] }), 'events');
    expectFieldError(await api(root).post('/v1/webhooks', { url: rx.url('/e'), events: [] }), 'events');
    expectFieldError(await api(root).post('/v1/webhooks', { url: rx.url('/e') }), 'events');
    expectFieldError(await api(root).post('/v1/webhooks', { url: rx.url('/e'), events: ['*'], secret: 'whsec_mine' }), 'secret');
    expectFieldError(await api(root).patch(`/v1/webhooks/${(await createHook(root, { url: rx.url('/e'), events: ['*'] })).id}`, { events: ['nope'] }), 'events');
    const folded = await createHook(root, { url: rx.url('/e'), events: ['lead.created', 'lead.created'] });
    expect(folded.events).toEqual(['lead.created']);
  });
});

describe('webhooks: deliveries', () => {
  it('an event of a subscribed type → one signed POST ({id, type, occurredAt, data}), listed as succeeded', async () => {
    const p = path('signed');
    const hook = await createHook(root, { url: rx.url(p), events: ['account.created'] });
    const created = await api(root).post('/v1/accounts', { name: '星辰科技 webhook' });
    await deliverPending(publisher());

    const [req] = rx.received(p);
    expect(req, 'the receiver got the delivery').toBeDefined();
    expect(req!.headers['content-type']).toBe('application/json');
    const body = new Webhook(hook.secret).verify(req!.body, req!.headers) as { id: string; type: string; occurredAt: string; data: { id: string; name: string } };
    expect(body).toMatchObject({ type: 'account.created', data: { id: created.json.id, name: '星辰科技 webhook' } });
    expect(req!.headers['webhook-id']).toBe(body.id);
    expect(Object.keys(body).sort()).toEqual(['data', 'id', 'occurredAt', 'type']);

    const [d] = await deliveries(root, hook.id);
    expect(d).toMatchObject({ id: body.id, eventId: body.id, eventType: 'account.created', status: 'succeeded', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(d.lastAttemptAt).toEqual(expect.any(String));
  });

  it('only subscribed, enabled webhooks of the tenant; "*" takes every type', async () => {
    const [pLead, pAll, pOff] = [path('lead'), path('all'), path('off')];
    await createHook(root, { url: rx.url(pLead), events: ['lead.created'] });
    await createHook(root, { url: rx.url(pAll), events: ['*'] });
    await createHook(root, { url: rx.url(pOff), events: ['*'], enabled: false });
    await createHook(other, { url: rx.url(pOff), events: ['*'] }); // another tenant's
    await fanOutEvent(domainEvent(T, 'account.created'));
    await fanOutEvent(domainEvent(T, 'lead.created'));
    expect(rx.received(pLead).map((r) => JSON.parse(r.body).type)).toEqual(['lead.created']);
    expect(rx.received(pAll).map((r) => JSON.parse(r.body).type)).toEqual(['account.created', 'lead.created']);
    expect(rx.received(pOff)).toEqual([]);
  });

  it('the same event twice (at-least-once bus) → one delivery, one POST', async () => {
    const p = path('once');
    const hook = await createHook(root, { url: rx.url(p), events: ['*'] });
    const event = domainEvent(T, 'account.created');
    const [a, b] = await Promise.all([fanOutEvent(event), fanOutEvent(event)]);
    expect(a.attempted + b.attempted).toBe(1);
    await fanOutEvent(event);
    expect(rx.received(p)).toHaveLength(1);
    expect(await deliveries(root, hook.id)).toHaveLength(1);
  });

  it('after rotate-secret, deliveries carry two signatures: the old secret and the new one both verify', async () => {
    const p = path('rotate');
    const hook = await createHook(root, { url: rx.url(p), events: ['*'] });
    const rotated = await api(root).post(`/v1/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status, rotated.body).toBe(200);
    expect(rotated.json).toMatchObject({ id: hook.id, version: 2 });
    expect(rotated.json.secret).not.toBe(hook.secret);
    expect((await api(root).get(`/v1/webhooks/${hook.id}`)).json.secret).toBeUndefined();

    await fanOutEvent(domainEvent(T, 'contact.created'));
    const [req] = rx.received(p);
    expect(req!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(hook.secret).verify(req!.body, req!.headers)).toMatchObject({ type: 'contact.created' });
    expect(new Webhook(rotated.json.secret).verify(req!.body, req!.headers)).toMatchObject({ type: 'contact.created' });
  });

  it('410 Gone → the webhook is disabled and the delivery failed at once', async () => {
    const p = path('gone');
    rx.set(p, status(410));
    const hook = await createHook(root, { url: rx.url(p), events: ['*'] });
    await fanOutEvent(domainEvent(T, 'account.created'));
    const [d] = await deliveries(root, hook.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: 410, lastError: 'gone', nextAttemptAt: null });
    expect((await api(root).get(`/v1/webhooks/${hook.id}`)).json).toMatchObject({ enabled: false, version: 2 });
    await fanOutEvent(domainEvent(T, 'account.created'));
    expect(rx.received(p)).toHaveLength(1);
    expectProblem(await api(root).post(`/v1/webhooks/${hook.id}/deliveries/${d.id}/retry`), 409, 'webhook_disabled');
  });

  it('a receiver that holds its answer does not delay another subscription: the other is sent meanwhile', async () => {
    const [pSlow, pFast] = [path('held'), path('fast')];
    rx.set(pSlow, { kind: 'held' });
    await createHook(root, { url: rx.url(pSlow), events: ['task.created'] });
    await createHook(root, { url: rx.url(pFast), events: ['task.created'] });
    let slowAnswered = false;
    const run = fanOutEvent(domainEvent(T, 'task.created'));
    await rx.arrival(pSlow);
    // The held receiver has not answered, yet the other delivery has arrived.
    await rx.arrival(pFast);
    expect(slowAnswered).toBe(false);
    slowAnswered = true;
    rx.release(pSlow);
    const report = await run;
    expect(Object.values(report.outcomes)).toEqual(['succeeded', 'succeeded']);
  });

  it('GET …/deliveries: newest first, ?status= filter, paged; unknown status → 400', async () => {
    const [pOk] = [path('list')];
    const hook = await createHook(root, { url: rx.url(pOk), events: ['*'] });
    const events = [domainEvent(T, 'lead.created'), domainEvent(T, 'lead.updated'), domainEvent(T, 'lead.deleted')];
    await fanOutEvent(events[0]!);
    rx.set(pOk, status(500));
    await fanOutEvent(events[1]!);
    rx.set(pOk, ok);
    await fanOutEvent(events[2]!);
    const all = await deliveries(root, hook.id);
    expect(all.map((d) => d.eventId)).toEqual(events.map((e) => e.id).reverse());
    expect((await deliveries(root, hook.id, '?status=pending')).map((d) => d.eventId)).toEqual([events[1]!.id]);
    expect((await deliveries(root, hook.id, '?status=succeeded')).map((d) => d.eventId)).toEqual([events[2]!.id, events[0]!.id]);
    expect(await deliveries(root, hook.id, '?status=failed')).toEqual([]);
    const page = await api(root).get(`/v1/webhooks/${hook.id}/deliveries?limit=1`);
    expect(page.json.items).toHaveLength(1);
    expect(page.json.nextCursor).toEqual(expect.any(String));
    expectFieldError(await api(root).get(`/v1/webhooks/${hook.id}/deliveries?status=lost`), 'status');
    expectProblem(await api(other).get(`/v1/webhooks/${hook.id}/deliveries`), 404, 'not_found');
  });
});
