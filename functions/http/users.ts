/** HTTP: the users directory. */
import * as z from 'zod/mini';
import { listUsers, userView } from '#domain/directory/users.ts';
import * as f from '#domain/fields.ts';
import { ROLES } from '#domain/identity.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams(), teamId: z.optional(f.id), role: z.optional(z.enum(ROLES)) }));

export const handler = httpFunction({
  'GET /v1/users': operation({ query: listQuery, response: z.lazy(() => f.pageOf(userView)), run: ({ ctx, query, page }) => listUsers(ctx, query, page) }),
});
