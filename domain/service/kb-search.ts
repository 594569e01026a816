/**
 * Knowledge-base search (api/service.md "Knowledge base"): reads the term index that
 * kb-index.ts keeps, never the articles one by one.
 *
 * The index: one posting per (term, article), `T#t#KBTERM#<term>` / `<articleId>`, holding what
 * ranking needs: `t` (1 when the term is in the title), `n` (occurrences in title and body, capped
 * at 9999), `s` (the article's status), `v` (the version indexed). About 60 bytes each.
 *
 * A query of k terms (kb-terms.ts `queryTerms`), all of which must match:
 * 1. k Queries in parallel, one per term, each its term's first page of postings (10,000 of
 *    them, ~600 KB). A term whose list ended on that page is complete.
 * 2. The shortest complete list drives: its postings the caller may see are the candidates; a
 *    complete other list is intersected in memory; an incomplete one is checked by BatchGetItem
 *    of (term, candidate) keys when there are at most 300 candidates, else read on
 *    (page after page, up to MAX_POSTINGS_PER_TERM). When no list is complete, the first is read on.
 * 3. Candidates are ranked (title matches first, then occurrences, then newest) and the page's
 *    window of `limit` is read in ONE BatchGetItem of the articles' `KB` items (strongly
 *    consistent: a deleted or unpublished article never shows, whatever the index still says;
 *    `tag` is applied here, so a page may hold fewer than `limit` items while more remain).
 * So a two-term query whose lists fit one page each is 3 requests. Each page recomputes the
 * ranking; its cursor is the rank key of the window's last article, so walking the pages
 * returns each match once even while the index changes.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { UseCaseContext } from '#domain/context.ts';
import { invalidCursor } from '#domain/errors.ts';
import { db } from '#domain/table/client.ts';
import { decodeCursor, encodeCursor } from '#domain/table/cursor.ts';
import { getItems, queryInput, type Page, type PageRequest } from '#domain/table/query.ts';
import { articleKey, postingKey, summaryFromItem, termPartition, visibleTo, type ArticleStatus, type ArticleSummary } from '#domain/service/kb-article.ts';
import { distinctTerms, queryTerms } from '#domain/service/kb-terms.ts';

export type { ArticleSummary } from '#domain/service/kb-article.ts';

/** Terms of a query beyond these are ignored (each is one more posting list to read). */
export const MAX_QUERY_TERMS = 8;
/** A term's postings read at most: past this a very common term matches only the articles read. */
export const MAX_POSTINGS_PER_TERM = 100_000;
/**
 * Tuning of the search's reads (tests shrink it to reach the long-list paths with few articles):
 * - `postingsPerPage`: a posting list's page (DynamoDB's `Limit`; ~60 bytes each, so the default
 *   page is ~600 KB, 75 RCU eventually consistent at most);
 * - `pointCheckMax`: candidates checked against an incomplete list by BatchGetItem (≤ 3 requests
 *   of 100 keys) rather than reading that list on.
 */
export const searchTuning = { postingsPerPage: 10_000, pointCheckMax: 300 };
/** Suggestions: the terms of the text used, and each term's newest postings read. */
export const MAX_SUGGEST_TERMS = 24;
export const SUGGEST_POSTINGS_PER_TERM = 200;

type Item = Record<string, unknown>;
type Key = Record<string, unknown>;

interface Posting {
  id: string;
  title: boolean;
  count: number;
  status: string;
}

const postingOf = (item: Item): Posting => ({ id: item.SK as string, title: item.t === 1, count: Number(item.n ?? 1), status: item.s as string });

interface PostingList {
  term: string;
  postings: Map<string, Posting>;
  /** Where the next page starts; undefined when the list is complete. */
  next: Key | undefined;
}

async function readPostings(tenantId: string, term: string, list?: PostingList, untilComplete = false): Promise<PostingList> {
  const out: PostingList = list ?? { term, postings: new Map(), next: undefined };
  let start = list?.next;
  do {
    const res = await db.send(
      new QueryCommand({ ...queryInput({ pk: termPartition(tenantId, term) }), Limit: searchTuning.postingsPerPage, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of res.Items ?? []) out.postings.set(item.SK as string, postingOf(item));
    start = res.LastEvaluatedKey;
  } while (untilComplete && start && out.postings.size < MAX_POSTINGS_PER_TERM);
  out.next = untilComplete ? undefined : start;
  return out;
}

interface Match {
  id: string;
  titleHits: number;
  count: number;
}

/** The articles holding every term, with what ranking needs, among those `wanted` admits. */
async function matchAll(tenantId: string, terms: string[], wanted: (status: string) => boolean): Promise<Match[]> {
  const lists = await Promise.all(terms.map((term) => readPostings(tenantId, term)));
  const complete = lists.filter((l) => !l.next).sort((a, b) => a.postings.size - b.postings.size);
  const driver = complete[0] ?? (await readPostings(tenantId, lists[0]!.term, lists[0], true));
  const matches = new Map<string, Match>();
  for (const p of driver.postings.values()) {
    if (wanted(p.status)) matches.set(p.id, { id: p.id, titleHits: p.title ? 1 : 0, count: p.count });
  }
  for (const list of lists) {
    if (list.term === driver.term || matches.size === 0) continue;
    let lookup: (id: string) => Posting | undefined;
    if (!list.next) lookup = (id) => list.postings.get(id);
    else if (matches.size <= searchTuning.pointCheckMax) {
      const ids = [...matches.keys()];
      const found = new Map<string, Posting>();
      const chunks: string[][] = [];
      for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100));
      const got = await Promise.all(chunks.map((chunk) => getItems(chunk.map((id) => postingKey(tenantId, list.term, id)), false)));
      for (const item of got.flat()) if (item) found.set(item.SK as string, postingOf(item));
      lookup = (id) => found.get(id);
    } else {
      const full = await readPostings(tenantId, list.term, list, true);
      lookup = (id) => full.postings.get(id);
    }
    for (const m of [...matches.values()]) {
      const p = lookup(m.id);
      if (!p) matches.delete(m.id);
      else {
        m.titleHits += p.title ? 1 : 0;
        m.count += p.count;
      }
    }
  }
  return [...matches.values()];
}

/** Relevance order: more query terms in the title, then more occurrences, then newer (ULIDs sort by time). */
function compareMatches(a: Match, b: Match): number {
  return b.titleHits - a.titleHits || b.count - a.count || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function cursorMatch(page: PageRequest): Match | undefined {
  if (!page.cursor) return undefined;
  const { rank } = decodeCursor(page.scope, page.cursor) as { rank?: unknown };
  if (!Array.isArray(rank) || rank.length !== 3) throw invalidCursor();
  const [titleHits, count, id] = rank as unknown[];
  if (typeof titleHits !== 'number' || typeof count !== 'number' || typeof id !== 'string') throw invalidCursor();
  return { id, titleHits, count };
}

export interface SearchFilters {
  q: string;
  tag?: string | undefined;
  status?: ArticleStatus | undefined;
}

/** One page of `GET /v1/kb/articles?q=`, most relevant first. */
export async function searchArticles(ctx: UseCaseContext, filters: SearchFilters, page: PageRequest): Promise<Page<ArticleSummary>> {
  const who = ctx.identity;
  const after = cursorMatch(page);
  const terms = queryTerms(filters.q).slice(0, MAX_QUERY_TERMS);
  if (terms.length === 0) return { items: [], nextCursor: null };
  const wanted = (status: string) => visibleTo(who, status) && (!filters.status || status === filters.status);

  const ranked = (await matchAll(who.tenantId, terms, wanted)).sort(compareMatches);
  const from = after ? ranked.findIndex((m) => compareMatches(m, after) > 0) : 0;
  const window = from < 0 ? [] : ranked.slice(from, from + page.limit);
  const metas = window.length ? await getItems(window.map((m) => articleKey(who.tenantId, m.id))) : [];
  const items = metas.flatMap((meta) => {
    if (!meta || !wanted(meta.status as string)) return [];
    if (filters.tag && !(meta.tags as string[] | undefined)?.includes(filters.tag)) return [];
    return [summaryFromItem(meta)];
  });
  const last = window[window.length - 1];
  const more = from >= 0 && from + page.limit < ranked.length;
  return { items, nextCursor: more && last ? encodeCursor(page.scope, { rank: [last.titleHits, last.count, last.id] }) : null };
}

/**
 * Published articles sharing at least one term with `text` (a ticket's subject), those sharing
 * the most first (then more shared terms in their title, then newer), at most `limit`. Reads each
 * of the text's first MAX_SUGGEST_TERMS terms' newest SUGGEST_POSTINGS_PER_TERM postings (one
 * Query each, in parallel) and one BatchGetItem of the best articles: a term that common says
 * little about a ticket, so its older articles are not looked at.
 */
export async function suggestArticles(tenantId: string, text: string, limit = 5): Promise<ArticleSummary[]> {
  const terms = distinctTerms(text).slice(0, MAX_SUGGEST_TERMS);
  if (terms.length === 0 || limit <= 0) return [];
  const pages = await Promise.all(
    terms.map((term) =>
      db.send(new QueryCommand({ ...queryInput({ pk: termPartition(tenantId, term), newestFirst: true }), Limit: SUGGEST_POSTINGS_PER_TERM })),
    ),
  );
  const shared = new Map<string, Match>();
  for (const res of pages) {
    for (const item of res.Items ?? []) {
      const p = postingOf(item);
      if (p.status !== 'published') continue;
      const m = shared.get(p.id) ?? { id: p.id, titleHits: 0, count: 0 };
      m.count += 1;
      m.titleHits += p.title ? 1 : 0;
      shared.set(p.id, m);
    }
  }
  const best = [...shared.values()]
    .sort((a, b) => b.count - a.count || b.titleHits - a.titleHits || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    // A few spare: an article unpublished or deleted since it was indexed is skipped.
    .slice(0, Math.min(100, limit * 2));
  if (best.length === 0) return [];
  const metas = await getItems(best.map((m) => articleKey(tenantId, m.id)));
  return metas.flatMap((meta) => (meta && meta.status === 'published' ? [summaryFromItem(meta)] : [])).slice(0, limit);
}
