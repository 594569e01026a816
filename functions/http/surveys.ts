/** HTTP: the service report and NPS surveys (api/service.md "Satisfaction surveys"); the answers are the public `/s/{token}` routes (functions/http/public.ts). */
import * as z from 'zod/mini';
import { createSurvey, getSurvey, listSurveys, sendSurvey, surveyCreate, surveyView } from '#domain/service/surveys-nps.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';
import { month } from '#domain/analytics/periods.ts';
import { getServiceReport, serviceReportView } from '#domain/service/service-report.ts';

export const handler = httpFunction({
  'GET /v1/reports/service': operation({
    query: z.lazy(() => z.strictObject({ period: z.optional(month) })),
    response: serviceReportView,
    run: ({ ctx, query }) => getServiceReport(ctx, query),
  }),
  'POST /v1/surveys': operation({ body: surveyCreate, creates: '/v1/surveys', response: surveyView, run: ({ ctx, body }) => createSurvey(ctx, body) }),
  'GET /v1/surveys': operation({ query: z.lazy(() => z.strictObject({ ...listParams() })), response: z.lazy(() => pageOf(surveyView)), run: ({ ctx, page }) => listSurveys(ctx, page) }),
  'GET /v1/surveys/{id}': operation({ response: surveyView, run: ({ ctx, params }) => getSurvey(ctx, params.id!) }),
  'POST /v1/surveys/{id}/send': operation({ response: surveyView, run: ({ ctx, params, ifMatch }) => sendSurvey(ctx, params.id!, ifMatch) }),
});
