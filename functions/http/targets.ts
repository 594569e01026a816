/** HTTP: sales targets (目标) per user or team and month. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { period, targetPut, targetView } from '#domain/sales/target.ts';
import { listTargets, setTarget } from '#domain/sales/targets.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams, validate } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    /** `me` means the caller. */
    userId: z.optional(f.id),
    teamId: z.optional(f.id),
  }),
);

/** The month in the path: `YYYY-MM`, else 400 (it is input, not an id that may not exist). */
const periodPath = z.lazy(() => z.strictObject({ period }));
const periodOf = (params: Record<string, string>) => validate(periodPath, { period: params.period }, 'path').period;

export const handler = httpFunction({
  'PUT /v1/targets/{period}': operation({
    body: targetPut,
    response: targetView,
    run: ({ ctx, params, body }) => setTarget(ctx, periodOf(params), body),
  }),
  'GET /v1/targets/{period}': operation({
    query: listQuery,
    response: z.lazy(() => f.pageOf(targetView)),
    run: ({ ctx, params, query, page }) => listTargets(ctx, periodOf(params), query, page),
  }),
});
