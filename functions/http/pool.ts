/** HTTP: the public pool (公海) and the owner's actions on an account (release, lock, unlock). */
import * as z from 'zod/mini';
import {
  assignBody,
  assignFromPool,
  claimAccount,
  listPool,
  lockAccount,
  poolListFilters,
  releaseAccount,
  releaseBody,
  unlockAccount,
} from '#domain/pool/pool.ts';
import { getPoolRules, poolRulesView, putPoolRules, rulesBody } from '#domain/pool/rules.ts';
import { accountView } from '#domain/accounts/account.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams(), ...poolListFilters() }));
/** Every pool route but the rules answers accounts: their custom values show as everywhere else. */
const accounts = { shows: 'accounts' as const };
/** The actions on one account answer it as it now is. */
const anAccount = { custom: accounts, response: accountView };

export const handler = httpFunction({
  'GET /v1/pool': operation({ query: listQuery, custom: accounts, response: z.lazy(() => pageOf(accountView)), run: ({ ctx, query, page }) => listPool(ctx, query, page) }),
  'GET /v1/pool/rules': operation({ response: poolRulesView, run: ({ ctx }) => getPoolRules(ctx) }),
  'PUT /v1/pool/rules': operation({ body: rulesBody, response: poolRulesView, run: ({ ctx, body }) => putPoolRules(ctx, body) }),
  'POST /v1/pool/{id}/claim': operation({ ...anAccount, run: ({ ctx, params }) => claimAccount(ctx, params.id!) }),
  'POST /v1/pool/{id}/assign': operation({ ...anAccount, body: assignBody, run: ({ ctx, params, body }) => assignFromPool(ctx, params.id!, body) }),
  'POST /v1/accounts/{id}/release': operation({ ...anAccount, body: releaseBody, run: ({ ctx, params, body }) => releaseAccount(ctx, params.id!, body) }),
  'POST /v1/accounts/{id}/lock': operation({ ...anAccount, run: ({ ctx, params }) => lockAccount(ctx, params.id!) }),
  'POST /v1/accounts/{id}/unlock': operation({ ...anAccount, run: ({ ctx, params }) => unlockAccount(ctx, params.id!) }),
});
