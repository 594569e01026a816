/** HTTP: pipelines (销售阶段) and their stages. Parse → use case → result; everything else is middleware. */
import { pipelineCreate, pipelinePatch, pipelineView } from '#domain/sales/pipeline.ts';
import { createPipeline, deletePipeline, getPipeline, listPipelines, updatePipeline } from '#domain/sales/pipelines.ts';
import * as z from 'zod/mini';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'GET /v1/pipelines': operation({
    query: listQuery,
    response: z.lazy(() => pageOf(pipelineView)),
    run: ({ ctx, page }) => listPipelines(ctx, page),
  }),
  'POST /v1/pipelines': operation({
    body: pipelineCreate,
    creates: '/v1/pipelines',
    response: pipelineView,
    run: ({ ctx, body }) => createPipeline(ctx, body),
  }),
  'GET /v1/pipelines/{id}': operation({ response: pipelineView, run: ({ ctx, params }) => getPipeline(ctx, params.id!) }),
  'PATCH /v1/pipelines/{id}': operation({
    body: pipelinePatch,
    response: pipelineView,
    run: ({ ctx, params, body, ifMatch }) => updatePipeline(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/pipelines/{id}': operation({ run: ({ ctx, params, ifMatch }) => deletePipeline(ctx, params.id!, ifMatch) }),
});
