/**
 * The funnel (cohorts, "reached" against the pipeline's current order) and the forecast
 * (categories, weighted pipeline, a prediction learnt from the tenant's own history).
 */
import { describe, expect, it } from 'vitest';
import { addMonths, quarterOf } from '#domain/analytics/periods.ts';
import { winProbability } from '#domain/analytics/forecast-model.ts';
import { rebuildAggregates } from '#domain/analytics/rebuild.ts';
import { api, expectProblem, type Caller } from '#test/support/fixtures.ts';
import { account, deliver, enroll, historyOf, monthOfIso, move, opportunity, people, stagesOf, get } from '#test/analytics/support.ts';

describe('GET /v1/reports/funnel', () => {
  it('reached, lostHere, conversions, win rate; a reorder of the stages is reflected at once', async () => {
    const p = people('funnel');
    await enroll(p.root, p.mia, p.alice, p.bob);
    const s = stagesOf(p.tenant);
    const a = await account(p.alice);
    const period = monthOfIso(new Date().toISOString());
    const open = async () => (await opportunity(p.alice, a, { amount: 100 })).id;
    const f1 = await open(); // stays in the first stage
    const f2 = await open();
    for (const stageId of [s[1], s[2]]) await move(p.alice, f2, { stageId });
    await move(p.alice, f2, { stageId: s[5], lostReason: '价格' }); // lost in the third stage
    const f3 = await open();
    await move(p.alice, f3, { stageId: s[3] });
    await move(p.alice, f3, { stageId: s[4] }); // won
    const f4 = await open();
    await move(p.alice, f4, { stageId: s[2] }); // skipped the second stage
    const f5 = await open();
    await move(p.alice, f5, { stageId: s[2] });
    await move(p.alice, f5, { stageId: s[1] }); // went back
    // Bob's, in the same pipeline: outside alice's scope.
    await opportunity(p.bob, await account(p.bob), { amount: 7 });
    await deliver();
    expect(f1).toBeTruthy();

    const mine = await get(p.alice, `/v1/reports/funnel?from=${period}&to=${period}`);
    expect(mine).toEqual({
      pipelineId: expect.any(String),
      from: period,
      to: period,
      total: 5,
      stages: [
        { stageId: s[0], name: '初步接洽', reached: 5, reachedAmount: 500, lostHere: 0, conversionToNext: 0.8 },
        { stageId: s[1], name: '需求确认', reached: 4, reachedAmount: 400, lostHere: 0, conversionToNext: 1 },
        { stageId: s[2], name: '方案报价', reached: 4, reachedAmount: 400, lostHere: 1, conversionToNext: 0.25 },
        { stageId: s[3], name: '谈判审批', reached: 1, reachedAmount: 100, lostHere: 0, conversionToNext: 1 },
      ],
      won: { count: 1, amount: 100 },
      lost: { count: 1, amount: 100 },
      open: { count: 3, amount: 300 },
      winRate: 0.5,
      avgDaysToClose: 0,
    });
    expect((await get(p.root, `/v1/reports/funnel?pipelineId=${mine.pipelineId}`)).total, 'the tenant: bob\'s too; default months: this one').toBe(6);

    // Swap the second and third stages: "reached" follows the current order.
    const pipeline = await get(p.root, `/v1/pipelines/${mine.pipelineId}`);
    const stages = pipeline.stages.map((x: Record<string, unknown>) => ({ id: x.id, name: x.name, probability: x.probability, kind: x.kind }));
    [stages[1], stages[2]] = [stages[2], stages[1]];
    expect((await api(p.root).patch(`/v1/pipelines/${mine.pipelineId}`, { stages })).status).toBe(200);
    const reordered = await get(p.alice, '/v1/reports/funnel');
    expect(reordered.stages.map((x: { stageId: string; reached: number; lostHere: number }) => [x.stageId, x.reached, x.lostHere])).toEqual([
      [s[0], 5, 0],
      [s[2], 4, 0],
      [s[1], 3, 1],
      [s[3], 1, 0],
    ]);

    await rebuildAggregates(p.tenant);
    expect(await get(p.alice, '/v1/reports/funnel')).toEqual(reordered);
  });

  it('validates its parameters', async () => {
    const p = people('funnel');
    await enroll(p.root, p.alice);
    expectProblem(await api(p.root).get('/v1/reports/funnel?from=2026-05&to=2026-04'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/reports/funnel?from=2024-01&to=2026-01'), 400, 'validation_failed');
    expect((await api(p.root).get('/v1/reports/funnel?from=2024-02&to=2026-01')).status, '24 months').toBe(200);
    expectProblem(await api(p.root).get('/v1/reports/funnel?from=2026-1'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/reports/funnel?pipelineId=nope'), 404, 'not_found');
    expectProblem(await api(p.root).get('/v1/reports/funnel?userId=alice&teamId=east'), 400, 'validation_failed');
    expectProblem(await api(p.sam).get('/v1/reports/funnel'), 403, 'forbidden');
  });
});

describe('GET /v1/forecast', () => {
  it('categories, weighted pipeline, and a prediction from the tenant\'s own win rates', async () => {
    const p = people('forecast');
    await enroll(p.root, p.mia, p.alice, p.bob);
    const s = stagesOf(p.tenant);
    const a = await account(p.alice);
    const period = monthOfIso(new Date().toISOString());
    // History, two months ago: 20 opportunities reached 方案报价 (50 %); only 4 were won.
    const past = addMonths(period, -2);
    for (let i = 0; i < 20; i++) {
      const won = i < 4;
      await historyOf(p.alice, a, 10, [
        { at: `${past}-02T02:00:00.000Z`, stageId: s[0]! },
        { at: `${past}-03T02:00:00.000Z`, stageId: s[2]! },
        { at: `${past}-20T02:00:00.000Z`, stageId: won ? s[4]! : s[5]!, ...(won ? {} : { lostReason: '竞争对手' }) },
      ], `${past}-28`);
    }
    // This month: one open 方案报价 deal of 10,000 (commit), one of 4,000 (best case), one omitted.
    const open = await opportunity(p.alice, a, { amount: 10000, expectedCloseDate: `${period}-25`, forecastCategory: 'commit' });
    await move(p.alice, open.id, { stageId: s[2] });
    await opportunity(p.bob, await account(p.bob), { amount: 4000, expectedCloseDate: `${period}-26`, forecastCategory: 'bestCase' });
    await opportunity(p.bob, await account(p.bob), { amount: 5000, expectedCloseDate: `${period}-27`, forecastCategory: 'omitted' });
    const won = await opportunity(p.alice, a, { amount: 700, expectedCloseDate: `${period}-02` });
    await move(p.alice, won.id, { stageId: s[4] });
    expect((await api(p.root).put(`/v1/targets/${period}`, { teamId: 'east', amount: 20000 })).status).toBe(200);
    await deliver();

    const f = await get(p.root, `/v1/forecast?period=${period}`);
    // 方案报价 at age 0: (4 + 10·q) / (20 + 10) with q = 0.5 (no other bucket) = 0.3. 初步接洽 (bob's): the
    // 20, and this month's win that passed through it: (5 + 10·0.1) / (21 + 10).
    const p3 = winProbability({ [s[2]!]: { a0: { n: 20, w: 4 } } }, { stageId: s[2]!, bucket: 'a0', amount: 10000, weighted: 5000, count: 1 });
    expect(p3).toBeCloseTo(0.3, 10);
    const p1 = winProbability({ [s[0]!]: { a0: { n: 21, w: 5 } } }, { stageId: s[0]!, bucket: 'a0', amount: 4000, weighted: 400, count: 1 });
    expect(p1).toBeCloseTo(6 / 31, 10);
    expect(f).toMatchObject({
      period,
      scope: { kind: 'tenant', id: p.tenant },
      closedWon: { count: 1, amount: 700 },
      commit: { count: 1, amount: 10000 },
      bestCase: { count: 1, amount: 4000 },
      pipeline: { count: 0, amount: 0 },
      omitted: { count: 1, amount: 5000 },
      weighted: 5400,
      target: 20000,
    });
    expect(f.predicted.method).toBe('bayes');
    expect(f.predicted.amount).toBeCloseTo(700 + 10000 * p3 + 4000 * p1, 2);
    expect(f.predicted.amount, 'history says 方案报价 wins less than its 50 %').toBeLessThan(700 + 5400);
    expect(f.predicted.low).toBeGreaterThanOrEqual(700);
    expect(f.predicted.low).toBeLessThanOrEqual(f.predicted.amount);
    expect(f.predicted.high).toBeGreaterThanOrEqual(f.predicted.amount);
    expect(f.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['alice', 'bob']);
    expect(f.members.find((m: { userId: string }) => m.userId === 'bob')).toMatchObject({ bestCase: { count: 1, amount: 4000 }, weighted: 400 });

    // The quarter holds the month; the rep sees its own; a team its members.
    const q = await get(p.root, `/v1/forecast?period=${quarterOf(period)}`);
    const historyInQuarter = quarterOf(past) === quarterOf(period);
    expect(q.closedWon).toEqual(historyInQuarter ? { count: 5, amount: 740 } : f.closedWon);
    expect(q.target).toBe(20000);
    const alice = await get(p.alice, '/v1/forecast');
    expect(alice).toMatchObject({ scope: { kind: 'user', id: 'alice' }, closedWon: { count: 1, amount: 700 }, members: [] });
    expect((await get(p.mia, '/v1/forecast')).members).toHaveLength(2);

    await rebuildAggregates(p.tenant);
    expect(await get(p.root, `/v1/forecast?period=${period}`)).toEqual(f);
  });

  it('validates its parameters', async () => {
    const p = people('forecast');
    await enroll(p.root, p.alice);
    expectProblem(await api(p.root).get('/v1/forecast?period=2026-Q5'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/forecast?period=26-01'), 400, 'validation_failed');
    expectProblem(await api(p.root).get('/v1/forecast?teamId=a&userId=b'), 400, 'validation_failed');
    expectProblem(await api(p.alice).get('/v1/forecast?userId=root'), 404, 'not_found');
    expectProblem(await api(p.max).get('/v1/forecast'), 403, 'forbidden');
    expect((await api(p.root).get('/v1/forecast?period=2026-Q4')).json.predicted).toEqual({ amount: 0, low: 0, high: 0, method: 'bayes' });
  });
});
