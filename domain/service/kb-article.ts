/**
 * A knowledge-base article (知识库, api/service.md): its shape, its keys, its stored form.
 *
 * Items, all in the article's own partition `T#t#KB#<id>`:
 * - `KB`: everything but the body (title, tags, status, excerpt, times, version). In `byType`
 *   `T#t#KB` and `byParent` `T#t#KB#STATUS#<status>`, sort key the id (a ULID: newest first is a
 *   backwards Query), so list pages and search pages read these small items only;
 * - `KBBODY`: the Markdown body (up to 100,000 characters: ~300 KB of UTF-8, within an item's
 *   400 KB), in no index;
 * - `KBINDEX` and `KBTERMS#<n>`: what the search index holds for the article (kb-index.ts).
 * Postings live in the term's partition: `T#t#KBTERM#<term>` / `<articleId>`.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { Identity } from '#domain/identity.ts';
import { stripKeys, t } from '#domain/table/keys.ts';

export const ARTICLE_STATUSES = ['draft', 'published'] as const;
export type ArticleStatus = (typeof ARTICLE_STATUSES)[number];

/** What a list or search page shows of an article: all but the body, plus its first characters. */
export interface ArticleSummary {
  id: string;
  title: string;
  tags: string[];
  status: ArticleStatus;
  /** The body's first EXCERPT_LENGTH characters. */
  excerpt: string;
  createdBy: string;
  updatedBy: string;
  publishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface Article extends ArticleSummary {
  body: string;
}

export const EXCERPT_LENGTH = 200;
export const MAX_BODY = 100_000;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** An article as lists, searches and suggestions show it: all but the body. */
const articleSummaryObject = builtOnFirstUse(() =>
  z.object({
    id: f.out.id,
    title: f.out.name,
    tags: f.out.tags,
    status: z.enum(ARTICLE_STATUSES),
    excerpt: f.out.text.check(z.describe(`the body's first ${EXCERPT_LENGTH} characters`)),
    createdBy: f.out.id,
    updatedBy: f.out.id,
    publishedAt: z.nullable(f.out.timestamp).check(z.describe('when it was first published')),
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);
export const articleSummaryView = z.lazy(articleSummaryObject);

/** One article (create, get, patch): with its Markdown body. */
export const articleView = z.lazy(() => z.extend(articleSummaryObject(), { body: f.upTo(MAX_BODY).check(z.describe('Markdown')) }));

const fields = builtOnFirstUse(() => ({
  title: f.name,
  body: f.text(1, MAX_BODY),
  tags: z._default(f.tags, []),
  status: z._default(z.enum(ARTICLE_STATUSES), 'draft'),
}));
export const articleCreate = z.lazy(() => z.strictObject(fields()));
export const articlePatch = z.lazy(() => f.patchOf(fields(), []));
export type ArticleCreate = z.infer<typeof articleCreate>;
export type ArticlePatch = z.infer<typeof articlePatch>;

/** Support and admins write articles and see drafts; every role reads published ones. */
export const KB_WRITERS = ['support', 'admin'] as const;
export const isKbWriter = (who: Identity) => (KB_WRITERS as readonly string[]).includes(who.role);
export const visibleTo = (who: Identity, status: string) => status === 'published' || isKbWriter(who);

export const articlePartition = (tenantId: string, id: string) => `${t(tenantId)}#KB#${id}`;
export const articleKey = (tenantId: string, id: string) => ({ PK: articlePartition(tenantId, id), SK: 'KB' });
export const bodyKey = (tenantId: string, id: string) => ({ PK: articlePartition(tenantId, id), SK: 'KBBODY' });
export const indexStateKey = (tenantId: string, id: string) => ({ PK: articlePartition(tenantId, id), SK: 'KBINDEX' });
export const termChunkKey = (tenantId: string, id: string, n: number) => ({ PK: articlePartition(tenantId, id), SK: `KBTERMS#${String(n).padStart(3, '0')}` });
/** Every article of a tenant (byType), newest first. */
export const articlesPartition = (tenantId: string) => `${t(tenantId)}#KB`;
/** The articles of one status (byParent), newest first. */
export const statusPartition = (tenantId: string, status: string) => `${t(tenantId)}#KB#STATUS#${status}`;
/** One term's postings: one item per article holding the term. */
export const termPartition = (tenantId: string, term: string) => `${t(tenantId)}#KBTERM#${term}`;
export const postingKey = (tenantId: string, term: string, articleId: string) => ({ PK: termPartition(tenantId, term), SK: articleId });

export function summaryOf(a: Article): ArticleSummary {
  const { body: _body, ...rest } = a;
  return rest;
}

export function metaItem(tenantId: string, a: Article): Record<string, unknown> {
  return {
    ...summaryOf(a),
    ...articleKey(tenantId, a.id),
    tenantId,
    entityType: 'KB',
    typePk: articlesPartition(tenantId),
    typeSk: a.id,
    parentPk: statusPartition(tenantId, a.status),
    parentSk: a.id,
  };
}

export function bodyItem(tenantId: string, a: Article): Record<string, unknown> {
  return { ...bodyKey(tenantId, a.id), tenantId, entityType: 'KBBODY', body: a.body, version: a.version };
}

export const summaryFromItem = (item: Record<string, unknown>) => stripKeys<ArticleSummary>(item);
