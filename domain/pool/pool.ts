/**
 * The public pool (公海, API.md §6): list it, claim from it, assign from it, release into
 * it, lock and unlock.
 *
 * Every ownership change is ONE transaction: the account (conditioned on the version read,
 * so two claims of one account have exactly one winner), the owners' counters (conditioned
 * on the caps), the claimant's claims-per-day counter, the account's clock items, its event,
 * any notification and activity-feed entry, and the idempotency record. Each use case reads
 * what it decides on in ONE BatchGetItem (the account, the rules, and for an assignment the
 * assignee's directory entry), strongly consistent: a claim costs two requests.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { UseCaseContext } from '#domain/context.ts';
import type { DirectoryUser } from '#domain/directory/users.ts';
import { conflict, forbidden, notFound, validationFailed } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { canAssignTo, requireRole } from '#domain/identity.ts';
import { attributeFilter } from '#domain/listing.ts';
import { eventSnapshot, fromItem, insert, readable, retryOnVersionRace, stamp, toItem, VersionRace, writable } from '#domain/records.ts';
import { entityKey, stripKeys } from '#domain/table/keys.ts';
import { getItem, getItems, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account, TIERS } from '#domain/accounts/account.ts';
import { activitySpec, type Activity } from '#domain/accounts/activity.ts';
import { addNotification } from '#domain/notifications/notifications.ts';
import { claimCounterKey, poolListPartition, poolRulesKey, type ReleaseRule } from '#domain/pool/keys.ts';
import { DAY_MS, localDate, rulesFromItem, type StoredPoolRules } from '#domain/pool/rules.ts';
import { poolView, presentPage, type PooledAccount } from '#domain/pool/view.ts';
import { accountPoolWrites } from '#domain/pool/writes.ts';

type Item = Record<string, unknown>;

const SALES_ROLES = ['admin', 'manager', 'rep'] as const;
/** How many former owners an account remembers for the cooldown. */
const FORMER_OWNERS_KEPT = 10;

export const notInPool = () => conflict('not_in_pool', 'The account is not in the public pool.');
const claimLimitReached = (cap: number, day: string, timeZone: string) =>
  conflict('claim_limit_reached', `You have claimed ${cap} accounts today (${day}, ${timeZone}), the most the pool rules allow (maxClaimsPerDay).`, {
    maxClaimsPerDay: cap,
    day,
    timeZone,
  });
const claimCooldown = (availableAt: string) =>
  conflict('claim_cooldown', 'This account left you less than reclaimCooldownDays ago; you may claim it again from availableAt.', { availableAt });

// ---------------------------------------------------------------------------------------
// Bodies

export const releaseBody = z.lazy(() => z.strictObject({ reason: f.text(1, 1000) }));
export type ReleaseBody = z.infer<typeof releaseBody>;
export const assignBody = z.lazy(() => z.strictObject({ userId: f.id }));
export type AssignBody = z.infer<typeof assignBody>;
export const poolListFilters = builtOnFirstUse(() => ({ tier: z.optional(z.enum(TIERS)), prevOwnerId: z.optional(f.id) }));

// ---------------------------------------------------------------------------------------
// Reads

const accountOf = (item: Item): Account => ({ ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null });

/** The account, the rules (and more keys), in one strongly consistent BatchGetItem. */
async function readWithRules(ctx: UseCaseContext, accountId: string, extra: { PK: string; SK: string }[] = []) {
  const tenantId = ctx.identity.tenantId;
  const [accountItem, rulesItem, ...rest] = await getItems([entityKey(tenantId, 'ACCOUNT', accountId), poolRulesKey(tenantId), ...extra]);
  return { account: accountItem ? accountOf(accountItem) : undefined, rules: rulesFromItem(tenantId, rulesItem), rest };
}

/**
 * Every role that sees customers may open a pool account (reps and managers without its
 * contact details); an owned account follows the usual visibility.
 */
export function mayOpenAccount(ctx: UseCaseContext, account: Account): boolean {
  return account.poolStatus === 'pool' || readable(accountSpec, ctx.identity, account);
}

/**
 * An owned account its owner (or the owner's manager, or an admin) acts on: 404 when the
 * caller may not open it, 403 when it may only read it, `whenInPool` when it is in the pool.
 */
function requireOwnerSide(ctx: UseCaseContext, account: Account | undefined, whenInPool: () => Error): Account {
  // Visibility first (a record the caller cannot open is a 404 whatever its role), then the role.
  if (!account || !mayOpenAccount(ctx, account)) throw notFound('account');
  requireRole(ctx.identity, ...SALES_ROLES);
  if (account.poolStatus === 'pool') throw whenInPool();
  if (!writable(accountSpec, ctx.identity, account)) throw forbidden('Only the owner, its manager or an admin may do this.');
  return account;
}

/**
 * Transactions of the pool contend on small shared items (a rep's counters): a transaction
 * cancelled only by a concurrent one is run again, like a lost version race.
 */
async function commitRetryingConflicts<R>(uow: UnitOfWork, result: R): Promise<R> {
  try {
    return await uow.commit(result);
  } catch (err) {
    if (err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).every((r) => r.Code !== 'ConditionalCheckFailed')) {
      throw new VersionRace();
    }
    throw err;
  }
}

const versionCondition = (version: number, onFailed: (current: Item | undefined) => Error) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': version },
  onConditionFailed: onFailed,
});

// ---------------------------------------------------------------------------------------
// GET /v1/pool

export async function listPool(
  ctx: UseCaseContext,
  filters: { tier?: string | undefined; prevOwnerId?: string | undefined },
  page: PageRequest,
): Promise<Page<PooledAccount>> {
  const filter = attributeFilter({ tier: filters.tier, prevOwnerId: filters.prevOwnerId });
  const accounts = await queryPage(
    { index: 'byOwner', pk: poolListPartition(ctx.identity.tenantId), ...(filter ? { filter } : {}) },
    page,
    (item) => (item.poolStatus === 'pool' ? accountOf(item) : undefined),
  );
  return presentPage(ctx, accounts);
}

// ---------------------------------------------------------------------------------------
// Claim and assign

/** The account as its new owner gets it from the pool. */
function takenFromPool(ctx: UseCaseContext, account: Account, owner: { ownerId: string; ownerTeamId: string | null }): Account {
  const at = ctx.now.toISOString();
  return {
    ...account,
    ...owner,
    poolStatus: 'owned',
    ownerSince: at,
    releasedAt: null,
    locked: false,
    version: account.version + 1,
    updatedAt: at,
  };
}

function cooldownEnds(account: Account, userId: string, rules: StoredPoolRules): string | undefined {
  const left = account.formerOwners?.filter((o) => o.userId === userId).map((o) => o.leftAt).sort().at(-1);
  if (!left || rules.reclaimCooldownDays <= 0) return undefined;
  return new Date(Date.parse(left) + rules.reclaimCooldownDays * DAY_MS).toISOString();
}

/** `POST /v1/pool/{id}/claim`: the caller becomes the owner. */
export async function claimAccount(ctx: UseCaseContext, accountId: string): Promise<PooledAccount> {
  const who = ctx.identity;
  return retryOnVersionRace(undefined, async () => {
    // 1. The account (of this tenant, visible or not) and the rules in force; then the role.
    const { account, rules } = await readWithRules(ctx, accountId);
    if (!account) throw notFound('account');
    requireRole(who, ...SALES_ROLES);
    if (account.poolStatus !== 'pool') throw notInPool();
    // 2. A rep the account left recently waits out the cooldown.
    const until = cooldownEnds(account, who.userId, rules);
    if (until && until > ctx.now.toISOString()) throw claimCooldown(until);
    // 3. One transaction: the account (first: a lost race reads as not_in_pool), the cap on
    //    owned accounts, today's claims in the tenant's time zone, the clock, the event.
    const next = takenFromPool(ctx, account, { ownerId: who.userId, ownerTeamId: who.teamId ?? null });
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(accountSpec, who.tenantId, next), versionCondition(account.version, raceOrGone));
    accountPoolWrites(ctx, uow, account, next, { ownedCap: rules.maxAccountsPerRep });
    countClaim(ctx, uow, rules);
    uow.emit('account.claimed', { type: 'account', id: account.id }, { ...snapshotOf(next), claimedBy: who.userId, prevOwnerId: account.prevOwnerId ?? null });
    return commitRetryingConflicts(uow, poolView(next, rules, who));
  });
}

/** The account changed between read and write: another claim won (409), or it is gone (404), or retry. */
function raceOrGone(current: Item | undefined): Error {
  if (!current) return notFound('account');
  return current.poolStatus === 'pool' ? new VersionRace() : notInPool();
}

function countClaim(ctx: UseCaseContext, uow: UnitOfWork, rules: StoredPoolRules): void {
  const who = ctx.identity;
  const day = localDate(ctx.now, rules.timeZone);
  const cap = rules.maxClaimsPerDay;
  if (cap <= 0) throw claimLimitReached(cap, day, rules.timeZone);
  uow.update(
    claimCounterKey(who.tenantId, who.userId, day),
    {
      expression: 'SET tenantId = :tenant, entityType = :type, expiresAt = :exp ADD #c :one',
      names: { '#c': 'claims' },
      values: { ':tenant': who.tenantId, ':type': 'POOLCLAIMS', ':exp': Math.floor(ctx.now.getTime() / 1000) + 3 * 86_400, ':one': 1 },
    },
    {
      condition: 'attribute_not_exists(#c) OR #c < :cap',
      values: { ':cap': cap },
      onConditionFailed: () => claimLimitReached(cap, day, rules.timeZone),
    },
  );
}

/**
 * `POST /v1/pool/{id}/assign {"userId"}`: a manager (to itself or a member of its team) or an
 * admin (to any sales user) hands a pool account to someone, under the same cap on owned
 * accounts. The assignee's claims-per-day and cooldown do not apply: they did not claim it.
 */
export async function assignFromPool(ctx: UseCaseContext, accountId: string, body: AssignBody): Promise<PooledAccount> {
  const who = ctx.identity;
  return retryOnVersionRace(undefined, async () => {
    const { account, rules, rest } = await readWithRules(ctx, accountId, [entityKey(who.tenantId, 'USER', body.userId)]);
    if (!account) throw notFound('account');
    requireRole(who, 'admin', 'manager');
    const userItem = rest[0];
    if (!userItem) throw validationFailed([{ path: 'body.userId', message: `no user ${body.userId} in this tenant's directory` }]);
    const user = stripKeys<DirectoryUser>(userItem);
    if (!(SALES_ROLES as readonly string[]).includes(user.role)) {
      throw validationFailed([{ path: 'body.userId', message: 'accounts are assigned to sales users (admin, manager, rep)' }]);
    }
    if (!canAssignTo(who, { userId: user.userId, teamId: user.teamId })) {
      throw forbidden('A manager assigns pool accounts to itself or to the members of its team.');
    }
    if (account.poolStatus !== 'pool') throw notInPool();
    const next = takenFromPool(ctx, account, { ownerId: user.userId, ownerTeamId: user.teamId ?? null });
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(accountSpec, who.tenantId, next), versionCondition(account.version, raceOrGone));
    accountPoolWrites(ctx, uow, account, next, { ownedCap: rules.maxAccountsPerRep });
    uow.emit('account.assigned', { type: 'account', id: account.id }, { ...snapshotOf(next), assigneeId: user.userId, assignedBy: who.userId });
    return commitRetryingConflicts(uow, poolView(next, rules, who));
  });
}

// ---------------------------------------------------------------------------------------
// Release (by hand here; by the rules in release-job.ts)

export interface ReleaseInfo {
  rule: ReleaseRule | 'manual';
  /** The rule's day count (null for a manual release). */
  days: number | null;
  /** Why, in the words of whoever released it (manual). */
  reason?: string;
}

/** The account as the pool gets it: no owner, the former one kept, remembered for the cooldown. */
export function releasedRecord(ctx: UseCaseContext, account: Account): Account {
  const at = ctx.now.toISOString();
  const former = [...(account.formerOwners ?? []).filter((o) => o.userId !== account.ownerId), { userId: account.ownerId!, leftAt: at }];
  return {
    ...account,
    ownerId: null,
    ownerTeamId: null,
    poolStatus: 'pool',
    ownerSince: null,
    prevOwnerId: account.ownerId,
    releasedAt: at,
    locked: false,
    formerOwners: former.slice(-FORMER_OWNERS_KEPT),
    version: account.version + 1,
    updatedAt: at,
  };
}

/**
 * Everything a release writes besides the account: counters and clock items, an entry in the
 * account's activity feed naming the rule and the day count, `account.released`, and a
 * `pool.released` notification to the former owner (unless the owner released it itself).
 */
export function releaseWrites(ctx: UseCaseContext, uow: UnitOfWork, before: Account, after: Account, info: ReleaseInfo): void {
  accountPoolWrites(ctx, uow, before, after);
  const formerOwner = before.ownerId!;
  const what =
    info.rule === 'manual'
      ? `released to the public pool by ${ctx.identity.userId}: ${info.reason ?? ''}`
      : info.rule === 'no_follow_up'
        ? `released to the public pool: no follow-up for ${info.days} days (rule no_follow_up)`
        : `released to the public pool: no won opportunity ${info.days} days after it was taken (rule not_won)`;
  const entry = stamp<Activity>(
    ctx,
    {
      type: 'note',
      subject: `R${what.slice(1)}`.slice(0, 200),
      body: `R${what.slice(1)} (公海). Former owner: ${formerOwner}.`,
      occurredAt: ctx.now.toISOString(),
      accountId: before.id,
      createdBy: ctx.identity.userId,
    },
    { ownerId: null, ownerTeamId: null },
  );
  insert(ctx, activitySpec, entry, uow);
  uow.emit('account.released', { type: 'account', id: before.id }, {
    ...snapshotOf(after),
    prevOwnerId: formerOwner,
    prevOwnerTeamId: before.ownerTeamId ?? null,
    rule: info.rule,
    days: info.days,
    ...(info.reason !== undefined ? { reason: info.reason } : {}),
    releasedAt: ctx.now.toISOString(),
    releasedBy: ctx.identity.userId,
  });
  if (formerOwner !== ctx.identity.userId) {
    addNotification(ctx, uow, {
      userId: formerOwner,
      kind: 'pool.released',
      message: `"${before.name}" was ${what}.`,
      entityType: 'account',
      entityId: before.id,
      data: { rule: info.rule, days: info.days },
    });
  }
}

/** `POST /v1/accounts/{id}/release {"reason"}`: the owner (or its manager, or an admin) gives an account back. */
export async function releaseAccount(ctx: UseCaseContext, accountId: string, body: ReleaseBody): Promise<PooledAccount> {
  return retryOnVersionRace(undefined, async () => {
    const read = await readWithRules(ctx, accountId);
    const account = requireOwnerSide(ctx, read.account, notInPool);
    const next = releasedRecord(ctx, account);
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(accountSpec, ctx.identity.tenantId, next), versionCondition(account.version, (cur) => (cur ? new VersionRace() : notFound('account'))));
    releaseWrites(ctx, uow, account, next, { rule: 'manual', days: null, reason: body.reason });
    return commitRetryingConflicts(uow, poolView(next, read.rules, ctx.identity));
  });
}

// ---------------------------------------------------------------------------------------
// Lock and unlock

const inPoolNotLockable = () =>
  conflict('invalid_transition', 'A pool account has no owner to keep it for: claim it first, then lock it.');

/** `POST /v1/accounts/{id}/lock`: exempt from release, within `maxLockedPerRep` of the owner. Locking a locked account changes nothing. */
export async function lockAccount(ctx: UseCaseContext, accountId: string): Promise<PooledAccount> {
  return setLock(ctx, accountId, true);
}

/** `POST /v1/accounts/{id}/unlock`: its release clock runs again from the same anchors. */
export async function unlockAccount(ctx: UseCaseContext, accountId: string): Promise<PooledAccount> {
  return setLock(ctx, accountId, false);
}

async function setLock(ctx: UseCaseContext, accountId: string, locked: boolean): Promise<PooledAccount> {
  return retryOnVersionRace(undefined, async () => {
    const read = await readWithRules(ctx, accountId);
    const account = requireOwnerSide(ctx, read.account, inPoolNotLockable);
    if (!!account.locked === locked) return poolView(account, read.rules, ctx.identity);
    const at = ctx.now.toISOString();
    const { lockedAt: _a, lockedBy: _b, ...rest } = account as Account & { lockedAt?: string; lockedBy?: string };
    const next: Account = locked
      ? ({ ...account, locked: true, lockedAt: at, lockedBy: ctx.identity.userId, version: account.version + 1, updatedAt: at } as Account)
      : { ...(rest as Account), locked: false, version: account.version + 1, updatedAt: at };
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(accountSpec, ctx.identity.tenantId, next), versionCondition(account.version, (cur) => (cur ? new VersionRace() : notFound('account'))));
    accountPoolWrites(ctx, uow, account, next, locked ? { lockedCap: read.rules.maxLockedPerRep } : {});
    uow.emit(locked ? 'account.locked' : 'account.unlocked', { type: 'account', id: account.id }, snapshotOf(next));
    return commitRetryingConflicts(uow, poolView(next, read.rules, ctx.identity));
  });
}

/** The account as events carry it (internal fields included: consumers are ours). */
const snapshotOf = (account: Account) => eventSnapshot(account);

// ---------------------------------------------------------------------------------------
// For the accounts context: opening and changing an account, pool accounts included

/** An account the caller may open (any pool account, or one its role sees), or 404. One GetItem. */
export async function loadOpenableAccount(ctx: UseCaseContext, accountId: string): Promise<Account> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', accountId));
  const account = item ? accountOf(item) : undefined;
  if (!account || !mayOpenAccount(ctx, account)) throw notFound('account');
  return account;
}

/** An account the caller may change: 404 when it may not open it, 403 when it may only read it (a rep on a pool account). */
export async function loadWritableAccount(ctx: UseCaseContext, accountId: string): Promise<Account> {
  const account = await loadOpenableAccount(ctx, accountId);
  if (!writable(accountSpec, ctx.identity, account)) {
    throw forbidden(account.poolStatus === 'pool' ? 'A pool account is claimed (or assigned) before it is changed.' : 'Your role may read this account but not change it.');
  }
  return account;
}

/**
 * A reassignment (PATCH ownerId) of `before` into `after`: the new owner's clock starts now, a
 * lock does not carry over (a lock is its owner's, and counts toward its owner's
 * `maxLockedPerRep`), and the owner it leaves is remembered as `prevOwnerId`.
 */
export function reassigned(before: Account, after: Account, ownerSince: string): Account {
  const { lockedAt: _a, lockedBy: _b, ...rest } = after as Account & { lockedAt?: string; lockedBy?: string };
  return {
    ...(rest as Account),
    poolStatus: 'owned',
    ownerSince,
    releasedAt: null,
    locked: false,
    prevOwnerId: before.ownerId ?? before.prevOwnerId ?? null,
  };
}
