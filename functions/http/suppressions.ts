/** HTTP: the suppression list (api/marketing.md). Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import {
  addSuppression,
  deleteSuppression,
  emailFromPath,
  getSuppression,
  listSuppressions,
  suppressionBody,
  suppressionParams,
  suppressionView,
  type Added,
} from '#domain/marketing/suppressions.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'GET /v1/suppressions': operation({ query: listQuery, response: z.lazy(() => pageOf(suppressionView)), run: ({ ctx, page }) => listSuppressions(ctx, page) }),
  // Again for the same address: 200 with the entry as it is (the outcome says which).
  'POST /v1/suppressions': operation({
    body: suppressionBody,
    creates: '/v1/suppressions',
    response: suppressionView,
    outcome: (r: Added) => ({ created: r.created, body: r.suppression }),
    run: ({ ctx, body }) => addSuppression(ctx, body),
  }),
  'GET /v1/suppressions/{id}': operation({
    params: suppressionParams,
    response: suppressionView,
    run: ({ ctx, params }) => getSuppression(ctx, emailFromPath(params.id!)),
  }),
  'DELETE /v1/suppressions/{id}': operation({
    params: suppressionParams,
    run: ({ ctx, params, ifMatch }) => deleteSuppression(ctx, emailFromPath(params.id!), ifMatch),
  }),
});
