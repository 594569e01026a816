/** HTTP: marketing workflows (营销自动化) and their runs. Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import { workflowCreate, workflowPatch, workflowRunView, workflowView } from '#domain/marketing/workflow.ts';
import { pageOf } from '#domain/fields.ts';
import { createWorkflow, deleteWorkflow, getWorkflow, listRuns, listWorkflows, updateWorkflow } from '#domain/marketing/workflows.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'POST /v1/workflows': operation({
    body: workflowCreate,
    creates: '/v1/workflows',
    response: workflowView,
    run: ({ ctx, body }) => createWorkflow(ctx, body),
  }),
  'GET /v1/workflows': operation({ query: listQuery, response: z.lazy(() => pageOf(workflowView)), run: ({ ctx, page }) => listWorkflows(ctx, page) }),
  'GET /v1/workflows/{id}': operation({ response: workflowView, run: ({ ctx, params }) => getWorkflow(ctx, params.id!) }),
  'PATCH /v1/workflows/{id}': operation({
    body: workflowPatch,
    response: workflowView,
    run: ({ ctx, params, body, ifMatch }) => updateWorkflow(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/workflows/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteWorkflow(ctx, params.id!, ifMatch) }),
  'GET /v1/workflows/{id}/runs': operation({
    query: listQuery,
    response: z.lazy(() => pageOf(workflowRunView)),
    run: ({ ctx, params, page }) => listRuns(ctx, params.id!, page),
  }),
});
