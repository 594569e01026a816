/** HTTP: knowledge-base articles and their search (api/service.md "Knowledge base"). */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { ARTICLE_STATUSES, articleCreate, articlePatch, articleSummaryView, articleView } from '#domain/service/kb-article.ts';
import { createArticle, deleteArticle, getArticle, listArticles, updateArticle } from '#domain/service/kb.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    q: z.optional(f.text(1, 200)),
    tag: z.optional(f.tag),
    status: z.optional(z.enum(ARTICLE_STATUSES)),
  }),
);

export const handler = httpFunction({
  'POST /v1/kb/articles': operation({ body: articleCreate, creates: '/v1/kb/articles', response: articleView, run: ({ ctx, body }) => createArticle(ctx, body) }),
  'GET /v1/kb/articles': operation({ query: listQuery, response: z.lazy(() => f.pageOf(articleSummaryView)), run: ({ ctx, query, page }) => listArticles(ctx, query, page) }),
  'GET /v1/kb/articles/{id}': operation({ response: articleView, run: ({ ctx, params }) => getArticle(ctx, params.id!) }),
  'PATCH /v1/kb/articles/{id}': operation({
    body: articlePatch,
    response: articleView,
    run: ({ ctx, params, body, ifMatch }) => updateArticle(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/kb/articles/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteArticle(ctx, params.id!, ifMatch) }),
});
