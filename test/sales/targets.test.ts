/**
 * Targets (目标, API.md §5): who may set whose target, the idempotent PUT, what each role
 * lists, period and body validation, tenant isolation, races. Through HTTP with real tokens.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectFieldError, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { concurrently, eventsOf, expectStatus, rawItem } from '#test/sales/orders-support.ts';
import { targetKey } from '#domain/sales/target.ts';

const T = 'targets';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const eve: Caller = { tenant: T, user: 'eve', role: 'manager', team: 'east' };
const other: Caller = { tenant: 'targets-other', user: 'root', role: 'admin' };

beforeAll(async () => {
  // Everyone's first request puts them in the users directory.
  for (const c of [root, mia, max, alice, bob, wes, sam, mark, eve, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

const put = (who: Caller, period: string, body: unknown, headers?: Record<string, string>) =>
  api(who).put(`/v1/targets/${period}`, body, headers ? { headers } : undefined);
const ids = (items: { userId?: string; teamId?: string }[]) => items.map((x) => x.userId ?? `team:${x.teamId}`).sort();

describe('setting a target', () => {
  it('an admin sets a user target: 200 with the target; stored in minor units; one target.set event', async () => {
    const res = await put(root, '2026-01', { userId: 'alice', amount: 120000.5 });
    expectStatus(res, 200);
    expect(res.json).toMatchObject({ period: '2026-01', userId: 'alice', amount: 120000.5, currency: 'CNY', setBy: 'root', version: 1 });
    expect(res.json.teamId).toBeUndefined();
    expect(res.json.memberOf).toBeUndefined();
    expect(typeof res.json.id).toBe('string');
    expect(res.json.createdAt).toBe(res.json.updatedAt);
    const item = await rawItem(targetKey(T, '2026-01', { userId: 'alice' }));
    expect(item).toMatchObject({ amountMinor: 12000050, memberOf: 'east' });
    const events = await eventsOf(T, 'target.set', res.json.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ amount: 120000.5, previousAmount: null, userId: 'alice', period: '2026-01' });
  });

  it('is idempotent: the same body again is the same target, version and all; a change is version 2', async () => {
    const first = await put(root, '2026-02', { userId: 'bob', amount: 5000 });
    const again = await put(root, '2026-02', { userId: 'bob', amount: 5000.0, currency: 'cny' });
    expectStatus(again, 200);
    expect(again.json).toEqual(first.json);
    expect(await eventsOf(T, 'target.set', first.json.id)).toHaveLength(1);

    const changed = await put(root, '2026-02', { userId: 'bob', amount: 6000 });
    expect(changed.json).toMatchObject({ id: first.json.id, version: 2, amount: 6000, createdAt: first.json.createdAt });
    expect(changed.json.updatedAt >= first.json.updatedAt).toBe(true);
    const events = await eventsOf(T, 'target.set', first.json.id);
    expect(events.map((e) => [(e.data as any).amount, (e.data as any).previousAmount])).toEqual([[5000, null], [6000, 5000]]);
    // A currency change is a change too.
    expect((await put(root, '2026-02', { userId: 'bob', amount: 6000, currency: 'USD' })).json).toMatchObject({ version: 3, currency: 'USD' });
    // One target per user and month, however often it is set.
    expect((await listAll(root, '/v1/targets/2026-02?userId=bob')).length).toBe(1);
  });

  it('team targets: an admin for any team, a manager for its own team only', async () => {
    const east = await put(mia, '2026-03', { teamId: 'east', amount: 1_000_000 });
    expectStatus(east, 200);
    expect(east.json).toMatchObject({ teamId: 'east', amount: 1_000_000, setBy: 'mia' });
    expect(east.json.userId).toBeUndefined();
    expectProblem(await put(mia, '2026-03', { teamId: 'west', amount: 1 }), 403, 'forbidden');
    expectStatus(await put(root, '2026-03', { teamId: 'west', amount: 800_000 }), 200);
    expectProblem(await put(max, '2026-03', { teamId: 'east', amount: 1 }), 403, 'forbidden');
    // A user target and a team target of the same month are separate.
    expectStatus(await put(mia, '2026-03', { userId: 'alice', amount: 100 }), 200);
    expect(ids(await listAll(root, '/v1/targets/2026-03'))).toEqual(['alice', 'team:east', 'team:west']);
  });

  it("a manager sets its own reps' targets, not another team's, not its own, not another manager's", async () => {
    expectStatus(await put(mia, '2026-04', { userId: 'bob', amount: 10 }), 200);
    expectProblem(await put(mia, '2026-04', { userId: 'wes', amount: 10 }), 403, 'forbidden');
    expectProblem(await put(mia, '2026-04', { userId: 'mia', amount: 10 }), 403, 'forbidden');
    expectProblem(await put(mia, '2026-04', { userId: 'eve', amount: 10 }), 403, 'forbidden');
    expectProblem(await put(max, '2026-04', { userId: 'bob', amount: 10 }), 403, 'forbidden');
    expect(ids(await listAll(root, '/v1/targets/2026-04'))).toEqual(['bob']);
    // The admin sets the managers' own targets.
    expectStatus(await put(root, '2026-04', { userId: 'mia', amount: 20 }), 200);
  });

  it('reps, support and marketers may not set targets (403), not even their own', async () => {
    for (const who of [alice, sam, mark]) {
      expectProblem(await put(who, '2026-05', { userId: who.user, amount: 1 }), 403, 'forbidden');
      expectProblem(await put(who, '2026-05', { teamId: 'east', amount: 1 }), 403, 'forbidden');
    }
    expect(await listAll(root, '/v1/targets/2026-05')).toEqual([]);
  });

  it('a user the directory does not hold → 400 on userId; another tenant\'s user too', async () => {
    expectFieldError(await put(root, '2026-06', { userId: 'ghost', amount: 1 }), 'userId');
    expectFieldError(await put(mia, '2026-06', { userId: 'ghost', amount: 1 }), 'userId');
    expectFieldError(await put(other, '2026-06', { userId: 'alice', amount: 1 }), 'userId');
    expect(await listAll(root, '/v1/targets/2026-06')).toEqual([]);
    expect(await listAll(other, '/v1/targets/2026-06')).toEqual([]);
  });

  it('bad bodies and periods → 400 naming the field; nothing stored', async () => {
    const bad: [unknown, string][] = [
      [{ amount: 1 }, 'userId'],
      [{ userId: 'alice', teamId: 'east', amount: 1 }, 'teamId'],
      [{ userId: 'alice' }, 'amount'],
      [{ userId: 'alice', amount: 1.005 }, 'amount'],
      [{ userId: 'alice', amount: 0.1 + 0.2 }, 'amount'],
      [{ userId: 'alice', amount: -5 }, 'amount'],
      [{ userId: 'alice', amount: 1e13 }, 'amount'],
      [{ userId: 'alice', amount: '100' }, 'amount'],
      [{ userId: 'alice', amount: 1, currency: 'RMB' }, 'currency'],
      [{ userId: 'alice', amount: 1, currency: 'CN' }, 'currency'],
      [{ userId: 'alice', amount: 1, version: 3 }, 'version'],
      [{ userId: 'alice', amount: 1, id: 'x' }, 'id'],
    ];
    for (const [body, field] of bad) expectFieldError(await put(root, '2026-08', body), field);
    for (const p of ['2026-13', '2026-00', '2026-7', '26-07', '2026-07-01', 'july', '202607']) {
      expectFieldError(await put(root, p, { userId: 'alice', amount: 1 }), 'period');
      expectFieldError(await api(root).get(`/v1/targets/${p}`), 'period');
    }
    expect(await listAll(root, '/v1/targets/2026-08')).toEqual([]);
    // Zero is a valid target (a month off); 2 decimals are fine.
    expect((await put(root, '2026-08', { userId: 'alice', amount: 0 })).json.amount).toBe(0);
    expect((await put(root, '2026-08', { userId: 'bob', amount: 9_999_999_999_999.99 })).json.amount).toBe(9_999_999_999_999.99);
  });
});

describe('reading targets', () => {
  const P = '2026-09';
  beforeAll(async () => {
    for (const [who, body] of [
      [root, { teamId: 'east', amount: 900 }],
      [root, { teamId: 'west', amount: 800 }],
      [root, { userId: 'alice', amount: 100 }],
      [root, { userId: 'bob', amount: 200 }],
      [root, { userId: 'wes', amount: 300 }],
      [root, { userId: 'mia', amount: 400 }],
      [root, { userId: 'max', amount: 500 }],
    ] as const) {
      expectStatus(await put(who, P, body), 200);
    }
  });

  it('admin: every target of the month; filters by user and team', async () => {
    expect(ids(await listAll(root, `/v1/targets/${P}`))).toEqual(['alice', 'bob', 'max', 'mia', 'team:east', 'team:west', 'wes']);
    expect(ids(await listAll(root, `/v1/targets/${P}?userId=wes`))).toEqual(['wes']);
    expect(ids(await listAll(root, `/v1/targets/${P}?teamId=east`))).toEqual(['alice', 'bob', 'mia', 'team:east']);
    expect(ids(await listAll(root, `/v1/targets/${P}?userId=me`))).toEqual([]);
    // Another month is another list.
    expect(ids(await listAll(root, '/v1/targets/2026-10'))).toEqual([]);
  });

  it("manager: its team's target, its members' and its own; nothing of another team", async () => {
    expect(ids(await listAll(mia, `/v1/targets/${P}`))).toEqual(['alice', 'bob', 'mia', 'team:east']);
    expect(ids(await listAll(max, `/v1/targets/${P}`))).toEqual(['max', 'team:west', 'wes']);
    expect(ids(await listAll(mia, `/v1/targets/${P}?teamId=west`))).toEqual([]);
    expect(ids(await listAll(mia, `/v1/targets/${P}?userId=wes`))).toEqual([]);
    expect(ids(await listAll(mia, `/v1/targets/${P}?userId=bob`))).toEqual(['bob']);
  });

  it('rep: its own target only', async () => {
    expect(ids(await listAll(alice, `/v1/targets/${P}`))).toEqual(['alice']);
    expect(ids(await listAll(alice, `/v1/targets/${P}?userId=me`))).toEqual(['alice']);
    expect(ids(await listAll(alice, `/v1/targets/${P}?userId=bob`))).toEqual([]);
    expect(ids(await listAll(alice, `/v1/targets/${P}?teamId=east`))).toEqual(['alice']);
  });

  it('support and marketers: 403', async () => {
    for (const who of [sam, mark]) expectProblem(await api(who).get(`/v1/targets/${P}`), 403, 'forbidden');
  });

  it('cursors walk every target once, and are bound to the month and the filters', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api(root).get(`/v1/targets/${P}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expectStatus(page, 200);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(page.json.items));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(['alice', 'bob', 'max', 'mia', 'team:east', 'team:west', 'wes']);

    const first = await api(root).get(`/v1/targets/${P}?limit=1`);
    const c = encodeURIComponent(first.json.nextCursor);
    expectProblem(await api(root).get(`/v1/targets/2026-10?cursor=${c}`), 400, 'invalid_cursor');
    expectProblem(await api(root).get(`/v1/targets/${P}?teamId=east&cursor=${c}`), 400, 'invalid_cursor');
    expectProblem(await api(mia).get(`/v1/targets/${P}?cursor=${c}`), 400, 'invalid_cursor');
    expectProblem(await api(root).get(`/v1/targets/${P}?cursor=${c}x`), 400, 'invalid_cursor');
    expectStatus(await api(root).get(`/v1/targets/${P}?cursor=${c}`), 200);
    expectFieldError(await api(root).get(`/v1/targets/${P}?bogus=1`), 'bogus');
  });

  it("another tenant sees none of this tenant's targets, whatever it filters by", async () => {
    expect(await listAll(other, `/v1/targets/${P}`)).toEqual([]);
    expect(await listAll(other, `/v1/targets/${P}?userId=alice`)).toEqual([]);
    expect(await listAll(other, `/v1/targets/${P}?teamId=east`)).toEqual([]);
  });
});

describe('targets under concurrency', () => {
  it('10 concurrent PUTs of the same body: one target, version 1, one event, every answer the same', async () => {
    const answers = await concurrently(Array.from({ length: 10 }, () => () => put(root, '2026-11', { userId: 'alice', amount: 777.77 })));
    for (const a of answers) expectStatus(a, 200);
    expect(new Set(answers.map((a) => JSON.stringify(a.json))).size).toBe(1);
    expect(answers[0]!.json.version).toBe(1);
    expect(await eventsOf(T, 'target.set', answers[0]!.json.id)).toHaveLength(1);
  });

  it('10 concurrent PUTs of different amounts: every one lands as its own version, the last version holds its amount', async () => {
    const amounts = Array.from({ length: 10 }, (_, i) => 1000 + i);
    const answers = await concurrently(amounts.map((amount) => () => put(root, '2026-12', { userId: 'bob', amount })));
    for (const a of answers) expectStatus(a, 200);
    const versions = answers.map((a) => a.json.version).sort((x, y) => x - y);
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    const last = answers.find((a) => a.json.version === 10)!;
    const [now] = await listAll(root, '/v1/targets/2026-12?userId=bob');
    expect(now).toEqual(last.json);
    expect(await eventsOf(T, 'target.set', last.json.id)).toHaveLength(10);
  });
});
