/** HTTP: the duplicate search (查重). Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import { duplicateCandidateView, findDuplicates } from '#domain/accounts/duplicates.ts';
import { loadNormalizers, registrableDomain } from '#domain/accounts/normalize.ts';
import * as f from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

/**
 * At least one of the four keys (checked by the use case, which names them all in its 400),
 * each validated as the field it searches; the use case normalizes them.
 */
const searchQuery = z.lazy(() =>
  z.strictObject({
    ...listParams(),
    name: z.optional(f.name),
    email: z.optional(f.text(3, 254).check(z.email())),
    phone: z.optional(f.phone),
    domain: z.optional(f.text(1, 253).check(z.refine((v) => registrableDomain(v) !== undefined, { message: 'not a domain name (e.g. acme.com.cn)' }))),
  }),
);

export const handler = httpFunction({
  'GET /v1/duplicates': operation({
    query: searchQuery,
    // Only a phone or a domain needs the normalizers' data; the query's domain rule runs on it.
    beforeQuery: (query) => (query.domain !== undefined ? loadNormalizers() : undefined),
    response: z.lazy(() => f.pageOf(duplicateCandidateView)),
    run: ({ ctx, query, page }) => findDuplicates(ctx, query, page),
  }),
});
