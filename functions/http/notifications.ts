/** HTTP: the caller's own notifications. */
import * as z from 'zod/mini';
import { getNotification, listNotifications, markRead, notificationView } from '#domain/notifications/notifications.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    /** `true`: only the unread ones; `false` or absent: all. */
    unread: z.optional(z.pipe(z.enum(['true', 'false']), z.transform((v: 'true' | 'false') => v === 'true'))),
  }),
);

export const handler = httpFunction({
  'GET /v1/notifications': operation({ query: listQuery, response: z.lazy(() => pageOf(notificationView)), run: ({ ctx, query, page }) => listNotifications(ctx, query, page) }),
  'GET /v1/notifications/{id}': operation({ response: notificationView, run: ({ ctx, params }) => getNotification(ctx, params.id!) }),
  'POST /v1/notifications/{id}/read': operation({ response: notificationView, run: ({ ctx, params }) => markRead(ctx, params.id!) }),
});
