/**
 * The `forecast-nightly` job (one snapshot set per tenant per local day, idempotent, resumable),
 * `GET /v1/forecast/snapshots` (a paged series with tamper-proof cursors) and the published
 * backtest `GET /v1/forecast/accuracy`; the analytics consumer retried after a partial failure;
 * tenant isolation of the reports.
 */
import { describe, expect, it } from 'vitest';
import { applySubject } from '#domain/analytics/aggregates.ts';
import { paymentFacts } from '#domain/analytics/facts.ts';
import { addMonths, quarterOf } from '#domain/analytics/periods.ts';
import { InjectedFailure, runForecastNightly } from '#domain/analytics/snapshots.ts';
import { toMinor } from '#domain/sales/money.ts';
import { call } from '#test/support/api.ts';
import { api, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { updateOpportunity } from '#domain/sales/opportunities.ts';
import { account, asOf, deliver, enroll, historyOf, monthOfIso, opportunity, people, stagesOf, takePending, get } from '#test/analytics/support.ts';

async function runJob(admin: Caller, now: string) {
  const res = await call(admin, 'POST', '/_local/jobs/forecast-nightly', { now });
  expect(res.status, res.body).toBe(200);
  return res.json as { job: string; processed: number; tenants: number; snapshots: number };
}

/** Shanghai midnight + 30 minutes of a local date, as UTC. */
const earlyOn = (date: string) => new Date(Date.parse(`${date}T00:30:00+08:00`)).toISOString();

describe('forecast-nightly', () => {
  it('one snapshot per scope and period per local day; a second run does nothing; killed halfway, a rerun completes it exactly', async () => {
    const p = people('nightly');
    await enroll(p.root, p.mia, p.alice, p.bob, p.carol);
    const period = monthOfIso(new Date().toISOString());
    await opportunity(p.alice, await account(p.alice), { amount: 8000, expectedCloseDate: `${period}-20`, forecastCategory: 'commit' });
    await deliver();

    // Scopes: the tenant, teams east and west, users root, mia, alice, bob, carol; periods: this
    // month, next month, this quarter.
    const day = `${period}-03`;
    const scopes = 1 + 2 + 5;
    const first = await runJob(p.root, earlyOn(day));
    expect(first).toMatchObject({ job: 'forecast-nightly', processed: scopes * 3, snapshots: scopes * 3, tenants: 1 });
    const again = await runJob(p.root, earlyOn(day));
    expect(again).toMatchObject({ processed: 0, snapshots: 0, tenants: 0 });

    const series = await get(p.root, `/v1/forecast/snapshots?period=${period}`);
    expect(series).toEqual({
      items: [{ date: day, closedWon: 0, commit: 8000, bestCase: 0, pipeline: 0, weighted: 800, predicted: 800 }],
      nextCursor: null,
    });
    expect((await get(p.alice, `/v1/forecast/snapshots?period=${period}`)).items[0].commit, "alice's own").toBe(8000);
    expect((await get(p.alice, `/v1/forecast/snapshots?period=${addMonths(period, 1)}`)).items[0].commit, 'nothing next month').toBe(0);
    expect((await get(p.mia, `/v1/forecast/snapshots?period=${quarterOf(period)}&userId=bob`)).items).toHaveLength(1);
    expect((await get(p.root, `/v1/forecast/snapshots?period=${period}&teamId=west`)).items[0].commit).toBe(0);

    // The next day, killed after 5 snapshots: the rerun writes exactly the rest.
    const next = `${period}-04`;
    await expect(runForecastNightly({ now: new Date(earlyOn(next)), failAfter: 5 })).rejects.toBeInstanceOf(InjectedFailure);
    const rerun = await runJob(p.root, earlyOn(next));
    // The killed run wrote at least 5 (its writes go 8 at a time); the rerun, the rest.
    expect(rerun.snapshots).toBeGreaterThan(0);
    expect(rerun.snapshots).toBeLessThanOrEqual(scopes * 3 - 5);
    expect((await runJob(p.root, earlyOn(next))).processed).toBe(0);
    for (const scope of ['', '&teamId=east', '&userId=alice', '&userId=carol']) {
      for (const x of [period, addMonths(period, 1), quarterOf(period)]) {
        const items = await listAll(p.root, `/v1/forecast/snapshots?period=${x}${scope}`);
        expect(items.map((i: { date: string }) => i.date), `${x}${scope}`).toEqual([day, next]);
      }
    }

    // Paging with tamper-proof cursors.
    const page = await get(p.root, `/v1/forecast/snapshots?period=${period}&limit=1`);
    expect(page.items).toHaveLength(1);
    const rest = await get(p.root, `/v1/forecast/snapshots?period=${period}&limit=1&cursor=${encodeURIComponent(page.nextCursor)}`);
    expect(rest.items[0].date).toBe(next);
    expectProblem(await api(p.root).get(`/v1/forecast/snapshots?period=${addMonths(period, 1)}&limit=1&cursor=${encodeURIComponent(page.nextCursor)}`), 400, 'invalid_cursor');
    expectProblem(await api(p.mia).get(`/v1/forecast/snapshots?period=${period}&limit=1&cursor=${encodeURIComponent(page.nextCursor)}`), 400, 'invalid_cursor');
    expectProblem(await api(p.root).get(`/v1/forecast/snapshots?period=${period}&cursor=x${encodeURIComponent(page.nextCursor)}`), 400, 'invalid_cursor');
    expectProblem(await api(p.root).get('/v1/forecast/snapshots?period=2026-13'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/forecast/snapshots?limit=0'), 400, 'validation_failed');
    expectProblem(await api(p.sam).get('/v1/forecast/snapshots'), 403, 'forbidden');
    expectProblem(await api(p.alice).get('/v1/forecast/snapshots?userId=bob'), 404, 'not_found');
  });

  it('the published backtest: the latest snapshot on or before each closed month\'s first day, against what was won', async () => {
    const p = people('accuracy');
    await enroll(p.root, p.alice);
    const s = stagesOf(p.tenant);
    const a = await account(p.alice);
    const current = monthOfIso(new Date().toISOString());
    const m = addMonths(current, -2);
    const before = addMonths(m, -1);
    // Two 方案报价 deals closing in month m, opened the month before.
    const [x] = await Promise.all([
      historyOf(p.alice, a, 1000, [{ at: `${before}-10T02:00:00.000Z`, stageId: s[2]! }], `${m}-15`),
      historyOf(p.alice, a, 3000, [{ at: `${before}-10T02:00:00.000Z`, stageId: s[2]! }], `${m}-20`),
    ]);
    await deliver();
    // Snapshots of the 20th of the month before and of the 1st (the latest on or before the 1st counts).
    await runJob(p.root, earlyOn(`${before}-20`));
    await runJob(p.root, earlyOn(`${m}-01`));
    // One of them is won in month m.
    await updateOpportunity(asOf(p.alice, `${m}-10T02:00:00.000Z`), x, { stageId: s[4]! }, undefined);
    await deliver();

    const acc = await get(p.root, '/v1/forecast/accuracy?periods=2');
    // Month m, from the snapshot of its 1st: weighted (1000 + 3000) × 50 %; no history, so
    // predicted = weighted. The month after (a snapshot of it was also taken on m's 1st, as
    // "next month"): nothing expected, nothing won, so no error to count.
    const next = addMonths(m, 1);
    expect(acc).toEqual({
      items: [
        { period: m, predictedAtStart: 2000, weightedAtStart: 2000, actual: 1000, error: 1, weightedError: 1 },
        { period: next, predictedAtStart: 0, weightedAtStart: 0, actual: 0, error: null, weightedError: null },
      ],
      nextCursor: null,
      mape: 1,
      weightedMape: 1,
    });
    expect((await get(p.alice, '/v1/forecast/accuracy?periods=2')).items).toHaveLength(2);
    expect((await get(p.root, '/v1/forecast/accuracy?periods=1')).items.map((i: { period: string }) => i.period)).toEqual([next]);
    expect((await get(p.root, '/v1/forecast/accuracy')).items.map((i: { period: string }) => i.period), 'the default 6: only months with a snapshot').toEqual([m, next]);
    expectProblem(await api(p.root).get('/v1/forecast/accuracy?periods=0'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/forecast/accuracy?periods=25'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/forecast/accuracy?periods=x'), 400, 'validation_failed');
    expectProblem(await api(p.max).get('/v1/forecast/accuracy'), 403, 'forbidden');
  });
});

describe('the analytics consumer', () => {
  it('retried after failing halfway, counts nothing twice', async () => {
    const p = people('retry');
    await enroll(p.root, p.alice);
    const period = monthOfIso(new Date().toISOString());
    const order = await api(p.alice).post('/v1/orders', { accountId: await account(p.alice), amount: 900, signedAt: `${period}-15T04:00:00.000Z` });
    await deliver();
    expect((await api(p.alice).post(`/v1/orders/${order.json.id}/payments`, { amount: 400, receivedAt: `${period}-16T04:00:00.000Z` })).status).toBe(201);
    // The first attempt got as far as the payment's own figures, then died before the order's.
    const [event] = (await takePending()).filter((e) => e.type === 'payment.received');
    const data = event!.data as { id: string; amount: number; receivedAt: string; currency: string; ownerId: string; ownerTeamId: string | null };
    await applySubject(p.tenant, { kind: 'payment', id: data.id }, 1, paymentFacts({ ...data, amountMinor: toMinor(data.amount)! }, 'Asia/Shanghai'));
    // The retry (the DLQ redrive, or the bus again) applies the whole event.
    const { handler } = await import('#functions/events/analytics.ts');
    await handler({ detail: event });
    await handler({ detail: event });
    const d = await get(p.root, `/v1/dashboard?period=${period}`);
    expect(d.collected).toEqual({ count: 1, amount: 400 });
    expect(d.outstanding).toEqual({ amount: 500 });
  });
});

describe('tenant isolation of the reports', () => {
  it("another tenant's people, teams and figures are nowhere in a tenant's reports", async () => {
    const a = people('iso-a');
    const b = people('iso-b');
    await enroll(a.root, a.alice, b.root, b.alice);
    const period = monthOfIso(new Date().toISOString());
    await opportunity(a.alice, await account(a.alice), { amount: 5000, expectedCloseDate: `${period}-20` });
    await deliver();
    await runJob(a.root, earlyOn(`${period}-02`));
    expect((await get(a.root, `/v1/dashboard?period=${period}`)).pipeline.amount).toBe(5000);
    const bd = await get(b.root, `/v1/dashboard?period=${period}`);
    expect(bd).toMatchObject({ pipeline: { count: 0, amount: 0 }, members: [] });
    // Naming tenant A's user or team from tenant B: that user's figures in B, which are none.
    expect((await get(b.root, `/v1/dashboard?period=${period}&userId=alice`)).pipeline.count).toBe(0);
    expect((await get(b.root, `/v1/forecast?period=${period}&teamId=east`)).weighted).toBe(0);
    expect((await get(b.root, `/v1/forecast/snapshots?period=${period}`)).items.every((i: { weighted: number }) => i.weighted === 0)).toBe(true);
    expect((await get(b.root, '/v1/reports/funnel')).total).toBe(0);
  });
});
