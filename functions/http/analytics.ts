/** HTTP: the analytics pages (api/analytics.md): dashboard, funnel, forecast, its snapshots and accuracy. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { dashboard, dashboardView } from '#domain/analytics/dashboard.ts';
import { forecast, forecastView } from '#domain/analytics/forecast.ts';
import { funnel, funnelView } from '#domain/analytics/funnel.ts';
import { month, monthOrQuarter } from '#domain/analytics/periods.ts';
import { accuracyView, forecastAccuracy, listSnapshots, snapshotView } from '#domain/analytics/snapshots.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

/** `userId` (`me` allowed) or `teamId`: naming both is refused by the scope rules. Built on first use (domain/fields.ts). */
const scope = builtOnFirstUse(() => ({ userId: z.optional(f.id), teamId: z.optional(f.id) }));

export const handler = httpFunction({
  'GET /v1/dashboard': operation({
    query: z.lazy(() => z.strictObject({ ...scope(), period: z.optional(month) })),
    response: dashboardView,
    run: ({ ctx, query }) => dashboard(ctx, query),
  }),
  'GET /v1/reports/funnel': operation({
    query: z.lazy(() => z.strictObject({ ...scope(), pipelineId: z.optional(f.id), from: z.optional(month), to: z.optional(month) })),
    response: funnelView,
    run: ({ ctx, query }) => funnel(ctx, query),
  }),
  'GET /v1/forecast': operation({
    query: z.lazy(() => z.strictObject({ ...scope(), period: z.optional(monthOrQuarter) })),
    response: forecastView,
    run: ({ ctx, query }) => forecast(ctx, query),
  }),
  'GET /v1/forecast/snapshots': operation({
    query: z.lazy(() => z.strictObject({ ...listParams(), ...scope(), period: z.optional(monthOrQuarter) })),
    response: z.lazy(() => f.pageOf(snapshotView)),
    run: ({ ctx, query, page }) => listSnapshots(ctx, query, page),
  }),
  'GET /v1/forecast/accuracy': operation({
    query: z.lazy(() => z.strictObject({ ...scope(), periods: z._default(f.queryInt(1, 24), 6) })),
    response: accuracyView,
    run: ({ ctx, query }) => forecastAccuracy(ctx, query),
  }),
});
