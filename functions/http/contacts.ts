/** HTTP: contacts. */
import * as z from 'zod/mini';
import { contactCreate, contactPatch, contactView } from '#domain/accounts/contact.ts';
import { createContact, deleteContact, getContact, listContacts, updateContact } from '#domain/accounts/contacts.ts';
import * as f from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    accountId: z.optional(f.id),
    tag: z.optional(f.tag),
    q: z.optional(f.text(1, 200)),
  }),
);

export const handler = httpFunction({
  'POST /v1/contacts': operation({ body: contactCreate, creates: '/v1/contacts', custom: { input: 'create', shows: 'contacts' }, response: contactView, run: ({ ctx, body }) => createContact(ctx, body) }),
  'GET /v1/contacts': operation({ query: listQuery, custom: { shows: 'contacts' }, response: z.lazy(() => f.pageOf(contactView)), run: ({ ctx, query, page }) => listContacts(ctx, query, page) }),
  'GET /v1/contacts/{id}': operation({ custom: { shows: 'contacts' }, response: contactView, run: ({ ctx, params }) => getContact(ctx, params.id!) }),
  'PATCH /v1/contacts/{id}': operation({
    body: contactPatch,
    custom: { input: 'patch', shows: 'contacts' },
    response: contactView,
    run: ({ ctx, params, body, ifMatch }) => updateContact(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/contacts/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteContact(ctx, params.id!, ifMatch) }),
});
