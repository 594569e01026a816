/** HTTP: tickets (工单), their comments, and the tenant's SLA policy. Parse → use case → result. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { slaPolicyBody } from '#domain/service/business-hours.ts';
import { articleSummaryView } from '#domain/service/kb-article.ts';
import { getSlaPolicy, putSlaPolicy, slaPolicyView } from '#domain/service/sla-policy.ts';
import {
  commentCreate,
  TICKET_PRIORITIES,
  TICKET_STATUSES,
  ticketCommentView,
  ticketCreate,
  ticketPatch,
  ticketView,
} from '#domain/service/ticket.ts';
import { addComment, createTicket, getTicket, listComments, listTickets, ticketSuggestions, updateTicket } from '#domain/service/tickets.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    status: z.optional(z.enum(TICKET_STATUSES)),
    priority: z.optional(z.enum(TICKET_PRIORITIES)),
    /** A user id, `me`, or `none` (the unassigned queue). */
    assigneeId: z.optional(f.id),
    accountId: z.optional(f.id),
    /** `true`: either clock breached. */
    breached: z.optional(z.pipe(z.enum(['true', 'false']), z.transform((v: 'true' | 'false') => v === 'true'))),
    tag: z.optional(f.tag),
  }),
);

const commentsQuery = z.lazy(() => z.strictObject({ ...listParams() }));

export const handler = httpFunction({
  'POST /v1/tickets': operation({ body: ticketCreate, creates: '/v1/tickets', response: ticketView, run: ({ ctx, body }) => createTicket(ctx, body) }),
  'GET /v1/tickets': operation({ query: listQuery, response: z.lazy(() => f.pageOf(ticketView)), run: ({ ctx, query, page }) => listTickets(ctx, query, page) }),
  'GET /v1/tickets/{id}': operation({ response: ticketView, run: ({ ctx, params }) => getTicket(ctx, params.id!) }),
  'PATCH /v1/tickets/{id}': operation({ body: ticketPatch, response: ticketView, run: ({ ctx, params, body, ifMatch }) => updateTicket(ctx, params.id!, body, ifMatch) }),
  'POST /v1/tickets/{id}/comments': operation({
    body: commentCreate,
    response: ticketCommentView,
    // 201 with the comment; Location: the ticket's comments, where it is listed (comments have no route of their own).
    creates: ({ params }) => `/v1/tickets/${params.id}/comments`,
    run: ({ ctx, params, body }) => addComment(ctx, params.id!, body),
  }),
  'GET /v1/tickets/{id}/comments': operation({
    query: commentsQuery,
    response: z.lazy(() => f.pageOf(ticketCommentView)),
    run: ({ ctx, params, page }) => listComments(ctx, params.id!, page),
  }),
  'GET /v1/tickets/{id}/suggestions': operation({
    response: z.lazy(() =>
      f.pageOf(articleSummaryView).check(z.describe('published articles sharing terms with the subject, most shared first, at most 5; nextCursor is always null')),
    ),
    run: ({ ctx, params }) => ticketSuggestions(ctx, params.id!),
  }),
  'GET /v1/sla/policy': operation({ response: slaPolicyView, run: ({ ctx }) => getSlaPolicy(ctx) }),
  'PUT /v1/sla/policy': operation({ body: slaPolicyBody, response: slaPolicyView, run: ({ ctx, body }) => putSlaPolicy(ctx, body) }),
});
