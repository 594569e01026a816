/** HTTP: inbound forms, managed by admins (api/integrations.md). Parse → use case → result; the public `/in/forms/{id}` is in public.ts. */
import * as z from 'zod/mini';
import { pageOf } from '#domain/fields.ts';
import { formCreate, formPatch, formView, formWithSecret } from '#domain/integrations/form.ts';
import { createForm, deleteForm, getForm, listForms, rotateFormSecret, updateForm } from '#domain/integrations/forms.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { httpFunctions } from '#functions/routes.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  // The secret is in this answer and in the rotation's, never again.
  'POST /v1/forms': operation({
    body: formCreate,
    creates: '/v1/forms',
    response: formWithSecret,
    run: ({ ctx, body }) => createForm(ctx, body),
  }),
  'GET /v1/forms': operation({ query: listQuery, response: z.lazy(() => pageOf(formView)), run: ({ ctx, page }) => listForms(ctx, page) }),
  'GET /v1/forms/{id}': operation({ response: formView, run: ({ ctx, params }) => getForm(ctx, params.id!) }),
  'PATCH /v1/forms/{id}': operation({
    body: formPatch,
    response: formView,
    run: ({ ctx, params, body, ifMatch }) => updateForm(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/forms/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteForm(ctx, params.id!, ifMatch) }),
  'POST /v1/forms/{id}/rotate-secret': operation({
    response: formWithSecret,
    run: ({ ctx, params, ifMatch }) => rotateFormSecret(ctx, params.id!, ifMatch),
  }),
}, { sharedKeys: httpFunctions['forms'].sharedKeys });
