/** HTTP: API keys (api/integrations.md "API keys") and the tenant's rate limits. Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import { pageOf } from '#domain/fields.ts';
import {
  apiKeyView,
  createApiKey,
  createApiKeyBody,
  createdApiKeyView,
  deleteApiKey,
  getApiKey,
  listApiKeys,
} from '#domain/integrations/api-keys.ts';
import { getRateLimits, putRateLimits, rateLimitsBody, rateLimitsView } from '#domain/integrations/rate-limits.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { httpFunctions } from '#functions/routes.ts';
import { listParams } from '#functions/middleware/request.ts';

export const handler = httpFunction({
  'POST /v1/api-keys': operation({
    body: createApiKeyBody,
    creates: '/v1/api-keys',
    response: createdApiKeyView,
    run: ({ ctx, body }) => createApiKey(ctx, body),
  }),
  'GET /v1/api-keys': operation({
    query: z.lazy(() => z.strictObject({ ...listParams() })),
    response: z.lazy(() => pageOf(apiKeyView)),
    run: ({ ctx, page }) => listApiKeys(ctx, page),
  }),
  'GET /v1/api-keys/{id}': operation({ response: apiKeyView, run: ({ ctx, params }) => getApiKey(ctx, params.id!) }),
  'DELETE /v1/api-keys/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteApiKey(ctx, params.id!, ifMatch) }),
  'GET /v1/rate-limits': operation({ response: rateLimitsView, run: ({ ctx }) => getRateLimits(ctx) }),
  'PUT /v1/rate-limits': operation({
    body: rateLimitsBody,
    response: rateLimitsView,
    run: ({ ctx, body }) => putRateLimits(ctx, body),
  }),
}, { sharedKeys: httpFunctions['api-keys'].sharedKeys });
