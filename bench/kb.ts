/**
 * Knowledge-base search (issue 9 point 4): what a search costs over 10,000 articles of mixed
 * Chinese and English text.
 *
 * - `kb.search.requests`, `kb.search.rcu`: `GET /v1/kb/articles?q=退款 invoice&limit=25` as a
 *   rep (published articles only), every DynamoDB request of the call (the caller's directory
 *   write is done before); `kb.search.matches`, and each term's postings (`kb.search.postings.*`);
 * - `kb.search.common.*`: the same for two of the most common terms (`account 登录`), the case
 *   that reads the longest posting lists;
 * - `kb.suggest.requests`, `kb.suggest.rcu`: `suggestArticles` for a ticket subject.
 *
 * Seeding goes through the domain: `createArticle` (the article's transaction) and
 * `reindexArticle` (what the `kb-index` consumer does for its event), 8 at a time; the events
 * stay in the outbox. Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/kb.ts`
 * (starts its own DynamoDB Local; a few minutes on 2 cores).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface KbBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const ARTICLES = Number(process.env.BENCH_KB_ARTICLES ?? 10_000);
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
const progress = (msg: string) => process.stderr.write(`bench: kb: ${msg}\n`);

const ENGLISH = (
  'account login password reset invoice payment order shipping delivery return exchange warranty ' +
  'subscription plan upgrade downgrade cancel billing address email phone verify security device app ' +
  'browser error timeout sync export import report dashboard permission role team admin setting ' +
  'notification integration api webhook token quota limit storage backup restore language region'
).split(' ');
const CHINESE = (
  '登录 密码 重置 发票 支付 订单 物流 配送 退货 换货 保修 订阅 套餐 升级 降级 取消 账单 地址 邮箱 手机 ' +
  '验证 安全 设备 应用 浏览器 错误 超时 同步 导出 导入 报表 权限 角色 团队 管理员 设置 通知 集成 接口 配额 ' +
  '存储 备份 恢复 语言 地区 退款 客服 工单 账号 优惠券'
).split(' ');

/** A deterministic generator (mulberry32), so every run seeds the same corpus. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like pick: early words of a list are far more common than late ones. */
const pick = (r: () => number, words: string[]) => words[Math.floor(words.length * r() ** 2.2)]!;

function articleText(i: number): { title: string; body: string; tags: string[] } {
  const r = rng(i + 1);
  const title = `${pick(r, CHINESE)}${pick(r, CHINESE)}常见问题 ${pick(r, ENGLISH)} ${pick(r, ENGLISH)} guide`;
  const sentences: string[] = [];
  for (let s = 0; s < 4; s++) {
    sentences.push(`如何${pick(r, CHINESE)}${pick(r, CHINESE)}？请在${pick(r, CHINESE)}页面操作。`);
    sentences.push(`To ${pick(r, ENGLISH)} your ${pick(r, ENGLISH)}, open ${pick(r, ENGLISH)} and check the ${pick(r, ENGLISH)}.`);
  }
  return { title, body: `## ${title}\n\n${sentences.join(' ')}`, tags: [pick(r, ENGLISH)] };
}

async function seedArticles(tenant: string): Promise<void> {
  const { createArticle } = await import('#domain/service/kb.ts');
  const { reindexArticle } = await import('#domain/service/kb-index.ts');
  const author = { tenantId: tenant, userId: 'kb-author', role: 'support' as const };
  let next = 0;
  const worker = async () => {
    while (next < ARTICLES) {
      const i = next++;
      const text = articleText(i);
      // A tenth are drafts: a rep's search must skip them.
      const article = await createArticle({ identity: author, now: new Date() }, { ...text, status: i % 10 === 9 ? 'draft' : 'published' });
      await reindexArticle(tenant, article.id, new Date());
      if ((i + 1) % 1000 === 0) progress(`${i + 1} articles`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function postingCount(tenant: string, term: string): Promise<number> {
  const { db, tableName } = await import('#domain/table/client.ts');
  const { termPartition } = await import('#domain/service/kb-article.ts');
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new QueryCommand({
      TableName: tableName(), KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': termPartition(tenant, term) },
      Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}),
    }));
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
}

export async function kbScenarios({ call, meter, figures, notes }: KbBenchInput): Promise<void> {
  const tenant = `benchkb${Date.now().toString(36)}`;
  const rep: Caller = { tenant, user: 'alice', role: 'rep', team: 'east' };
  try {
    progress(`seeding ${ARTICLES} articles and their index through the domain`);
    await meter.unmetered(() => seedArticles(tenant));
    await call(rep, 'GET', '/v1/kb/articles?limit=1'); // the users directory's first write, outside the figures

    const searches = [
      { prefix: 'kb.search', q: '退款 invoice', terms: ['退款', 'invoice'] },
      { prefix: 'kb.search.common', q: 'account 登录', terms: ['account', '登录'] },
    ];
    for (const s of searches) {
      const start = meter.mark();
      const res = await call(rep, 'GET', `/v1/kb/articles?q=${encodeURIComponent(s.q)}&limit=25`);
      const usage = meter.usageSince(start);
      if (res.status !== 200) throw new Error(`search ${s.q} answered ${res.status} ${res.body.slice(0, 200)}`);
      const items = (res.json as { items: unknown[] }).items;
      // Every match, walking the pages (not measured): how many the ranking ordered.
      let matches = items.length;
      let cursor = (res.json as { nextCursor: string | null }).nextCursor;
      while (cursor) {
        const more = await call(rep, 'GET', `/v1/kb/articles?q=${encodeURIComponent(s.q)}&limit=100&cursor=${encodeURIComponent(cursor)}`);
        const page = more.json as { items: unknown[]; nextCursor: string | null };
        matches += page.items.length;
        cursor = page.nextCursor;
      }
      const postings = await meter.unmetered(() => Promise.all(s.terms.map((t) => postingCount(tenant, t))));
      figures[`${s.prefix}.requests`] = usage.requests;
      figures[`${s.prefix}.rcu`] = round4(usage.rcu);
      figures[`${s.prefix}.matches`] = matches;
      s.terms.forEach((t, i) => (figures[`${s.prefix}.postings.${i + 1}`] = postings[i]!));
      notes.push(
        `${s.prefix}: q="${s.q}" over ${ARTICLES} articles (postings: ${s.terms.map((t, i) => `${t} ${postings[i]}`).join(', ')}): ` +
          `${matches} published matches, first page of ${items.length} in ${usage.requests} requests (${usage.calls.join(', ')}), ${round4(usage.rcu)} RCU.`,
      );
    }

    const { suggestArticles } = await import('#domain/service/kb-search.ts');
    const subject = '无法登录，提示密码错误 cannot reset password';
    const start = meter.mark();
    const suggested = await suggestArticles(tenant, subject);
    const usage = meter.usageSince(start);
    figures['kb.suggest.requests'] = usage.requests;
    figures['kb.suggest.rcu'] = round4(usage.rcu);
    notes.push(
      `kb.suggest: "${subject}" → ${suggested.length} articles in ${usage.requests} requests (one Query per term of the subject, one BatchGetItem), ${round4(usage.rcu)} RCU.`,
    );
  } catch (err) {
    notes.push(`kb.search: no figure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `npx tsx bench/kb.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('kb', kbScenarios);
