/** HTTP: opportunities (商机) and their stage history. Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { opportunityCreate, opportunityPatch, opportunityView, OPPORTUNITY_STATUSES, stageHistoryView } from '#domain/sales/opportunity.ts';
import {
  createOpportunity,
  deleteOpportunity,
  getOpportunity,
  listOpportunities,
  opportunityHistory,
  updateOpportunity,
} from '#domain/sales/opportunities.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    /** `me` means the caller. */
    ownerId: z.optional(f.id),
    accountId: z.optional(f.id),
    pipelineId: z.optional(f.id),
    stageId: z.optional(f.id),
    /** `open` and `stalled` split the open opportunities; each item reads the status it was filtered by. */
    status: z.optional(z.enum(OPPORTUNITY_STATUSES)),
    /** On `expectedCloseDate`, inclusive. */
    closeFrom: z.optional(f.date),
    closeTo: z.optional(f.date),
  }),
);

const historyQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'POST /v1/opportunities': operation({
    body: opportunityCreate,
    creates: '/v1/opportunities',
    response: opportunityView,
    run: ({ ctx, body }) => createOpportunity(ctx, body),
  }),
  'GET /v1/opportunities': operation({
    query: listQuery,
    response: z.lazy(() => f.pageOf(opportunityView)),
    run: ({ ctx, query, page }) => listOpportunities(ctx, query, page),
  }),
  'GET /v1/opportunities/{id}': operation({ response: opportunityView, run: ({ ctx, params }) => getOpportunity(ctx, params.id!) }),
  'PATCH /v1/opportunities/{id}': operation({
    body: opportunityPatch,
    response: opportunityView,
    run: ({ ctx, params, body, ifMatch }) => updateOpportunity(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/opportunities/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteOpportunity(ctx, params.id!, ifMatch) }),
  'GET /v1/opportunities/{id}/history': operation({
    query: historyQuery,
    response: z.lazy(() => f.pageOf(stageHistoryView)),
    run: ({ ctx, params, page }) => opportunityHistory(ctx, params.id!, page),
  }),
});
