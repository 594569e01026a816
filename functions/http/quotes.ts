/** HTTP: quotes (报价单) of opportunities, their status actions, and an accepted quote becoming an order. */
import * as z from 'zod/mini';
import { orderFromQuote as orderFromQuoteBody, orderView } from '#domain/sales/order.ts';
import { orderFromQuote } from '#domain/sales/orders.ts';
import { quoteAccept, quoteCreate, quotePatch, quoteReject, quoteSend, quoteView } from '#domain/sales/quote.ts';
import { acceptQuote, createQuote, getQuote, listQuotes, rejectQuote, sendQuote, updateQuote } from '#domain/sales/quotes.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

export const handler = httpFunction({
  'POST /v1/opportunities/{id}/quotes': operation({
    body: quoteCreate,
    creates: '/v1/quotes',
    response: quoteView,
    run: ({ ctx, params, body }) => createQuote(ctx, params.id!, body),
  }),
  'GET /v1/opportunities/{id}/quotes': operation({
    query: z.lazy(() => z.strictObject({ ...listParams() })),
    response: z.lazy(() => pageOf(quoteView)),
    run: ({ ctx, params, page }) => listQuotes(ctx, params.id!, page),
  }),
  'GET /v1/quotes/{id}': operation({ response: quoteView, run: ({ ctx, params }) => getQuote(ctx, params.id!) }),
  'PATCH /v1/quotes/{id}': operation({
    body: quotePatch,
    response: quoteView,
    run: ({ ctx, params, body, ifMatch }) => updateQuote(ctx, params.id!, body, ifMatch),
  }),
  'POST /v1/quotes/{id}/send': operation({ body: quoteSend, response: quoteView, run: ({ ctx, params, body }) => sendQuote(ctx, params.id!, body) }),
  'POST /v1/quotes/{id}/accept': operation({ body: quoteAccept, response: quoteView, run: ({ ctx, params, body }) => acceptQuote(ctx, params.id!, body) }),
  'POST /v1/quotes/{id}/reject': operation({ body: quoteReject, response: quoteView, run: ({ ctx, params, body }) => rejectQuote(ctx, params.id!, body) }),
  'POST /v1/quotes/{id}/order': operation({
    body: orderFromQuoteBody,
    creates: '/v1/orders',
    response: orderView,
    run: ({ ctx, params, body }) => orderFromQuote(ctx, params.id!, body, 'path'),
  }),
});
