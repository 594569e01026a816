/** HTTP: segments and their members (api/marketing.md "Segments"). */
import * as z from 'zod/mini';
import {
  countSegment,
  createSegment,
  deleteSegment,
  getSegment,
  listSegments,
  segmentCountView,
  segmentCreate,
  segmentMemberView,
  segmentMembersPage,
  segmentPatch,
  segmentView,
  updateSegment,
} from '#domain/marketing/segments.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const pageQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'POST /v1/segments': operation({ body: segmentCreate, creates: '/v1/segments', response: segmentView, run: ({ ctx, body }) => createSegment(ctx, body) }),
  'GET /v1/segments': operation({ query: pageQuery, response: z.lazy(() => pageOf(segmentView)), run: ({ ctx, page }) => listSegments(ctx, page) }),
  'GET /v1/segments/{id}': operation({ response: segmentView, run: ({ ctx, params }) => getSegment(ctx, params.id!) }),
  'PATCH /v1/segments/{id}': operation({
    body: segmentPatch,
    response: segmentView,
    run: ({ ctx, params, body, ifMatch }) => updateSegment(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/segments/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteSegment(ctx, params.id!, ifMatch) }),
  'GET /v1/segments/{id}/members': operation({
    query: pageQuery,
    response: z.lazy(() => pageOf(segmentMemberView)),
    run: ({ ctx, params, page }) => segmentMembersPage(ctx, params.id!, page),
  }),
  'GET /v1/segments/{id}/count': operation({ response: segmentCountView, run: ({ ctx, params }) => countSegment(ctx, params.id!) }),
});
