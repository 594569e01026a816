/**
 * The pool fields of every account response (API.md §6): `ownerSince`, `releaseAt`,
 * `releaseReason`, `locked`, `prevOwnerId` (and `releasedAt`: since when it is in the pool).
 *
 * `releaseAt` is computed when the account is rendered, from the anchors stored on the
 * account and the tenant's rules in force (read through the container's short cache), never
 * stored: a rule change therefore shows on every account at once without rewriting any, and
 * a follow-up, reassignment, lock, tier change or open opportunity shows in the response of
 * the request that made it. Reps and managers see a pool account without `email` and `phone`
 * until they claim it.
 */
import type { UseCaseContext } from '#domain/context.ts';
import type { Identity } from '#domain/identity.ts';
import { publicView } from '#domain/records.ts';
import type { Page } from '#domain/table/query.ts';
import type { Account } from '#domain/accounts/account.ts';
import { cachedRules, type RuleFields } from '#domain/pool/rules.ts';
import { isOwned, ownerSinceOf, releaseTiming } from '#domain/pool/timing.ts';
import type { ReleaseRule } from '#domain/pool/keys.ts';

/** Stored on the account for the pool's own use, never shown. */
export const INTERNAL_POOL_FIELDS = ['formerOwners'] as const;

export interface PooledAccount extends Account {
  ownerSince: string | null;
  releaseAt: string | null;
  releaseReason: ReleaseRule | null;
  locked: boolean;
  prevOwnerId: string | null;
  releasedAt: string | null;
}

/** Reps and managers see pool accounts without contact details until they claim them. */
export const redactsPoolContacts = (who: Identity) => who.role === 'rep' || who.role === 'manager';

export function poolView(account: Account, rules: RuleFields, who: Identity): PooledAccount {
  const base = publicView(account) as Account & Record<string, unknown>;
  const { formerOwners: _former, ...rest } = base;
  const owned = isOwned(account);
  const timing = releaseTiming(account, rules);
  const out: Record<string, unknown> = {
    ...rest,
    ownerSince: owned ? ownerSinceOf(account) : null,
    releaseAt: timing.releaseAt,
    releaseReason: timing.releaseReason,
    locked: owned && !!account.locked,
    prevOwnerId: account.prevOwnerId ?? null,
    releasedAt: owned ? null : (account.releasedAt ?? null),
  };
  if (!owned && redactsPoolContacts(who)) {
    delete out.email;
    delete out.phone;
  }
  return out as unknown as PooledAccount;
}

/** The account as a response shows it, with the rules in force. */
export async function presentAccount(ctx: UseCaseContext, account: Account): Promise<PooledAccount> {
  return poolView(account, await cachedRules(ctx.identity.tenantId), ctx.identity);
}

/** A page of accounts as a list shows them (one rules read per page at most). */
export async function presentPage(ctx: UseCaseContext, page: Page<Account>): Promise<Page<PooledAccount>> {
  if (page.items.length === 0) return { items: [], nextCursor: page.nextCursor };
  const rules = await cachedRules(ctx.identity.tenantId);
  return { items: page.items.map((a) => poolView(a, rules, ctx.identity)), nextCursor: page.nextCursor };
}
