/** HTTP: orders (订单/合同) and their payments (回款). */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { orderCreate, orderPatch, orderView, PAYMENT_STATUSES, paymentCreate, paymentView } from '#domain/sales/order.ts';
import { createOrder, getOrder, listOrders, listPayments, recordPayment, updateOrder } from '#domain/sales/orders.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    accountId: z.optional(f.id),
    opportunityId: z.optional(f.id),
    /** `me` means the caller. */
    ownerId: z.optional(f.id),
    paymentStatus: z.optional(z.enum(PAYMENT_STATUSES)),
    /** `signedFrom ≤ signedAt < signedTo`. */
    signedFrom: z.optional(f.timestamp),
    signedTo: z.optional(f.timestamp),
  }),
);

export const handler = httpFunction({
  'POST /v1/orders': operation({
    body: orderCreate,
    creates: '/v1/orders',
    response: orderView,
    run: ({ ctx, body }) => createOrder(ctx, body),
  }),
  'GET /v1/orders': operation({
    query: listQuery,
    response: z.lazy(() => f.pageOf(orderView)),
    run: ({ ctx, query, page }) => listOrders(ctx, query, page),
  }),
  'GET /v1/orders/{id}': operation({ response: orderView, run: ({ ctx, params }) => getOrder(ctx, params.id!) }),
  'PATCH /v1/orders/{id}': operation({
    body: orderPatch,
    response: orderView,
    run: ({ ctx, params, body, ifMatch }) => updateOrder(ctx, params.id!, body, ifMatch),
  }),
  // A payment answers 201 with the ORDER as it now is (API.md §3); Location names that order.
  'POST /v1/orders/{id}/payments': operation({
    body: paymentCreate,
    creates: '/v1/orders',
    response: orderView,
    run: ({ ctx, params, body }) => recordPayment(ctx, params.id!, body),
  }),
  'GET /v1/orders/{id}/payments': operation({
    query: z.lazy(() => z.strictObject({ ...listParams() })),
    response: z.lazy(() => f.pageOf(paymentView)),
    run: ({ ctx, params, page }) => listPayments(ctx, params.id!, page),
  }),
});
