/** HTTP: accounts and Customer 360. Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import { accountCreate, accountPatch, accountView, LIFECYCLE_STAGES, TIERS } from '#domain/accounts/account.ts';
import { createAccount, deleteAccount, getAccount, listAccounts, updateAccount } from '#domain/accounts/accounts.ts';
import { customer360, customer360View } from '#domain/accounts/customer-360.ts';
import { mergeAccounts, mergeBody } from '#domain/accounts/merge.ts';
import { presentAccount } from '#domain/pool/view.ts';
import * as f from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    ownerId: z.optional(f.id),
    tier: z.optional(z.enum(TIERS)),
    lifecycleStage: z.optional(z.enum(LIFECYCLE_STAGES)),
    tag: z.optional(f.tag),
    q: z.optional(f.text(1, 200)),
  }),
);

export const handler = httpFunction({
  'POST /v1/accounts': operation({
    body: accountCreate,
    creates: '/v1/accounts',
    response: accountView,
    custom: { input: 'create', shows: 'accounts' },
    run: ({ ctx, body }) => createAccount(ctx, body),
  }),
  'GET /v1/accounts': operation({
    query: listQuery,
    custom: { shows: 'accounts' },
    response: z.lazy(() => f.pageOf(accountView)),
    run: ({ ctx, query, page }) => listAccounts(ctx, query, page),
  }),
  'GET /v1/accounts/{id}': operation({ custom: { shows: 'accounts' }, response: accountView, run: ({ ctx, params }) => getAccount(ctx, params.id!) }),
  'PATCH /v1/accounts/{id}': operation({
    body: accountPatch,
    custom: { input: 'patch', shows: 'accounts' },
    response: accountView,
    run: ({ ctx, params, body, ifMatch }) => updateAccount(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/accounts/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteAccount(ctx, params.id!, ifMatch) }),
  'GET /v1/accounts/{id}/360': operation({ custom: { shows: { account: 'accounts', contacts: 'contacts' } }, response: customer360View, run: ({ ctx, params }) => customer360(ctx, params.id!) }),
  'POST /v1/accounts/{id}/merge': operation({
    body: mergeBody,
    custom: { shows: 'accounts' },
    response: accountView,
    run: async ({ ctx, params, body }) => presentAccount(ctx, await mergeAccounts(ctx, params.id!, body)),
  }),
});
