/**
 * The local mailbox's routes (local only, like `/_local/jobs`): `GET /_local/mail` lists
 * the caller's tenant's mail, newest first; `POST /_local/mail/events` applies a bounce,
 * complaint or delivery as SES's consumer would (the same domain function). Admin only.
 * Built with the same middleware as every API route (validation, cursors, problem+json).
 */
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { notFound } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { getMail, listMailbox } from '#domain/mail/mailbox.ts';
import { applyMailEvent } from '#domain/marketing/tracking.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';
import type { AuthorizerContext } from '#functions/middleware/identity.ts';
import { buildEvent, type IncomingRequest } from '#local/api-gateway-event.ts';

const mailEventBody = z.strictObject({
  type: z.enum(['bounce', 'complaint', 'delivery']),
  messageId: f.id,
  bounceType: z.optional(z.enum(['Permanent', 'Transient'])),
});

export const mailboxHandler = httpFunction({
  'GET /_local/mail': operation({
    query: z.strictObject({ ...listParams(), to: z.optional(f.text(1, 254)), campaignId: z.optional(f.id) }),
    run: async ({ ctx, query, page }) => {
      requireRole(ctx.identity, 'admin');
      return listMailbox(ctx.identity.tenantId, query, page);
    },
  }),
  'POST /_local/mail/events': operation({
    body: mailEventBody,
    run: async ({ ctx, body }) => {
      requireRole(ctx.identity, 'admin');
      const mail = await getMail(ctx.identity.tenantId, body.messageId);
      if (!mail) throw notFound('message');
      const { applied } = await applyMailEvent(
        { tenantId: ctx.identity.tenantId, type: body.type, ...(body.bounceType ? { bounceType: body.bounceType } : {}), messageId: mail.messageId, email: mail.to, source: mail.source },
        ctx.now,
      );
      return { messageId: mail.messageId, type: body.type, applied };
    },
  }),
});

const context = { functionName: 'crm-local-mail', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

export const isMailRoute = (routeKey: string) => routeKey === 'GET /_local/mail' || routeKey === 'POST /_local/mail/events';

/** Answers a mailbox route (`isMailRoute`) for a caller the authorizer let through. */
export async function localMailRoute(req: IncomingRequest, routeKey: string, authorizer: AuthorizerContext): Promise<APIGatewayProxyStructuredResultV2> {
  return mailboxHandler(buildEvent(req, { routeKey, pathParameters: undefined }, authorizer), context);
}
