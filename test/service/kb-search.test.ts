/**
 * Knowledge-base search internals (domain/service/kb-search.ts): the requests a two-term query
 * makes, the long-list paths (point checks, lists read on), and `suggestArticles`, which the
 * tickets' `GET /v1/tickets/{id}/suggestions` calls (the route is the tickets context's).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UseCaseContext } from '#domain/context.ts';
import { searchArticles, searchTuning, suggestArticles } from '#domain/service/kb-search.ts';
import { articleTerms, queryTerms } from '#domain/service/kb-terms.ts';
import { api, type Caller } from '#test/support/fixtures.ts';
import { requestsDuring } from '#test/support/request-spy.ts';
import { deliver } from '#test/analytics/support.ts';

const run = Math.random().toString(36).slice(2, 7);
const tenant = `kb-search-${run}`;
const sam: Caller = { tenant, user: 'sam', role: 'support' };
const rep: UseCaseContext = { identity: { tenantId: tenant, userId: 'alice', role: 'rep' }, now: new Date() };
const page = (q: string, limit = 25, cursor?: string) => ({ limit, cursor, scope: { tenantId: tenant, userId: 'alice', query: q } });

async function write(body: Record<string, unknown>): Promise<string> {
  const res = await api(sam).post('/v1/kb/articles', { status: 'published', ...body });
  expect(res.status, res.body).toBe(201);
  return res.json.id;
}

/** The DynamoDB requests `work` makes, by command name. */
async function requestsOf<T>(work: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
  const { result, requests } = await requestsDuring(work);
  return { result, commands: requests.map((r) => `${r.replace(/\[\d+\]$/, '')}Command`) };
}

const ids: Record<string, string> = {};
const defaults = { ...searchTuning };
afterEach(() => Object.assign(searchTuning, defaults));

beforeAll(async () => {
  // "common" in 8 articles, "rare" in 3 of them (one in its title), "同步" in 2.
  for (let i = 0; i < 8; i++) {
    const rare = i % 3 === 0;
    ids[`a${i}`] = await write({
      title: i === 3 ? 'rare title common' : `Article ${i}`,
      body: `common text ${rare ? 'rare' : ''} ${i < 2 ? '数据同步失败' : ''}`,
    });
  }
  ids.draft = await write({ title: 'rare common draft', body: 'x', status: 'draft' });
  ids.login = await write({ title: '登录失败怎么办 Login failed', body: 'Reset the password. 密码错误。' });
  ids.sync = await write({ title: '数据同步', body: 'sync 同步 data' });
  await deliver();
});

describe('search reads', () => {
  it('a two-term query is 3 requests: two Queries of postings and one BatchGetItem of the page', async () => {
    const { result, commands } = await requestsOf(() => searchArticles(rep, { q: 'common rare' }, page('q1')));
    expect(result.items.map((a) => a.id)).toEqual([ids.a3, ids.a6, ids.a0]);
    expect(commands.sort()).toEqual(['BatchGetItemCommand', 'QueryCommand', 'QueryCommand']);
    const chinese = await requestsOf(() => searchArticles(rep, { q: '同步 login' }, page('q2')));
    expect(chinese.result.items).toEqual([]);
    expect(chinese.commands.length).toBeLessThanOrEqual(3);
  });

  it('long lists: read on, or checked by key, or no list complete — the same answer every way', async () => {
    const expected = [ids.a3, ids.a6, ids.a0];
    const modes = [
      { postingsPerPage: 5, pointCheckMax: 1 }, // "rare" (4 postings with the draft) complete, "common" read on
      { postingsPerPage: 5, pointCheckMax: 300 }, // "common" checked by BatchGetItem of (term, id)
      { postingsPerPage: 2, pointCheckMax: 300 }, // no list complete: the first is read to its end
    ];
    for (const mode of modes) {
      Object.assign(searchTuning, mode);
      for (const q of ['common rare', 'rare common']) {
        const res = await searchArticles(rep, { q }, page(q));
        expect(res.items.map((a) => a.id), `${JSON.stringify(mode)} ${q}`).toEqual(expected);
      }
    }
    Object.assign(searchTuning, { postingsPerPage: 5, pointCheckMax: 300 });
    const { commands } = await requestsOf(() => searchArticles(rep, { q: 'common rare' }, page('q3')));
    expect(commands.sort()).toEqual(['BatchGetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'QueryCommand']);
  });

  it('paging over ranked matches with limit 2', async () => {
    const first = await searchArticles(rep, { q: 'common' }, page('q4', 2));
    expect(first.items).toHaveLength(2);
    expect(first.items[0]!.id).toBe(ids.a3); // the title match first, then newest
    const seen = [...first.items.map((a) => a.id)];
    let cursor = first.nextCursor;
    while (cursor) {
      const next = await searchArticles(rep, { q: 'common' }, page('q4', 2, cursor));
      seen.push(...next.items.map((a) => a.id));
      cursor = next.nextCursor;
    }
    expect(seen).toEqual([ids.a3, ids.a7, ids.a6, ids.a5, ids.a4, ids.a2, ids.a1, ids.a0]);
  });
});

describe('suggestArticles (ticket suggestions)', () => {
  it('published articles sharing a term with the text, those sharing the most first, at most `limit`', async () => {
    const got = await suggestArticles(tenant, '登录失败，提示密码错误 login');
    expect(got[0]!.id).toBe(ids.login);
    expect(got.map((a) => a.id)).toContain(ids.a0); // shares 失败
    expect(got.map((a) => a.id)).not.toContain(ids.draft);
    expect(got.length).toBeLessThanOrEqual(5);
    expect(Object.keys(got[0]!)).not.toContain('body');
    expect(await suggestArticles(tenant, 'rare common', 2)).toEqual([
      expect.objectContaining({ id: ids.a3 }),
      expect.objectContaining({ id: ids.a6 }),
    ]);
    expect((await suggestArticles(tenant, '数据同步')).map((a) => a.id).slice(0, 3)).toEqual([ids.sync, ids.a1, ids.a0]);
  });

  it('nothing shared, an empty text, or another tenant → none', async () => {
    expect(await suggestArticles(tenant, 'zebra')).toEqual([]);
    expect(await suggestArticles(tenant, '   ')).toEqual([]);
    expect(await suggestArticles(`${tenant}-other`, 'common rare')).toEqual([]);
  });

  it('an article unpublished since it was indexed is not suggested', async () => {
    const id = await write({ title: 'Obsolete printer guide', body: 'printer' });
    await deliver();
    expect((await suggestArticles(tenant, 'printer')).map((a) => a.id)).toEqual([id]);
    expect((await api(sam).patch(`/v1/kb/articles/${id}`, { status: 'draft' })).status).toBe(200);
    expect(await suggestArticles(tenant, 'printer')).toEqual([]);
  });
});

describe('search against an oracle', () => {
  it('random articles and queries: the same matches, in the same order, as a brute-force reading of every article', async () => {
    const otherTenant = `${tenant}-oracle`;
    const writer: Caller = { tenant: otherTenant, user: 'sam', role: 'support' };
    const reader: UseCaseContext = { identity: { tenantId: otherTenant, userId: 'rita', role: 'rep' }, now: new Date() };
    const words = ['退款', '申请', '订单', 'refund', 'Order', 'login', '密码', 'reset'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const phrase = (k: number) => Array.from({ length: k }, () => words[rand(words.length)]).join(rand(2) ? ' ' : '');
    const corpus: { id: string; title: string; body: string; status: string }[] = [];
    for (let i = 0; i < 30; i++) {
      const article = { title: phrase(2), body: phrase(6), status: i % 5 === 0 ? 'draft' : 'published' };
      const res = await api(writer).post('/v1/kb/articles', article);
      expect(res.status, res.body).toBe(201);
      corpus.push({ id: res.json.id, ...article });
    }
    await deliver();
    let withSeveral = 0;
    for (let i = 0; i < 25; i++) {
      const query = phrase(1 + rand(2));
      const terms = queryTerms(query);
      const expected = corpus
        .filter((a) => a.status === 'published')
        .map((a) => ({ a, stats: articleTerms(a.title, a.body) }))
        .filter(({ stats }) => terms.every((t) => stats.has(t)))
        .map(({ a, stats }) => ({
          id: a.id,
          titleHits: terms.filter((t) => stats.get(t)!.title).length,
          count: terms.reduce((sum, t) => sum + stats.get(t)!.count, 0),
        }))
        .sort((x, y) => y.titleHits - x.titleHits || y.count - x.count || (x.id < y.id ? 1 : -1))
        .map((m) => m.id);
      const got = await searchArticles(reader, { q: query }, { limit: 100, scope: { tenantId: otherTenant, userId: 'rita', query } });
      expect(got.items.map((a) => a.id), query).toEqual(expected);
      if (expected.length >= 2) withSeveral++;
    }
    expect(withSeveral, 'queries that rank several matches').toBeGreaterThanOrEqual(10);
  });
});
