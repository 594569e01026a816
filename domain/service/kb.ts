/**
 * Knowledge-base articles (知识库, api/service.md): create, read, change, delete, list.
 * Support and admins write and see drafts; every role reads published articles. Each write is
 * ONE transaction: the article's two items (kb-article.ts) and its `kb.article.*` event; the
 * search index follows from that event (kb-index.ts), so a search may miss a write for the
 * moment the relay takes to deliver it. Lists without `q` read the articles themselves.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { forbidden, notFound, versionMismatch } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { mergePatch, newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { getItems, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import {
  articleKey,
  articlesPartition,
  bodyItem,
  bodyKey,
  EXCERPT_LENGTH,
  isKbWriter,
  KB_WRITERS,
  metaItem,
  statusPartition,
  summaryFromItem,
  summaryOf,
  visibleTo,
  type Article,
  type ArticleCreate,
  type ArticlePatch,
  type ArticleStatus,
  type ArticleSummary,
} from '#domain/service/kb-article.ts';
import { searchArticles } from '#domain/service/kb-search.ts';

export interface ArticleFilters {
  q?: string | undefined;
  tag?: string | undefined;
  status?: ArticleStatus | undefined;
}

const excerptOf = (body: string) => [...body].slice(0, EXCERPT_LENGTH).join('');

/** The event payload: the article without its body (an event stays far below EventBridge's 256 KB). */
const eventSnapshot = (a: Article): ArticleSummary & Record<string, unknown> => ({ ...summaryOf(a) });

export async function createArticle(ctx: UseCaseContext, body: ArticleCreate): Promise<Article> {
  requireRole(ctx.identity, ...KB_WRITERS);
  const tenantId = ctx.identity.tenantId;
  const at = ctx.now.toISOString();
  const article: Article = {
    id: newId(ctx),
    title: body.title,
    body: body.body,
    tags: body.tags,
    status: body.status,
    excerpt: excerptOf(body.body),
    createdBy: ctx.identity.userId,
    updatedBy: ctx.identity.userId,
    publishedAt: body.status === 'published' ? at : null,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  return new UnitOfWork(ctx)
    .put(metaItem(tenantId, article), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on article ${article.id}`) })
    .put(bodyItem(tenantId, article))
    .emit('kb.article.created', { type: 'kb.article', id: article.id }, eventSnapshot(article))
    .commit(article);
}

/** The article with its body, if the caller may read it (a draft is a 404 to readers). */
async function loadArticle(ctx: UseCaseContext, id: string): Promise<Article> {
  const tenantId = ctx.identity.tenantId;
  const [meta, body] = await getItems([articleKey(tenantId, id), bodyKey(tenantId, id)]);
  if (!meta || !visibleTo(ctx.identity, meta.status as string)) throw notFound('article');
  return { ...summaryFromItem(meta), body: (body?.body as string | undefined) ?? '' };
}

export const getArticle = (ctx: UseCaseContext, id: string) => loadArticle(ctx, id);

/** An article the caller may change: 404 when it may not even read it, then 403 for readers. */
async function loadWritable(ctx: UseCaseContext, id: string): Promise<Article> {
  const article = await loadArticle(ctx, id);
  if (!isKbWriter(ctx.identity)) throw forbidden('Only support and admins change knowledge-base articles.');
  return article;
}

const versionIs = (version: number) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': version },
  onConditionFailed: () => new VersionRace(),
});

export async function updateArticle(ctx: UseCaseContext, id: string, patch: ArticlePatch, ifMatch: number | undefined): Promise<Article> {
  const tenantId = ctx.identity.tenantId;
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadWritable(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    const merged = mergePatch(before, patch as Record<string, unknown>);
    if (JSON.stringify(merged) === JSON.stringify(before)) return before;
    const at = ctx.now.toISOString();
    const next: Article = {
      ...merged,
      excerpt: excerptOf(merged.body),
      publishedAt: before.publishedAt ?? (merged.status === 'published' ? at : null),
      updatedBy: ctx.identity.userId,
      updatedAt: at,
      version: before.version + 1,
    };
    const changed = Object.keys(patch).filter((k) => JSON.stringify((before as never)[k]) !== JSON.stringify((next as never)[k]));
    const uow = new UnitOfWork(ctx).put(metaItem(tenantId, next), versionIs(before.version));
    // The body item is rewritten only when the body changed (it is the article's big item).
    if (next.body !== before.body) uow.put(bodyItem(tenantId, next));
    return uow
      .emit('kb.article.updated', { type: 'kb.article', id }, { before: eventSnapshot(before), after: eventSnapshot(next), changed })
      .commit(next);
  });
}

export async function deleteArticle(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  await retryOnVersionRace(ifMatch, async () => {
    const article = await loadWritable(ctx, id);
    if (ifMatch !== undefined && ifMatch !== article.version) throw versionMismatch();
    await new UnitOfWork(ctx)
      .delete(articleKey(tenantId, id), versionIs(article.version))
      .delete(bodyKey(tenantId, id))
      .emit('kb.article.deleted', { type: 'kb.article', id }, { id })
      .commit(undefined);
  });
}

/**
 * `GET /v1/kb/articles`: with `q`, the search (kb-search.ts); without, newest first from the
 * articles' own index partitions: one status (`byParent` `T#t#KB#STATUS#<status>`) for readers,
 * who see published articles only, or for a writer's `status` filter; every article (`byType`
 * `T#t#KB`) for a writer without one. `tag` is a FilterExpression within that partition.
 */
export async function listArticles(ctx: UseCaseContext, filters: ArticleFilters, page: PageRequest): Promise<Page<ArticleSummary>> {
  if (filters.status && filters.status !== 'published' && !isKbWriter(ctx.identity)) {
    throw forbidden('Only support and admins see draft articles.');
  }
  if (filters.q !== undefined) return searchArticles(ctx, { q: filters.q, tag: filters.tag, status: filters.status }, page);
  const tenantId = ctx.identity.tenantId;
  const status = filters.status ?? (isKbWriter(ctx.identity) ? undefined : 'published');
  const spec: QuerySpec = status
    ? { index: 'byParent', pk: statusPartition(tenantId, status), newestFirst: true }
    : { index: 'byType', pk: articlesPartition(tenantId), newestFirst: true };
  if (filters.tag) spec.filter = { expression: 'contains(#tags, :tag)', names: { '#tags': 'tags' }, values: { ':tag': filters.tag } };
  return queryPage(spec, page, (item) => (visibleTo(ctx.identity, item.status as string) ? summaryFromItem(item) : undefined));
}
