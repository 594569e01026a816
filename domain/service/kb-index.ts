/**
 * Keeps the knowledge-base search index (kb-search.ts) equal to the articles: the consumer of
 * `kb.article.created/updated/deleted`.
 *
 * Why a consumer and not the article's own transaction: a 100,000-character body holds tens of
 * thousands of distinct terms, far past a transaction's 100 items. So the article's write commits
 * the article and its event; this consumer brings the index up to the article AS IT NOW IS,
 * whichever event arrives (a late or repeated one finds nothing to do):
 *
 * 1. ONE strongly consistent Query of the article's partition: `KB`, `KBBODY`, `KBINDEX` (the
 *    version and status indexed) and `KBTERMS#<n>` (the terms indexed, with their stats, 2,000 a
 *    chunk, so removing the old terms is exact).
 * 2. Nothing to do when `KBINDEX` already holds the article's version (or neither exists).
 * 3. A lease on `KBINDEX` (conditioned: free or expired) so two deliveries never interleave their
 *    writes for one article; a delivery that finds it taken fails and is retried.
 * 4. BatchWriteItem: Put the postings that are new or changed (all of them when the status
 *    changed), Delete those of terms gone; then the new `KBTERMS` chunks; then `KBINDEX` with the
 *    version, releasing the lease (conditioned on holding it). Killed halfway, the next delivery
 *    starts again from step 1: every write is idempotent. A deleted article's postings, chunks
 *    and `KBINDEX` are deleted.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { DomainEvent } from '#events/catalog.ts';
import { db, tableName } from '#domain/table/client.ts';
import { queryAll } from '#domain/table/query.ts';
import { articlePartition, indexStateKey, postingKey, termChunkKey } from '#domain/service/kb-article.ts';
import { articleTerms, type TermStats } from '#domain/service/kb-terms.ts';

export const KB_EVENTS = ['kb.article.created', 'kb.article.updated', 'kb.article.deleted'] as const;

const CHUNK_TERMS = 2000;
/** Twice a consumer's timeout (30 s, infra/workers-stack.ts): a crashed delivery's lease lapses before the first retry (~1 min). */
const LEASE_MS = 60 * 1000;
const WRITE_CONCURRENCY = 4;

type Item = Record<string, unknown>;
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/** A term's entry in a `KBTERMS` chunk: `term`, TAB, `1`/`0` (in the title), TAB, occurrences. */
const entryOf = (term: string, s: TermStats) => `${term}\t${s.title ? 1 : 0}\t${s.count}`;

export class IndexBusy extends Error {}

export async function applyKbEvent(event: DomainEvent): Promise<void> {
  if (!(KB_EVENTS as readonly string[]).includes(event.type)) return;
  await reindexArticle(event.tenantId, event.entity.id, new Date());
}

/** Brings the index of one article up to the article as it is now. Returns whether it wrote anything. */
export async function reindexArticle(tenantId: string, articleId: string, now: Date): Promise<boolean> {
  // 1. The article and what the index holds for it.
  const items = await queryAll({ pk: articlePartition(tenantId, articleId), consistent: true }, () => false);
  const bySk = new Map(items.map((i) => [i.SK as string, i]));
  const meta = bySk.get('KB');
  const state = bySk.get('KBINDEX');
  const chunks = items.filter((i) => (i.SK as string).startsWith('KBTERMS#'));

  // 2. Already there?
  if (!meta && !state && chunks.length === 0) return false;
  if (meta && state && state.v === meta.version && state.s === meta.status && state.leaseUntil === undefined) return false;

  // 3. The lease.
  const leaseId = ulid();
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: indexStateKey(tenantId, articleId),
        UpdateExpression: 'SET leaseId = :id, leaseUntil = :until, tenantId = :t, entityType = :e',
        ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
        ExpressionAttributeValues: { ':id': leaseId, ':until': now.getTime() + LEASE_MS, ':now': now.getTime(), ':t': tenantId, ':e': 'KBINDEX' },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new IndexBusy(`the index of article ${articleId} is being written; retry`);
    throw err;
  }

  // 4. The difference, written.
  const old = new Map<string, string>();
  for (const chunk of chunks) {
    for (const entry of (chunk.entries as string[] | undefined) ?? []) old.set(entry.slice(0, entry.indexOf('\t')), entry);
  }
  const target = meta ? articleTerms(meta.title as string, (bySk.get('KBBODY')?.body as string | undefined) ?? '') : new Map<string, TermStats>();
  const statusChanged = state?.s !== meta?.status;
  const writes: WriteRequest[] = [];
  const entries: string[] = [];
  for (const [term, stats] of target) {
    const entry = entryOf(term, stats);
    entries.push(entry);
    if (old.get(term) === entry && !statusChanged) continue;
    writes.push({
      PutRequest: {
        Item: { ...postingKey(tenantId, term, articleId), t: stats.title ? 1 : 0, n: stats.count, s: meta!.status, v: meta!.version },
      },
    });
  }
  for (const term of old.keys()) if (!target.has(term)) writes.push({ DeleteRequest: { Key: postingKey(tenantId, term, articleId) } });
  await batchWrite(writes);

  const chunkWrites: WriteRequest[] = [];
  const newChunks = Math.ceil(entries.length / CHUNK_TERMS);
  for (let n = 0; n < newChunks; n++) {
    chunkWrites.push({ PutRequest: { Item: { ...termChunkKey(tenantId, articleId, n), tenantId, entityType: 'KBTERMS', entries: entries.slice(n * CHUNK_TERMS, (n + 1) * CHUNK_TERMS) } } });
  }
  for (const chunk of chunks) {
    const n = Number((chunk.SK as string).slice('KBTERMS#'.length));
    if (n >= newChunks) chunkWrites.push({ DeleteRequest: { Key: termChunkKey(tenantId, articleId, n) } });
  }
  await batchWrite(chunkWrites);

  const mine = { ConditionExpression: 'leaseId = :id', ExpressionAttributeValues: { ':id': leaseId } };
  try {
    if (meta) {
      await db.send(new PutCommand({
        TableName: tableName(),
        Item: { ...indexStateKey(tenantId, articleId), tenantId, entityType: 'KBINDEX', v: meta.version, s: meta.status, terms: entries.length, chunks: newChunks, indexedAt: now.toISOString() },
        ...mine,
      }));
    } else {
      await db.send(new DeleteCommand({ TableName: tableName(), Key: indexStateKey(tenantId, articleId), ...mine }));
    }
  } catch (err) {
    // The lease expired and another delivery took over: it finishes the job.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  return true;
}

/** BatchWriteItem in batches of 25, a few at a time, until nothing is left unprocessed. */
async function batchWrite(requests: WriteRequest[]): Promise<void> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += 25) batches.push(requests.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let pending = batches[next++]!;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** Math.min(attempt, 6)));
        const out = await db.send(new BatchWriteCommand({ RequestItems: { [tableName()]: pending } }));
        pending = (out.UnprocessedItems?.[tableName()] ?? []) as WriteRequest[];
      }
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
}
