/** HTTP: activities (follow-ups). */
import * as z from 'zod/mini';
import { activityCreate, activityPatch, activityView } from '#domain/accounts/activity.ts';
import { deleteActivity, getActivity, listActivities, logActivity, updateActivity } from '#domain/accounts/activities.ts';
import * as f from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    accountId: z.optional(f.id),
    contactId: z.optional(f.id),
    opportunityId: z.optional(f.id),
    leadId: z.optional(f.id),
  }),
);

export const handler = httpFunction({
  'POST /v1/activities': operation({ body: activityCreate, creates: '/v1/activities', response: activityView, run: ({ ctx, body }) => logActivity(ctx, body) }),
  'GET /v1/activities': operation({ query: listQuery, response: z.lazy(() => f.pageOf(activityView)), run: ({ ctx, query, page }) => listActivities(ctx, query, page) }),
  'GET /v1/activities/{id}': operation({ response: activityView, run: ({ ctx, params }) => getActivity(ctx, params.id!) }),
  'PATCH /v1/activities/{id}': operation({
    body: activityPatch,
    response: activityView,
    run: ({ ctx, params, body, ifMatch }) => updateActivity(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/activities/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteActivity(ctx, params.id!, ifMatch) }),
});
