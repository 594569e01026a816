/**
 * Quotes (报价单, API.md §5): server-computed totals exact to the cent, client-sent totals
 * refused, the status machine draft → sent → accepted | rejected with single winners,
 * changes only while draft, visibility through the opportunity, an accepted quote becoming
 * at most one order, events, Customer 360. Through HTTP with real tokens.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey } from '#domain/table/keys.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { concurrently, eventsOf, expectStatus, rawItem } from '#test/sales/orders-support.ts';

const T = 'quotes';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const max: Caller = { tenant: T, user: 'max', role: 'manager', team: 'west' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'quotes-other', user: 'root', role: 'admin' };

beforeAll(async () => {
  for (const c of [root, mia, max, alice, bob, sam, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

async function opportunity(owner: Caller, extra: Record<string, unknown> = {}): Promise<{ id: string; accountId: string }> {
  const account = await api(owner).post('/v1/accounts', { name: uniq('报价客户') });
  expectStatus(account, 201);
  const res = await api(owner).post('/v1/opportunities', {
    accountId: account.json.id,
    name: uniq('ERP 升级项目'),
    amount: 50000,
    expectedCloseDate: '2027-03-31',
    ...extra,
  });
  expectStatus(res, 201);
  return { id: res.json.id, accountId: account.json.id };
}

const LINES = [
  { product: 'CRM 标准版 license', quantity: 12, unitPrice: 1999.99, discountPct: 12.5 },
  { product: 'Implementation 实施', description: 'two and a half days on site', quantity: 2.5, unitPrice: 8000 },
  { product: 'Training', quantity: 1.5, unitPrice: 0.67, discountPct: 10 },
];

async function quote(who: Caller, opportunityId: string, body: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await api(who).post(`/v1/opportunities/${opportunityId}/quotes`, { lines: LINES, ...body });
  expectStatus(res, 201);
  return res.json;
}

const act = (who: Caller, id: string, action: 'send' | 'accept' | 'reject' | 'order', body?: unknown) =>
  api(who).post(`/v1/quotes/${id}/${action}`, body);

async function sentQuote(who: Caller, opportunityId: string): Promise<Record<string, any>> {
  const q = await quote(who, opportunityId, { validUntil: '2030-12-31' });
  const sent = await act(who, q.id, 'send');
  expectStatus(sent, 200);
  return sent.json;
}

describe('creating a quote', () => {
  it('201 with the totals computed by the server, per line and in all, exact to the cent', async () => {
    const opp = await opportunity(alice);
    const res = await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, { lines: LINES, validUntil: '2030-01-31', notes: '含税价' });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(`/v1/quotes/${res.json.id}`);
    expect(res.json.lines).toEqual([
      // 12 × 1,999.99 = 23,999.88; 12.5 % = 2,999.985 → 2,999.99 (half up)
      { product: 'CRM 标准版 license', quantity: 12, unitPrice: 1999.99, discountPct: 12.5, subtotal: 23999.88, discount: 2999.99, total: 20999.89 },
      { product: 'Implementation 实施', description: 'two and a half days on site', quantity: 2.5, unitPrice: 8000, subtotal: 20000, discount: 0, total: 20000 },
      // 1.5 × 0.67 = 1.005 → 1.01; 10 % = 0.101 → 0.10
      { product: 'Training', quantity: 1.5, unitPrice: 0.67, discountPct: 10, subtotal: 1.01, discount: 0.1, total: 0.91 },
    ]);
    expect(res.json).toMatchObject({
      opportunityId: opp.id,
      accountId: opp.accountId,
      status: 'draft',
      currency: 'CNY',
      subtotal: 44000.89,
      discount: 3000.09,
      total: 41000.8,
      validUntil: '2030-01-31',
      notes: '含税价',
      ownerId: 'alice',
      createdBy: 'alice',
      version: 1,
    });
    expect(res.json.history).toEqual([{ status: 'draft', at: res.json.createdAt, byUserId: 'alice' }]);
    expect(typeof res.json.name).toBe('string');
    expect((await api(alice).get(`/v1/quotes/${res.json.id}`)).json).toEqual(res.json);
    // Stored in integer minor units, thousandths and basis points.
    const item = await rawItem(entityKey(T, 'QUOTE', res.json.id));
    expect(item).toMatchObject({ subtotalMinor: 4400089, discountMinor: 300009, totalMinor: 4100080 });
    expect((item!.lines as unknown[])[0]).toMatchObject({ quantityMilli: 12000, unitPriceMinor: 199999, discountBp: 1250, subtotalMinor: 2399988 });
    const [created] = await eventsOf(T, 'quote.created', res.json.id);
    expect(created!.data).toMatchObject({ id: res.json.id, total: 41000.8, status: 'draft', opportunityId: opp.id });
  });

  it("name and currency default to the opportunity's; both may be given", async () => {
    const opp = await opportunity(alice, { currency: 'USD', name: 'Export deal' });
    const q = await quote(alice, opp.id);
    expect(q).toMatchObject({ name: 'Export deal', currency: 'USD' });
    expect(await quote(alice, opp.id, { name: '第二版报价', currency: 'eur' })).toMatchObject({ name: '第二版报价', currency: 'EUR' });
  });

  it('a client-sent total, or any computed or server-owned field → 400 naming it; nothing created', async () => {
    const opp = await opportunity(alice);
    const line = LINES[0]!;
    const cases: [Record<string, unknown>, string][] = [
      [{ lines: LINES, total: 41000.8 }, 'total'],
      [{ lines: LINES, subtotal: 1 }, 'subtotal'],
      [{ lines: LINES, discount: 0 }, 'discount'],
      [{ lines: [{ ...line, total: 20999.89 }] }, 'total'],
      [{ lines: [{ ...line, subtotal: 1 }] }, 'subtotal'],
      [{ lines: [{ ...line, discount: 1 }] }, 'discount'],
      [{ lines: LINES, status: 'accepted' }, 'status'],
      [{ lines: LINES, orderId: 'x' }, 'orderId'],
      [{ lines: LINES, history: [] }, 'history'],
      [{ lines: LINES, ownerId: 'bob' }, 'ownerId'],
      [{ lines: LINES, opportunityId: opp.id }, 'opportunityId'],
      [{ lines: LINES, totalMinor: 1 }, 'totalMinor'],
    ];
    for (const [body, field] of cases) expectFieldError(await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, body), field);
    expect(await listAll(alice, `/v1/opportunities/${opp.id}/quotes`)).toEqual([]);
  });

  it('bad lines → 400 naming the field', async () => {
    const opp = await opportunity(alice);
    const l = { product: 'x', quantity: 1, unitPrice: 1 };
    const cases: [unknown, string][] = [
      [[], 'lines'],
      [Array.from({ length: 201 }, () => l), 'lines'],
      [[{ ...l, product: '' }], 'product'],
      [[{ quantity: 1, unitPrice: 1 }], 'product'],
      [[{ ...l, quantity: 0 }], 'quantity'],
      [[{ ...l, quantity: -1 }], 'quantity'],
      [[{ ...l, quantity: 1.0001 }], 'quantity'],
      [[{ ...l, unitPrice: 1.005 }], 'unitPrice'],
      [[{ ...l, unitPrice: -0.01 }], 'unitPrice'],
      [[{ ...l, unitPrice: '1' }], 'unitPrice'],
      [[{ ...l, discountPct: 100.01 }], 'discountPct'],
      [[{ ...l, discountPct: 5.555 }], 'discountPct'],
      [[{ ...l, discountPct: -1 }], 'discountPct'],
      // Within range line by line, too large together.
      [Array.from({ length: 2 }, () => ({ ...l, quantity: 1_000_000_000, unitPrice: 9_999_999 })), 'lines'],
    ];
    for (const [lines, field] of cases) expectFieldError(await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, { lines }), field);
    expectFieldError(await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, { lines: [l], validUntil: '2030-02-30' }), 'validUntil');
    expectFieldError(await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, {}), 'lines');
    // Free lines (a gift) and a full discount are fine.
    const free = await quote(alice, opp.id, { lines: [{ product: 'gift', quantity: 1, unitPrice: 0 }, { ...l, discountPct: 100 }] });
    expect(free).toMatchObject({ subtotal: 1, discount: 1, total: 0 });
  });

  it('an opportunity the caller may not open → 404, like a missing one; support and marketers → 403', async () => {
    const opp = await opportunity(alice);
    for (const who of [bob, max]) {
      const res = await api(who).post(`/v1/opportunities/${opp.id}/quotes`, { lines: LINES });
      expectProblem(res, 404, 'not_found');
      const missing = await api(who).post('/v1/opportunities/01JZZZZZZZZZZZZZZZZZZZZZZZ/quotes', { lines: LINES });
      expect(res.json).toEqual(missing.json);
      expectProblem(await api(who).get(`/v1/opportunities/${opp.id}/quotes`), 404, 'not_found');
    }
    expectProblem(await api(other).post(`/v1/opportunities/${opp.id}/quotes`, { lines: LINES }), 404, 'not_found');
    for (const who of [sam, mark]) {
      expectProblem(await api(who).post(`/v1/opportunities/${opp.id}/quotes`, { lines: LINES }), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/opportunities/${opp.id}/quotes`), 403, 'forbidden');
    }
    // The owner's manager and admins may quote.
    expect((await quote(mia, opp.id)).ownerId).toBe('alice');
    expect((await quote(root, opp.id)).createdBy).toBe('root');
    expect(await listAll(alice, `/v1/opportunities/${opp.id}/quotes`)).toHaveLength(2);
  });

  it("totals through the API equal a reference computed from the decimals, for random lines", async () => {
    const opp = await opportunity(alice);
    const cents = (text: string) => BigInt(text.replace('.', ''));
    const decimal = (n: bigint, places: number) => Number(`${n / 10n ** BigInt(places)}.${(n % 10n ** BigInt(places)).toString().padStart(places, '0')}`);
    const lineArb = fc.record({
      priceCents: fc.bigInt({ min: 0n, max: 10_000_000n }),
      qtyMilli: fc.bigInt({ min: 1n, max: 100_000n }),
      pctBp: fc.bigInt({ min: 0n, max: 10_000n }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 8 }), async (lines) => {
        const body = lines.map((l, i) => ({
          product: `p${i}`,
          unitPrice: decimal(l.priceCents, 2),
          quantity: decimal(l.qtyMilli, 3),
          discountPct: decimal(l.pctBp, 2),
        }));
        const res = await api(alice).post(`/v1/opportunities/${opp.id}/quotes`, { lines: body });
        expectStatus(res, 201);
        // Reference: exact rationals, half up, per line.
        let subtotal = 0n;
        let discount = 0n;
        for (const l of lines) {
          const s = (2n * l.priceCents * l.qtyMilli + 1000n) / 2000n;
          const d = (2n * s * l.pctBp + 10_000n) / 20_000n;
          subtotal += s;
          discount += d;
        }
        expect(cents(res.json.subtotal.toFixed(2))).toBe(subtotal);
        expect(cents(res.json.discount.toFixed(2))).toBe(discount);
        expect(cents(res.json.total.toFixed(2))).toBe(subtotal - discount);
        const lineTotals = res.json.lines.reduce((s: bigint, l: any) => s + cents(l.total.toFixed(2)), 0n);
        expect(lineTotals).toBe(subtotal - discount);
      }),
      { numRuns: 15 },
    );
  });
});

describe("an opportunity's quotes", () => {
  it('oldest first, each exactly once through the cursors, and only that opportunity\'s', async () => {
    const opp = await opportunity(alice);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await quote(alice, opp.id, { name: `v${i}` })).id);
    // Another opportunity on the same account keeps its own quotes.
    const account = (await api(alice).get(`/v1/opportunities/${opp.id}`)).json.accountId;
    const sibling = await api(alice).post('/v1/opportunities', { accountId: account, name: 'sibling', amount: 1, expectedCloseDate: '2027-01-01' });
    await quote(alice, sibling.json.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api(alice).get(`/v1/opportunities/${opp.id}/quotes?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expectStatus(page, 200);
      seen.push(...page.json.items.map((q: any) => q.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual(made);
    const first = await api(alice).get(`/v1/opportunities/${opp.id}/quotes?limit=1`);
    const c = encodeURIComponent(first.json.nextCursor);
    expectProblem(await api(alice).get(`/v1/opportunities/${sibling.json.id}/quotes?cursor=${c}`), 400, 'invalid_cursor');
    expectProblem(await api(mia).get(`/v1/opportunities/${opp.id}/quotes?cursor=${c}`), 400, 'invalid_cursor');
    expectFieldError(await api(alice).get(`/v1/opportunities/${opp.id}/quotes?status=draft`), 'status');
  });
});

describe('changing a quote', () => {
  it('a draft changes: lines re-priced, If-Match honoured, a no-op keeps the version, null clears', async () => {
    const opp = await opportunity(alice);
    const q = await quote(alice, opp.id, { notes: 'n', validUntil: '2030-01-01' });
    const patched = await api(alice).patch(`/v1/quotes/${q.id}`, { lines: [{ product: 'x', quantity: 3, unitPrice: 0.1 }], notes: null }, { headers: { 'if-match': '"1"' } });
    expectStatus(patched, 200);
    expect(patched.json).toMatchObject({ subtotal: 0.3, discount: 0, total: 0.3, version: 2 });
    expect(patched.json.notes).toBeUndefined();
    expectProblem(await api(alice).patch(`/v1/quotes/${q.id}`, { name: 'stale' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    expect((await api(alice).patch(`/v1/quotes/${q.id}`, { lines: [{ product: 'x', quantity: 3, unitPrice: 0.1 }] })).json.version).toBe(2);
    for (const field of ['total', 'subtotal', 'discount', 'status', 'orderId', 'history', 'opportunityId']) {
      expectFieldError(await api(alice).patch(`/v1/quotes/${q.id}`, { [field]: 1 }), field);
    }
    expectFieldError(await api(alice).patch(`/v1/quotes/${q.id}`, { lines: null }), 'lines');
    expectFieldError(await api(alice).patch(`/v1/quotes/${q.id}`, { name: null }), 'name');
    const [updated] = await eventsOf(T, 'quote.updated', q.id);
    expect((updated!.data as any).changed).toEqual(expect.arrayContaining(['lines', 'subtotal', 'total', 'notes']));
  });

  it('once sent it no longer changes: 409 invalid_transition, nothing written', async () => {
    const opp = await opportunity(alice);
    const q = await sentQuote(alice, opp.id);
    expectProblem(await api(alice).patch(`/v1/quotes/${q.id}`, { name: 'late change' }), 409, 'invalid_transition');
    expect((await api(alice).get(`/v1/quotes/${q.id}`)).json).toEqual(q);
  });
});

describe('status: draft → sent → accepted | rejected', () => {
  it('each action answers 200 with the quote as it now is, its history and its event', async () => {
    const opp = await opportunity(alice);
    const q = await quote(alice, opp.id);
    const sent = await act(alice, q.id, 'send', { validUntil: '2030-06-30', note: '邮件发送给采购' });
    expectStatus(sent, 200);
    expect(sent.json).toMatchObject({ status: 'sent', validUntil: '2030-06-30', version: 2 });
    const accepted = await act(mia, q.id, 'accept', { note: '客户签字确认' });
    expectStatus(accepted, 200);
    expect(accepted.json).toMatchObject({ status: 'accepted', version: 3 });
    expect(accepted.json.history.map((h: any) => [h.status, h.byUserId, h.note])).toEqual([
      ['draft', 'alice', undefined],
      ['sent', 'alice', '邮件发送给采购'],
      ['accepted', 'mia', '客户签字确认'],
    ]);
    expect((await api(alice).get(`/v1/quotes/${q.id}`)).json).toEqual(accepted.json);
    expect((await eventsOf(T, 'quote.sent', q.id)).map((e) => (e.data as any).from)).toEqual(['draft']);
    expect((await eventsOf(T, 'quote.accepted', q.id)).map((e) => (e.data as any).status)).toEqual(['accepted']);

    const r = await sentQuote(alice, opp.id);
    const rejected = await act(alice, r.id, 'reject', { reason: '价格过高' });
    expectStatus(rejected, 200);
    expect(rejected.json).toMatchObject({ status: 'rejected', rejectionReason: '价格过高' });
    expect(await eventsOf(T, 'quote.rejected', r.id)).toHaveLength(1);
  });

  it('every other transition → 409 invalid_transition and nothing changes', async () => {
    const opp = await opportunity(alice);
    const draft = await quote(alice, opp.id);
    const sent = await sentQuote(alice, opp.id);
    const accepted = (await act(alice, (await sentQuote(alice, opp.id)).id, 'accept')).json;
    const rejected = (await act(alice, (await sentQuote(alice, opp.id)).id, 'reject')).json;
    const refused: [Record<string, any>, 'send' | 'accept' | 'reject'][] = [
      [draft, 'accept'],
      [draft, 'reject'],
      [sent, 'send'],
      [accepted, 'send'],
      [accepted, 'accept'],
      [accepted, 'reject'],
      [rejected, 'send'],
      [rejected, 'accept'],
      [rejected, 'reject'],
    ];
    for (const [q, action] of refused) {
      const res = await act(alice, q.id, action);
      expectProblem({ ...res, req: `${action} a ${q.status} quote` }, 409, 'invalid_transition');
      expect(res.json.quoteStatus).toBe(q.status);
      expect((await api(alice).get(`/v1/quotes/${q.id}`)).json).toEqual(q);
    }
  });

  it('a quote past its validUntil can be neither sent nor accepted (409); rejected it may be', async () => {
    const opp = await opportunity(alice);
    const old = await quote(alice, opp.id, { validUntil: '2020-01-01' });
    expectProblem(await act(alice, old.id, 'send'), 409, 'invalid_transition');
    // Sending with a new validity is fine.
    expect((await act(alice, old.id, 'send', { validUntil: '2030-01-01' })).json.status).toBe('sent');
    // A sent quote whose validity ran out (written directly: the test cannot wait for a date to pass).
    await db.send(new UpdateCommand({ TableName: tableName(), Key: entityKey(T, 'QUOTE', old.id), UpdateExpression: 'SET validUntil = :d', ExpressionAttributeValues: { ':d': '2021-01-01' } }));
    const late = await act(alice, old.id, 'accept');
    expectProblem(late, 409, 'invalid_transition');
    expect(late.json.validUntil).toBe('2021-01-01');
    expect((await act(alice, old.id, 'reject')).json.status).toBe('rejected');
    expectFieldError(await act(alice, old.id, 'send', { validUntil: 'soon' }), 'validUntil');
  });

  it('action bodies are strict: an unknown field or a status → 400', async () => {
    const opp = await opportunity(alice);
    const q = await quote(alice, opp.id);
    expectFieldError(await act(alice, q.id, 'send', { status: 'sent' }), 'status');
    expectFieldError(await act(alice, q.id, 'send', { reason: 'x' }), 'reason');
    expect((await api(alice).get(`/v1/quotes/${q.id}`)).json.status).toBe('draft');
  });

  it('two concurrent accepts: exactly one 200, the other 409 invalid_transition; ten concurrent: one winner', async () => {
    const opp = await opportunity(alice);
    for (const n of [2, 10]) {
      const q = await sentQuote(alice, opp.id);
      const answers = await concurrently(Array.from({ length: n }, (_, i) => () => act(i % 2 ? mia : alice, q.id, 'accept')));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      for (const a of answers.filter((x) => x.status !== 200)) expectProblem({ ...a, req: 'a losing accept' }, 409, 'invalid_transition');
      const now = (await api(alice).get(`/v1/quotes/${q.id}`)).json;
      expect(now).toMatchObject({ status: 'accepted', version: q.version + 1 });
      expect(now.history).toHaveLength(3);
      expect(await eventsOf(T, 'quote.accepted', q.id)).toHaveLength(1);
    }
  });

  it('accept and reject racing: exactly one lands', async () => {
    const opp = await opportunity(alice);
    const q = await sentQuote(alice, opp.id);
    const answers = await concurrently([() => act(alice, q.id, 'accept'), () => act(mia, q.id, 'reject')]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)!.json.status;
    expect((await api(alice).get(`/v1/quotes/${q.id}`)).json.status).toBe(winner);
    expect([...(await eventsOf(T, 'quote.accepted', q.id)), ...(await eventsOf(T, 'quote.rejected', q.id))]).toHaveLength(1);
  });
});

describe('an accepted quote becomes an order, at most once', () => {
  it('POST /v1/quotes/{id}/order → 201 the order: the quote\'s total, account, opportunity, currency; the quote links it', async () => {
    const opp = await opportunity(alice);
    const q = (await act(alice, (await sentQuote(alice, opp.id)).id, 'accept')).json;
    const res = await act(alice, q.id, 'order', { signedAt: '2026-06-01T00:00:00Z' });
    expectStatus(res, 201);
    expect(res.headers.location).toBe(`/v1/orders/${res.json.id}`);
    expect(res.json).toMatchObject({
      accountId: opp.accountId,
      opportunityId: opp.id,
      quoteId: q.id,
      name: q.name,
      amount: 41000.8,
      currency: 'CNY',
      collectedAmount: 0,
      outstandingAmount: 41000.8,
      ownerId: 'alice',
      version: 1,
    });
    const linked = (await api(alice).get(`/v1/quotes/${q.id}`)).json;
    expect(linked).toMatchObject({ status: 'accepted', orderId: res.json.id, version: q.version + 1 });
    expect(await eventsOf(T, 'order.created', res.json.id)).toHaveLength(1);
    expect((await eventsOf(T, 'quote.updated', q.id)).map((e) => (e.data as any).changed)).toEqual([['orderId']]);

    // Never a second order, by either route.
    const again = await act(alice, q.id, 'order', { signedAt: '2026-06-02T00:00:00Z' });
    expectProblem(again, 409, 'invalid_transition');
    expect(again.json.orderId).toBe(res.json.id);
    expectProblem(await api(alice).post('/v1/orders', { quoteId: q.id, signedAt: '2026-06-02T00:00:00Z' }), 409, 'invalid_transition');
    expect((await listAll(alice, `/v1/orders?opportunityId=${opp.id}`)).map((o) => o.id)).toEqual([res.json.id]);
  });

  it('POST /v1/orders {quoteId}: the amount defaults to the total and may be given; the body must agree with the quote', async () => {
    const opp = await opportunity(alice);
    const a = (await act(alice, (await sentQuote(alice, opp.id)).id, 'accept')).json;
    expectFieldError(await api(alice).post('/v1/orders', { quoteId: a.id, accountId: (await opportunity(alice)).accountId, signedAt: '2026-06-01T00:00:00Z' }), 'accountId');
    expectFieldError(await api(alice).post('/v1/orders', { quoteId: a.id, currency: 'USD', signedAt: '2026-06-01T00:00:00Z' }), 'currency');
    const res = await api(alice).post('/v1/orders', { quoteId: a.id, accountId: opp.accountId, amount: 40000, signedAt: '2026-06-01T00:00:00Z' });
    expectStatus(res, 201);
    expect(res.json).toMatchObject({ quoteId: a.id, amount: 40000, opportunityId: opp.id });
    // A quote that is not accepted cannot become one; one the caller cannot open is a 400.
    const d = await quote(alice, opp.id);
    expectProblem(await act(alice, d.id, 'order', { signedAt: '2026-06-01T00:00:00Z' }), 409, 'invalid_transition');
    expectProblem(await api(alice).post('/v1/orders', { quoteId: d.id, signedAt: '2026-06-01T00:00:00Z' }), 409, 'invalid_transition');
    expectFieldError(await api(bob).post('/v1/orders', { quoteId: d.id, signedAt: '2026-06-01T00:00:00Z' }), 'quoteId');
    expectProblem(await act(bob, d.id, 'order', { signedAt: '2026-06-01T00:00:00Z' }), 404, 'not_found');
    expectFieldError(await act(alice, d.id, 'order', {}), 'signedAt');
    expectFieldError(await act(alice, d.id, 'order', { signedAt: '2026-06-01T00:00:00Z', quoteId: d.id }), 'quoteId');
  });

  it('two concurrent orders from one quote: one 201, one 409; one order exists', async () => {
    const opp = await opportunity(alice);
    for (let round = 0; round < 3; round++) {
      const q = (await act(alice, (await sentQuote(alice, opp.id)).id, 'accept')).json;
      const answers = await concurrently([
        () => act(alice, q.id, 'order', { signedAt: '2026-06-01T00:00:00Z' }),
        () => api(mia).post('/v1/orders', { quoteId: q.id, signedAt: '2026-06-01T00:00:00Z' }),
      ]);
      expect(answers.map((a) => a.status).sort(), answers.map((a) => a.body).join('\n')).toEqual([201, 409]);
      const made = answers.find((a) => a.status === 201)!.json.id;
      expect((await api(alice).get(`/v1/quotes/${q.id}`)).json.orderId).toBe(made);
      const orders = (await listAll(alice, `/v1/orders?opportunityId=${opp.id}`)).filter((o) => o.quoteId === q.id);
      expect(orders.map((o) => o.id)).toEqual([made]);
    }
  });
});

describe('who sees a quote', () => {
  it("whoever may open the opportunity: the owner, its manager, admins; others 404; a new owner of the opportunity too", async () => {
    const opp = await opportunity(alice);
    const q = await quote(alice, opp.id);
    for (const who of [alice, mia, root]) expect((await api(who).get(`/v1/quotes/${q.id}`)).status).toBe(200);
    for (const who of [bob, max, other]) {
      expectProblem(await api(who).get(`/v1/quotes/${q.id}`), 404, 'not_found');
      expectProblem(await act(who, q.id, 'send'), 404, 'not_found');
      expectProblem(await api(who).patch(`/v1/quotes/${q.id}`, { name: 'x' }), 404, 'not_found');
    }
    for (const who of [sam, mark]) {
      expectProblem(await api(who).get(`/v1/quotes/${q.id}`), 403, 'forbidden');
      expectProblem(await act(who, q.id, 'send'), 403, 'forbidden');
    }
    expectStatus(await api(mia).patch(`/v1/opportunities/${opp.id}`, { ownerId: 'bob' }), 200);
    expect((await api(bob).get(`/v1/quotes/${q.id}`)).status).toBe(200);
    expect(await listAll(bob, `/v1/opportunities/${opp.id}/quotes`)).toHaveLength(1);
    expect((await act(bob, q.id, 'send', { validUntil: '2030-01-01' })).status).toBe(200);
  });
});

describe('Customer 360', () => {
  it("shows the account's quotes as clients see them, and none to support", async () => {
    const opp = await opportunity(alice);
    const q = await quote(alice, opp.id);
    const view = await api(alice).get(`/v1/accounts/${opp.accountId}/360`);
    expectStatus(view, 200);
    expect(view.json.quotes).toEqual([q]);
    expect((await api(sam).get(`/v1/accounts/${opp.accountId}/360`)).json.quotes).toEqual([]);
  });
});
