/** HTTP: custom field definitions (api/marketing.md "Custom fields"). */
import * as z from 'zod/mini';
import { entityParam, fieldSetBody, fieldSetView, getFieldSet, putFieldSet } from '#domain/marketing/custom-fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';

/** `{entity}`: accounts, contacts or leads; anything else names no resource (404). */
const params = z.lazy(() => z.strictObject({ entity: entityParam }));

export const handler = httpFunction({
  'GET /v1/fields/{entity}': operation({ params, response: fieldSetView, run: ({ ctx, params }) => getFieldSet(ctx, entityParam.parse(params.entity)) }),
  'PUT /v1/fields/{entity}': operation({
    params,
    body: fieldSetBody,
    response: fieldSetView,
    run: ({ ctx, params, body, ifMatch }) => putFieldSet(ctx, entityParam.parse(params.entity), body, ifMatch),
  }),
});
