/** HTTP: outbound webhooks (api/integrations.md). Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import { pageOf } from '#domain/fields.ts';
import {
  DELIVERY_STATUSES,
  deliveryParams,
  deliveryView,
  eventTypeView,
  webhookBody,
  webhookPatch,
  webhookView,
  webhookWithSecretView,
} from '#domain/integrations/webhook.ts';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listEventTypes,
  listWebhooks,
  retryDelivery,
  rotateWebhookSecret,
  updateWebhook,
} from '#domain/integrations/webhooks.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));
const deliveriesQuery = z.lazy(() => z.strictObject({ ...listParams(), status: z.optional(z.enum(DELIVERY_STATUSES)) }));

export const handler = httpFunction({
  'POST /v1/webhooks': operation({ body: webhookBody, creates: '/v1/webhooks', response: webhookWithSecretView, run: ({ ctx, body }) => createWebhook(ctx, body) }),
  'GET /v1/webhooks': operation({ query: listQuery, response: z.lazy(() => pageOf(webhookView)), run: ({ ctx, page }) => listWebhooks(ctx, page) }),
  'GET /v1/webhooks/event-types': operation({ query: listQuery, response: z.lazy(() => pageOf(eventTypeView)), run: async ({ ctx, page }) => listEventTypes(ctx, page) }),
  'GET /v1/webhooks/{id}': operation({ response: webhookView, run: ({ ctx, params }) => getWebhook(ctx, params.id!) }),
  'PATCH /v1/webhooks/{id}': operation({
    body: webhookPatch,
    response: webhookView,
    run: ({ ctx, params, body, ifMatch }) => updateWebhook(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/webhooks/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteWebhook(ctx, params.id!, ifMatch) }),
  'POST /v1/webhooks/{id}/rotate-secret': operation({ response: webhookWithSecretView, run: ({ ctx, params }) => rotateWebhookSecret(ctx, params.id!) }),
  'GET /v1/webhooks/{id}/deliveries': operation({
    query: deliveriesQuery,
    response: z.lazy(() => pageOf(deliveryView)),
    run: ({ ctx, params, query, page }) => listDeliveries(ctx, params.id!, query.status, page),
  }),
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': operation({
    params: deliveryParams,
    response: deliveryView,
    run: ({ ctx, params }) => retryDelivery(ctx, params.id!, params.deliveryId!),
  }),
});
