/**
 * Knowledge base (api/service.md "Knowledge base"): articles over HTTP, the search index kept by
 * the `kb-index` consumer, ranking, visibility, paging, re-indexing. Tests wait for the index the
 * way test/analytics/support.ts does: they deliver the outbox to the consumers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { articlePartition, termPartition } from '#domain/service/kb-article.ts';
import { IndexBusy, reindexArticle } from '#domain/service/kb-index.ts';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { indexStateKey } from '#domain/service/kb-article.ts';
import { publisher } from '#events/publisher.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, type Caller } from '#test/support/fixtures.ts';
import { deliver, takePending } from '#test/analytics/support.ts';

let n = 0;
const run = Math.random().toString(36).slice(2, 7);
function people() {
  const tenant = `kb-${run}-${++n}`;
  return {
    tenant,
    sam: { tenant, user: 'sam', role: 'support' } as Caller,
    root: { tenant, user: 'root', role: 'admin' } as Caller,
    alice: { tenant, user: 'alice', role: 'rep', team: 'east' } as Caller,
    max: { tenant, user: 'max', role: 'marketer' } as Caller,
    mia: { tenant, user: 'mia', role: 'manager', team: 'east' } as Caller,
  };
}

async function write(who: Caller, body: Record<string, unknown>) {
  const res = await api(who).post('/v1/kb/articles', { status: 'published', ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as { id: string; version: number; status: string };
}

async function search(who: Caller, query: string): Promise<string[]> {
  return (await listAll<{ id: string }>(who, `/v1/kb/articles?${query}`)).map((a) => a.id);
}
const q = (text: string) => `q=${encodeURIComponent(text)}`;

async function postings(tenant: string, term: string) {
  const out = await db.send(new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': termPartition(tenant, term) } }));
  return (out.Items ?? []).map((i) => i.SK as string);
}

describe('articles: CRUD and roles', () => {
  const p = people();

  it('support and admins write; other roles 403; a draft is a 404 to readers and listed for writers only', async () => {
    const draft = await write(p.sam, { title: 'Internal draft 草稿', body: 'not yet', status: 'draft' });
    expect(draft).toMatchObject({ status: 'draft', version: 1, tags: [], publishedAt: null, createdBy: 'sam' });
    const byAdmin = await write(p.root, { title: 'Admin article', body: 'hello' });
    expect(byAdmin.status).toBe('published');
    for (const who of [p.alice, p.max, p.mia]) {
      expectProblem(await api(who).post('/v1/kb/articles', { title: 'x', body: 'y' }), 403, 'forbidden');
      expectProblem(await api(who).get(`/v1/kb/articles/${draft.id}`), 404, 'not_found');
      expectProblem(await api(who).patch(`/v1/kb/articles/${draft.id}`, { title: 'z' }), 404, 'not_found');
      expectProblem(await api(who).patch(`/v1/kb/articles/${byAdmin.id}`, { title: 'z' }), 403, 'forbidden');
      expectProblem(await api(who).delete(`/v1/kb/articles/${byAdmin.id}`), 403, 'forbidden');
      expect((await api(who).get(`/v1/kb/articles/${byAdmin.id}`)).json.body).toBe('hello');
      const listed = await search(who, '');
      expect(listed).toContain(byAdmin.id);
      expect(listed).not.toContain(draft.id);
      expectProblem(await api(who).get('/v1/kb/articles?status=draft'), 403, 'forbidden');
      expect(await search(who, 'status=published')).toEqual(listed);
    }
    expect(await search(p.sam, '')).toEqual([byAdmin.id, draft.id]); // newest first
    expect(await search(p.root, 'status=draft')).toEqual([draft.id]);
    expect((await api(p.sam).get(`/v1/kb/articles/${draft.id}`)).json).toMatchObject({ title: 'Internal draft 草稿', body: 'not yet' });
  });

  it('list items carry an excerpt instead of the body; GET carries the body', async () => {
    const body = `${'长'.repeat(250)} end`;
    const a = await write(p.sam, { title: uniq('Excerpt'), body });
    const [item] = (await api(p.alice).get('/v1/kb/articles?limit=1')).json.items;
    expect(item.id).toBe(a.id);
    expect(item.body).toBeUndefined();
    expect(item.excerpt).toBe('长'.repeat(200));
    expect((await api(p.alice).get(`/v1/kb/articles/${a.id}`)).json.body).toBe(body);
  });

  it('strict bodies: unknown and server-owned fields, a body over 100,000 characters, a bad status → 400', async () => {
    expectFieldError(await api(p.sam).post('/v1/kb/articles', { title: 't', body: 'b', bogus: 1 }), 'bogus');
    expectFieldError(await api(p.sam).post('/v1/kb/articles', { title: 't', body: 'b', version: 2 }), 'version');
    expectFieldError(await api(p.sam).post('/v1/kb/articles', { title: 't', body: 'b'.repeat(100_001) }), 'body');
    expectFieldError(await api(p.sam).post('/v1/kb/articles', { title: 't', body: 'b', status: 'archived' }), 'status');
    expectFieldError(await api(p.sam).post('/v1/kb/articles', { title: ' ', body: 'b' }), 'title');
    expect((await api(p.sam).post('/v1/kb/articles', { title: 't', body: 'b'.repeat(100_000) })).status).toBe(201);
  });

  it('publishing stamps publishedAt once; PATCH with a stale If-Match → 412; concurrent If-Match writes: one wins', async () => {
    const a = await write(p.sam, { title: uniq('Publish me'), body: 'text', status: 'draft' });
    const published = await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { status: 'published' }, { headers: { 'if-match': '"1"' } });
    expect(published.json).toMatchObject({ status: 'published', version: 2, updatedBy: 'sam' });
    expect(published.json.publishedAt).toBe(published.json.updatedAt);
    expectProblem(await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { title: 'stale' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    const racers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => api(i % 2 ? p.sam : p.root).patch(`/v1/kb/articles/${a.id}`, { title: `racer ${i}` }, { headers: { 'if-match': '"2"' } })),
    );
    expect(racers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(racers.filter((r) => r.status === 412)).toHaveLength(4);
    const now = (await api(p.sam).get(`/v1/kb/articles/${a.id}`)).json;
    expect(now.version).toBe(3);
    expect(now.publishedAt).toBe(published.json.publishedAt);
  });
});

describe('search', () => {
  const p = people();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ids.refundTitle = (await write(p.sam, { title: '如何申请退款', body: 'Open Orders and press Refund.', tags: ['billing'] })).id;
    ids.refundBody = (await write(p.sam, { title: 'Orders FAQ', body: '订单问题。退款请联系客服。refund refund refund', tags: ['faq'] })).id;
    ids.password = (await write(p.sam, { title: 'Reset your PASSWORD', body: '忘记密码？Click "Forgot password".' })).id;
    ids.refunds = (await write(p.sam, { title: 'Refunds overview', body: 'plural only' })).id;
    ids.draft = (await write(p.sam, { title: '退款草稿 refund draft', body: 'internal', status: 'draft' })).id;
    await deliver();
  });

  it('Chinese without spaces: 退款 finds 如何申请退款 (title) and a body mention; 3+ characters match by their bigrams', async () => {
    expect(await search(p.alice, q('退款'))).toEqual([ids.refundTitle, ids.refundBody]);
    expect(await search(p.alice, q('申请退款'))).toEqual([ids.refundTitle]);
    expect(await search(p.alice, q('退'))).toEqual([]); // a lone character matches lone characters only
    expect(await search(p.alice, q('密码'))).toEqual([ids.password]);
  });

  it('Latin by whole words, case-insensitively: Refund finds refund, not refunds', async () => {
    expect(await search(p.alice, q('REFUND'))).toEqual([ids.refundBody, ids.refundTitle]);
    expect(await search(p.alice, q('refunds'))).toEqual([ids.refunds]);
    expect(await search(p.alice, q('password'))).toEqual([ids.password]);
    expect(await search(p.alice, q('ＰＡＳＳＷＯＲＤ'))).toEqual([ids.password]);
  });

  it('every term must match (mixed scripts too); title matches rank first, then occurrences, then newest', async () => {
    expect(await search(p.alice, q('refund 退款'))).toEqual([ids.refundTitle, ids.refundBody]);
    expect(await search(p.alice, q('refund password'))).toEqual([]);
    expect(await search(p.alice, q('orders refund'))).toEqual([ids.refundBody, ids.refundTitle]); // both have both; title hits 1 each, refundBody has more occurrences
    expect(await search(p.alice, q('...'))).toEqual([]);
  });

  it('published only for other roles; writers see drafts and filter by status and tag', async () => {
    for (const who of [p.alice, p.max, p.mia]) expect(await search(who, q('退款 refund'))).not.toContain(ids.draft);
    expect(await search(p.sam, q('退款 refund'))).toEqual([ids.draft, ids.refundTitle, ids.refundBody]);
    expect(await search(p.root, `${q('refund')}&status=draft`)).toEqual([ids.draft]);
    expect(await search(p.alice, `${q('refund')}&tag=billing`)).toEqual([ids.refundTitle]);
    expect(await search(p.alice, 'tag=faq')).toEqual([ids.refundBody]);
    expectProblem(await api(p.alice).get(`/v1/kb/articles?${q('refund')}&status=draft`), 403, 'forbidden');
  });

  it('cursor paging returns every match exactly once, in rank order; a cursor of another query → 400', async () => {
    const all = await search(p.sam, q('refund'));
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: string; json: any } = await api(p.sam).get(`/v1/kb/articles?${q('refund')}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, res.body).toBe(200);
      walked.push(...res.json.items.map((a: { id: string }) => a.id));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(walked).toEqual(all);
    expect(all.length).toBe(3);
    const first = (await api(p.sam).get(`/v1/kb/articles?${q('refund')}&limit=1`)).json.nextCursor;
    expectProblem(await api(p.sam).get(`/v1/kb/articles?${q('退款')}&cursor=${encodeURIComponent(first)}`), 400, 'invalid_cursor');
    expectProblem(await api(p.root).get(`/v1/kb/articles?${q('refund')}&cursor=${encodeURIComponent(first)}`), 400, 'invalid_cursor');
  });
});

describe('the index follows every write', () => {
  const p = people();

  it('an update re-indexes exactly: old terms removed, new ones found', async () => {
    const a = await write(p.sam, { title: 'Printer jam', body: 'open the tray 打印机卡纸' });
    await deliver();
    expect(await search(p.alice, q('tray'))).toEqual([a.id]);
    await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { title: 'Scanner setup', body: 'install the driver 扫描仪' });
    await deliver();
    for (const gone of ['tray', 'printer', '卡纸', '打印']) expect(await search(p.sam, q(gone)), gone).toEqual([]);
    for (const gone of ['tray', 'printer', '卡纸']) expect(await postings(p.tenant, gone), gone).toEqual([]);
    expect(await search(p.alice, q('driver 扫描仪'))).toEqual([a.id]);
    expect(await search(p.alice, q('scanner'))).toEqual([a.id]);
  });

  it('unpublishing or deleting removes it from readers at once (before the index catches up), and from the index after', async () => {
    const a = await write(p.sam, { title: 'Holiday hours 假期', body: 'closed on holidays' });
    const b = await write(p.sam, { title: 'Holiday schedule 假期安排', body: 'see the calendar' });
    await deliver();
    expect(await search(p.alice, q('holiday'))).toEqual([b.id, a.id]);
    await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { status: 'draft' });
    expect((await api(p.sam).delete(`/v1/kb/articles/${b.id}`)).status).toBe(204);
    expect(await search(p.alice, q('holiday'))).toEqual([]);
    expect(await search(p.sam, q('holiday'))).toEqual([a.id]);
    await deliver();
    expect(await search(p.alice, q('holiday'))).toEqual([]);
    expect(await search(p.sam, q('假期'))).toEqual([a.id]);
    expect(await postings(p.tenant, 'holiday')).toEqual([a.id]);
    const left = await db.send(new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': articlePartition(p.tenant, b.id) } }));
    expect(left.Items ?? [], 'nothing of the deleted article is left').toEqual([]);
  });

  it('redelivered and out-of-order events change nothing; a late event for a deleted article is harmless', async () => {
    const a = await write(p.sam, { title: 'Duplicate delivery', body: 'alpha' });
    await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { body: 'beta' });
    // Nobody saw them yet (the outbox's shards hand them out in any order: sorted here).
    const events = (await takePending()).sort((x, y) => x.id.localeCompare(y.id));
    expect(events.map((e) => e.type)).toEqual(['kb.article.created', 'kb.article.updated']);
    // The update first, then the creation, then both again.
    await publisher().publish([events[1]!, events[0]!, ...events]);
    expect(await search(p.alice, q('beta'))).toEqual([a.id]);
    expect(await search(p.alice, q('alpha'))).toEqual([]);
    expect(await reindexArticle(p.tenant, a.id, new Date()), 'already up to date').toBe(false);
    await api(p.sam).delete(`/v1/kb/articles/${a.id}`);
    await deliver();
    await publisher().publish(events);
    expect(await postings(p.tenant, 'beta')).toEqual([]);
  });

  it('two deliveries for one article at once: one writes, the other finds the lease taken and is retried; a lapsed lease is taken over', async () => {
    const a = await write(p.sam, { title: 'Lease test', body: 'gamma delta' });
    await takePending(); // delivered by hand below
    const both = await Promise.allSettled([reindexArticle(p.tenant, a.id, new Date()), reindexArticle(p.tenant, a.id, new Date())]);
    expect(both.some((r) => r.status === 'fulfilled')).toBe(true);
    for (const r of both) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(IndexBusy);
    expect(await reindexArticle(p.tenant, a.id, new Date()), 'the retry finds it done').toBe(false);
    expect(await search(p.alice, q('gamma delta'))).toEqual([a.id]);

    // A delivery that died holding the lease: the next one waits for it to lapse, then takes over.
    await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { body: 'epsilon' });
    await takePending();
    const now = Date.now();
    await db.send(new UpdateCommand({
      TableName: tableName(), Key: indexStateKey(p.tenant, a.id),
      UpdateExpression: 'SET leaseId = :id, leaseUntil = :until', ExpressionAttributeValues: { ':id': 'dead', ':until': now + 60_000 },
    }));
    await expect(reindexArticle(p.tenant, a.id, new Date(now))).rejects.toBeInstanceOf(IndexBusy);
    expect(await reindexArticle(p.tenant, a.id, new Date(now + 61_000))).toBe(true);
    expect(await search(p.alice, q('epsilon'))).toEqual([a.id]);
    expect(await search(p.alice, q('gamma'))).toEqual([]);
  });

  it('an article with more terms than a transaction holds is indexed whole, and re-indexed exactly', async () => {
    const words = Array.from({ length: 4500 }, (_, i) => `w${i.toString(36)}x`);
    const a = await write(p.sam, { title: 'Glossary 术语表', body: words.join(' ') });
    await deliver();
    expect(await search(p.alice, q(`${words[4499]} ${words[0]}`))).toEqual([a.id]);
    const chunks = await db.send(new QueryCommand({
      TableName: tableName(), KeyConditionExpression: 'PK = :pk AND begins_with(SK, :c)',
      ExpressionAttributeValues: { ':pk': articlePartition(p.tenant, a.id), ':c': 'KBTERMS#' },
    }));
    expect(chunks.Items?.length).toBe(3); // 4,500 words + 3 title terms in chunks of 2,000
    await api(p.sam).patch(`/v1/kb/articles/${a.id}`, { body: words.slice(0, 100).join(' ') });
    await deliver();
    expect(await search(p.alice, q(words[4499]!))).toEqual([]);
    expect(await postings(p.tenant, words[4499]!)).toEqual([]);
    expect(await search(p.alice, q(words[99]!))).toEqual([a.id]);
  });
});
