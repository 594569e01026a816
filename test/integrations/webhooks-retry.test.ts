/**
 * Webhook retries (api/integrations.md "Delivery", "Success"): a receiver that answers 500, hangs
 * (times out), resets the connection or answers only after the deadline is retried on the
 * schedule by the `webhook-retry` job (run with an injected `now`, also through
 * `POST /_local/jobs/webhook-retry`), never holding up other deliveries; 72 h → failed after 12
 * attempts; a manual retry; two job runs at once send one attempt once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configureEgress, resetEgress } from '#domain/integrations/egress-policy.ts';
import { fanOutEvent, LATER_DELAY_MS, nextAttemptAt, RETRY_DELAYS_MS, runWebhookRetry } from '#domain/integrations/webhook-deliveries.ts';
import { api, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { domainEvent } from '#test/integrations/webhook-support.ts';
import { ok, startReceiver, status, type Behaviour, type Receiver } from '#test/integrations/receiver.ts';

/** Each test is an admin of a tenant of its own (webhooks of `*` of one test never see another's events). */
let root: Caller;
let tenants = 0;
const HOUR = 3600_000;
let rx: Receiver;
let n = 0;
const path = (name: string) => `/${name}-${++n}`;
/** Each test's clock starts a year after the previous one's: earlier tests' deliveries are long settled by then. */
let year = 2030;

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  resetEgress();
  await rx.close();
});
beforeEach(() => {
  root = { tenant: `retry-${++tenants}`, user: 'root', role: 'admin' };
  resetEgress();
  configureEgress({ timeoutMs: 300 });
});

async function hookAt(p: string, events = ['*']) {
  const res = await api(root).post('/v1/webhooks', { url: rx.url(p), events });
  expect(res.status, res.body).toBe(201);
  return res.json.id as string;
}

async function delivery(hookId: string): Promise<any> {
  const [d, ...more] = await listAll(root, `/v1/webhooks/${hookId}/deliveries`);
  expect(more).toEqual([]);
  return d;
}

/** Runs every due attempt until nothing is left to do at `now`, draining earlier tests' leftovers too. */
const job = (now: Date | string) => runWebhookRetry({ now: new Date(now), random: () => 0.5 });

describe('the retry schedule', () => {
  it('nextAttemptAt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 12 h ± 10 %, never past 72 h; the 12th failure ends it', () => {
    const start = new Date('2030-01-01T00:00:00Z');
    let at = start;
    const gaps: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const next = nextAttemptAt(at, start, attempt, () => 0.5);
      if (!next) {
        expect(attempt).toBe(12);
        break;
      }
      gaps.push(next.getTime() - at.getTime());
      at = next;
    }
    expect(gaps.slice(0, 6)).toEqual(RETRY_DELAYS_MS);
    expect(gaps.slice(6, 10)).toEqual([LATER_DELAY_MS, LATER_DELAY_MS, LATER_DELAY_MS, LATER_DELAY_MS]);
    expect(at.getTime() - start.getTime()).toBe(72 * HOUR);
    // Jitter moves the 12-hourly ones by at most 10 %; a failure at or after 72 h ends it whatever the count.
    expect(nextAttemptAt(start, start, 7, () => 0)!.getTime() - start.getTime()).toBe(0.9 * LATER_DELAY_MS);
    expect(nextAttemptAt(start, start, 7, () => 1)!.getTime() - start.getTime()).toBe(Math.round(1.1 * LATER_DELAY_MS));
    expect(nextAttemptAt(new Date(start.getTime() + 72 * HOUR), start, 3)).toBeNull();
  });
});

describe('failing receivers are retried per schedule', () => {
  const failures: [string, Behaviour, string, number | null][] = [
    ['answers 500', status(500), 'unexpected_status', 500],
    ['hangs (no answer before the deadline)', { kind: 'hang' }, 'timeout', null],
    ['resets the connection', { kind: 'reset' }, 'connection_reset', null],
    ['answers only after the deadline', { kind: 'slow' }, 'timeout', null],
    ['redirects (never followed)', status(302, 'https://example.com/elsewhere'), 'redirect_not_followed', 302],
  ];
  for (const [what, behaviour, error, code] of failures) {
    it(`a receiver that ${what}: pending, retried 5 s later with the same webhook-id; a healthy one beside it is not held up`, async () => {
      const t0 = new Date(`${year++}-01-01T00:00:00Z`);
      const [pBad, pGood] = [path('bad'), path('good')];
      rx.set(pBad, behaviour);
      const bad = await hookAt(pBad);
      const good = await hookAt(pGood);
      const event = domainEvent(root.tenant, 'account.created', t0);
      const report = await fanOutEvent(event, { now: t0 });
      expect(report.outcomes).toEqual({ [bad]: 'pending', [good]: 'succeeded' });
      const d = await delivery(bad);
      expect(d).toMatchObject({ status: 'pending', attempts: 1, lastError: error, lastStatusCode: code, lastAttemptAt: t0.toISOString() });
      expect(d.nextAttemptAt).toBe(new Date(t0.getTime() + 5_000).toISOString());
      expect((await delivery(good)).status).toBe('succeeded');

      // Not due yet: nothing happens; due: attempt 2, signed anew, same webhook-id.
      expect((await job(new Date(t0.getTime() + 4_000))).processed).toBe(0);
      rx.set(pBad, ok);
      const run = await job(d.nextAttemptAt);
      expect(run).toMatchObject({ job: 'webhook-retry', processed: 1, succeeded: 1, failed: 0 });
      const after = await delivery(bad);
      expect(after).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
      const requests = rx.received(pBad);
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([event.id]));
      expect(rx.received(pGood)).toHaveLength(1);
    });
  }

  it('500 for good: 12 attempts on the schedule, then failed at 72 h; driven through POST /_local/jobs/webhook-retry', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    const p = path('always500');
    rx.set(p, status(500));
    const hook = await hookAt(p);
    await fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    const attemptsAt: number[] = [t0.getTime()];
    let last: any;
    for (let round = 0; round < 20; round++) {
      const d = await delivery(hook);
      if (d.status !== 'pending') break;
      const res = await api(root).post('/_local/jobs/webhook-retry', { now: d.nextAttemptAt });
      expect(res.status, res.body).toBe(200);
      expect(res.json).toMatchObject({ job: 'webhook-retry', processed: 1, succeeded: 0 });
      last = res.json;
      attemptsAt.push(Date.parse(d.nextAttemptAt));
    }
    const d = await delivery(hook);
    expect(d).toMatchObject({ status: 'failed', attempts: 12, lastStatusCode: 500, nextAttemptAt: null });
    expect(last.failed).toBe(1);
    expect(attemptsAt).toHaveLength(12);
    expect(rx.received(p)).toHaveLength(12);
    const gaps = attemptsAt.slice(1).map((at, i) => at - attemptsAt[i]!);
    expect(gaps.slice(0, 6)).toEqual(RETRY_DELAYS_MS);
    for (const g of gaps.slice(6, 10)) {
      expect(g).toBeGreaterThanOrEqual(0.9 * LATER_DELAY_MS);
      expect(g).toBeLessThanOrEqual(1.1 * LATER_DELAY_MS);
    }
    expect(attemptsAt.at(-1)! - t0.getTime()).toBeLessThanOrEqual(72 * HOUR);
    expect(await listAll(root, `/v1/webhooks/${hook}/deliveries?status=failed`)).toHaveLength(1);
  });

  it('manual retry: a failed delivery is attempted now and is pending again (a new window); a healthy receiver → succeeded', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    const p = path('manual');
    rx.set(p, status(500));
    const hook = await hookAt(p);
    await fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    // Fail it for good: every attempt due, until the window is over.
    for (let d = await delivery(hook); d.status === 'pending'; d = await delivery(hook)) await job(d.nextAttemptAt);
    const failed = await delivery(hook);
    expect(failed).toMatchObject({ status: 'failed', attempts: 12 });

    const retried = await api(root).post(`/v1/webhooks/${hook}/deliveries/${failed.id}/retry`);
    expect(retried.status, retried.body).toBe(200);
    expect(retried.json).toMatchObject({ id: failed.id, status: 'pending', attempts: 13, lastStatusCode: 500 });
    expect(Date.parse(retried.json.nextAttemptAt) - Date.parse(retried.json.lastAttemptAt)).toBe(5_000);

    rx.set(p, ok);
    const again = await api(root).post(`/v1/webhooks/${hook}/deliveries/${failed.id}/retry`);
    expect(again.json).toMatchObject({ status: 'succeeded', attempts: 14, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(await delivery(hook)).toEqual(again.json);
    expect(rx.received(p)).toHaveLength(14);
    expectProblem(await api(root).post(`/v1/webhooks/${hook}/deliveries/01NOSUCHDELIVERY0000000000/retry`), 404, 'not_found');
  });

  it('in a job run too, a receiver that holds its answer does not hold up another due delivery', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    configureEgress({ timeoutMs: 60_000 });
    const [pHeld, pOther] = [path('job-held'), path('job-other')];
    rx.set(pHeld, status(500));
    rx.set(pOther, status(500));
    await hookAt(pHeld);
    await hookAt(pOther);
    await fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    rx.set(pHeld, { kind: 'held' });
    rx.set(pOther, ok);
    const run = job(new Date(t0.getTime() + 5_000));
    await rx.arrival(pHeld, 2);
    // The held receiver has not answered, yet the other retry has been sent.
    await rx.arrival(pOther, 2);
    rx.release(pHeld);
    expect(await run).toMatchObject({ processed: 2, succeeded: 2 });
  });

  it('two job runs at once send a due attempt once', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    const p = path('race');
    rx.set(p, status(503));
    const hook = await hookAt(p);
    await fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    rx.set(p, ok);
    const due = (await delivery(hook)).nextAttemptAt;
    const runs = await Promise.all([job(due), job(due), job(due)]);
    expect(runs.reduce((s, r) => s + r.succeeded, 0)).toBe(1);
    expect(rx.received(p)).toHaveLength(2);
    expect(await delivery(hook)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a sender whose claim lapsed (still waiting, as if it had died): the job claims the next attempt, and only its outcome is kept', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    const p = path('lapsed');
    rx.set(p, { kind: 'held' });
    configureEgress({ timeoutMs: 60_000 });
    const hook = await hookAt(p);
    const consumer = fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    await rx.arrival(p, 1);
    const d = await delivery(hook);
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    // The claim runs until the deadline plus a margin; the job takes over once it is past.
    expect(Date.parse(d.nextAttemptAt) - t0.getTime()).toBe(60_000 + 60_000);
    const jobRun = job(d.nextAttemptAt);
    await rx.arrival(p, 2);
    rx.release(p);
    expect((await jobRun).succeeded).toBe(1);
    expect((await consumer).outcomes).toEqual({ [hook]: 'superseded' });
    expect(await delivery(hook)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('deliveries of a deleted or disabled webhook fail when due, without a request', async () => {
    const t0 = new Date(`${year++}-01-01T00:00:00Z`);
    const [pDel, pOff] = [path('deleted'), path('disabled')];
    rx.set(pDel, status(500));
    rx.set(pOff, status(500));
    const del = await hookAt(pDel);
    const off = await hookAt(pOff);
    await fanOutEvent(domainEvent(root.tenant, 'lead.created', t0), { now: t0 });
    const due = (await delivery(off)).nextAttemptAt;
    expect((await api(root).patch(`/v1/webhooks/${off}`, { enabled: false })).status).toBe(200);
    const offDelivery = (await delivery(off)).id;
    expect((await api(root).delete(`/v1/webhooks/${del}`)).status).toBe(204);
    const run = await job(due);
    expect(run).toMatchObject({ processed: 2, failed: 2, succeeded: 0 });
    expect(await delivery(off)).toMatchObject({ id: offDelivery, status: 'failed', attempts: 1, lastError: 'webhook_disabled' });
    expect(rx.received(pDel)).toHaveLength(1);
    expect(rx.received(pOff)).toHaveLength(1);
  });
});
