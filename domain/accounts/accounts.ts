/** Account use cases. */
import type { UseCaseContext } from '#domain/context.ts';
import { forbidden, validationFailed } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { attributeFilter, ownedListQuery } from '#domain/listing.ts';
import { resolveOwner } from '#domain/ownership.ts';
import {
  checkIfMatch,
  insert,
  mergePatch,
  nextVersion,
  remove,
  replace,
  retryOnVersionRace,
  stamp,
  unchanged,
  visibleFromItem,
  type PreparedCreate,
} from '#domain/records.ts';
import { queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account, type AccountCreate, type AccountPatch } from '#domain/accounts/account.ts';
import { changeGuards, claimAccountGuards, commitCreate, rejectDuplicates, releaseGuards, valuesOfRecord } from '#domain/accounts/duplicates.ts';
import { notMerging } from '#domain/accounts/merge.ts';
import { loadNormalizers, registrableDomain } from '#domain/accounts/normalize.ts';
import { loadOpenableAccount, loadWritableAccount, reassigned } from '#domain/pool/pool.ts';
import { presentAccount, presentPage, type PooledAccount } from '#domain/pool/view.ts';
import { accountPoolWrites } from '#domain/pool/writes.ts';

const SALES_ROLES = ['admin', 'manager', 'rep'] as const;

/**
 * `domain` (a domain, host or URL) is stored as its registrable domain (API.md §5):
 * `https://www.acme.com.cn/about` → `acme.com.cn`; one without (an IP address, `localhost`,
 * a bare public suffix such as `com.cn`) is a 400 on it. Done here rather than in the schema,
 * so the public suffix list stays out of the functions that only read accounts.
 */
function withRegistrableDomain<T extends { domain?: string | null | undefined }>(input: T): T {
  if (typeof input.domain !== 'string') return input;
  const domain = registrableDomain(input.domain);
  if (domain === undefined) throw validationFailed([{ path: 'body.domain', message: 'not a domain name (e.g. acme.com.cn)' }]);
  return { ...input, domain };
}

export async function createAccount(ctx: UseCaseContext, input: AccountCreate): Promise<Account> {
  return commitCreate(ctx, await prepareAccount(ctx, input));
}

/** A new account checked and built (`createAccount` without its commit). `deferOwnerCount`: the caller counts the owner's accounts itself (domain/pool/writes.ts; a CSV import, per batch). */
export async function prepareAccount(ctx: UseCaseContext, input: AccountCreate, opts: { deferOwnerCount?: boolean } = {}): Promise<PreparedCreate<PooledAccount>> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  // 1. Only sales roles create customers; the owner defaults to the caller.
  requireRole(ctx.identity, ...SALES_ROLES);
  const { ownerId, ...fields } = withRegistrableDomain(input);
  const owner = await resolveOwner(ctx, ownerId);
  // 2. A new account starts owned, with its follow-up clock at zero.
  const account = stamp<Account>(
    ctx,
    { ...fields, poolStatus: 'owned', lastFollowUpAt: null, ownerSince: ctx.now.toISOString(), createdBy: ctx.identity.userId },
    owner,
  );
  // 3. The account, its duplicate guards and its `account.created` event will land together; a
  //    name, domain, email or phone another account holds is a 409 duplicate. The answer
  //    shows its pool timing (domain/pool/view.ts).
  return { result: await presentAccount(ctx, account), write: (uow) => addNewAccount(ctx, account, uow, opts) };
}

/**
 * Adds a new account to a unit of work: the record, its `account.created` event and its
 * duplicate guards (name, domain, email, phone). For every path that creates an account
 * (POST /v1/accounts, lead conversion); the caller commits inside `rejectDuplicates`.
 */
export function addNewAccount(ctx: UseCaseContext, account: Account, uow = new UnitOfWork(ctx), opts: { deferOwnerCount?: boolean } = {}): UnitOfWork {
  insert(ctx, accountSpec, account, uow);
  // The owner's owned-accounts counter and the account's release clock (domain/pool/writes.ts).
  accountPoolWrites(ctx, uow, undefined, account, opts);
  return claimAccountGuards(ctx, uow, account);
}

/** Any role may open a pool account (reps and managers without its contact details, API.md §6). */
export async function getAccount(ctx: UseCaseContext, id: string): Promise<PooledAccount> {
  return presentAccount(ctx, await loadOpenableAccount(ctx, id));
}

export async function updateAccount(ctx: UseCaseContext, id: string, patch: AccountPatch, ifMatch: number | undefined): Promise<Account> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  return rejectDuplicates(ctx, () => retryOnVersionRace(ifMatch, async () => {
    const before = await loadWritableAccount(ctx, id);
    checkIfMatch(before, ifMatch);
    const { ownerId, ...fields } = withRegistrableDomain(patch);
    let after = mergePatch(before, fields);
    if (ownerId !== undefined && ownerId !== before.ownerId) {
      // Reassignment: managers within their team, admins anywhere; the follow-up clock restarts.
      requireRole(ctx.identity, 'admin', 'manager');
      const owner = await resolveOwner(ctx, ownerId);
      after = reassigned(before, { ...after, ...owner }, ctx.now.toISOString());
    }
    if (unchanged(before, after)) return presentAccount(ctx, before);
    const next = nextVersion(ctx, before, after);
    // The record first: a lost version race must surface as such, not as its own guard taken.
    const uow = replace(ctx, accountSpec, before, next);
    changeGuards(ctx, uow, 'account', id, valuesOfRecord('account', before), valuesOfRecord('account', next));
    // Counters on a reassignment; the release clock when an anchor or an exemption may move.
    accountPoolWrites(ctx, uow, before, next);
    return uow.commit(await presentAccount(ctx, next));
  }));
}

export async function deleteAccount(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  await retryOnVersionRace(ifMatch, async () => {
    const account = await loadWritableAccount(ctx, id);
    checkIfMatch(account, ifMatch);
    if (ctx.identity.role === 'rep' && account.ownerId !== ctx.identity.userId) throw forbidden();
    const uow = remove(ctx, accountSpec, account);
    releaseGuards(ctx, uow, 'account', id, valuesOfRecord('account', account));
    accountPoolWrites(ctx, uow, account, undefined);
    await notMerging(ctx, uow, id).commit(undefined);
  });
}

export interface AccountFilters {
  ownerId?: string | undefined;
  tier?: string | undefined;
  lifecycleStage?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

export async function listAccounts(ctx: UseCaseContext, filters: AccountFilters, page: PageRequest): Promise<Page<PooledAccount>> {
  const who = ctx.identity;
  const spec = {
    ...ownedListQuery(ctx, 'ACCOUNT', filters, who.role === 'support' || who.role === 'marketer'),
    filter: attributeFilter({ tier: filters.tier, lifecycleStage: filters.lifecycleStage }, { tags: filters.tag }),
  };
  return presentPage(ctx, await queryPage(spec, page, (item) => visibleFromItem(accountSpec, who, item)));
}
