/** HTTP: leads and their conversion. Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { LEAD_STATUSES, leadConvert, leadCreate, leadPatch, leadView } from '#domain/sales/lead.ts';
import { createLead, deleteLead, getLead, listLeads, updateLead } from '#domain/sales/leads.ts';
import { convertLead } from '#domain/sales/conversion.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    ownerId: z.optional(f.id),
    status: z.optional(z.enum(LEAD_STATUSES)),
    campaignId: z.optional(f.id),
    q: z.optional(f.text(1, 200)),
  }),
);

export const handler = httpFunction({
  'POST /v1/leads': operation({
    body: leadCreate,
    creates: '/v1/leads',
    custom: { input: 'create', shows: 'leads' },
    response: leadView,
    run: ({ ctx, body }) => createLead(ctx, body),
  }),
  'GET /v1/leads': operation({
    query: listQuery,
    custom: { shows: 'leads' },
    response: z.lazy(() => f.pageOf(leadView)),
    run: ({ ctx, query, page }) => listLeads(ctx, query, page),
  }),
  'GET /v1/leads/{id}': operation({ custom: { shows: 'leads' }, response: leadView, run: ({ ctx, params }) => getLead(ctx, params.id!) }),
  'PATCH /v1/leads/{id}': operation({
    body: leadPatch,
    custom: { input: 'patch', shows: 'leads' },
    response: leadView,
    run: ({ ctx, params, body, ifMatch }) => updateLead(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/leads/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteLead(ctx, params.id!, ifMatch) }),
  'POST /v1/leads/{id}/convert': operation({
    body: leadConvert,
    // The converted lead: `accountId`, `contactId`, `opportunityId?` at its top level (docs/api-decisions.md).
    response: leadView,
    run: ({ ctx, params, body, ifMatch }) => convertLead(ctx, params.id!, body, ifMatch),
  }),
});
