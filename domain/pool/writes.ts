/**
 * What every change of an account adds to its transaction for the pool: the owners' COUNTER
 * items and the account's CLOCK items (its entries in the sparse due index).
 *
 * `accountPoolWrites(ctx, uow, before, after)` is the one function every path calls with the
 * account before and after its change (`undefined` for "did not exist" / "is gone"):
 * create, PATCH (reassignment, tier), follow-ups, claim, assign, release (manual and by the
 * job), lock, unlock, delete, merge, lead conversion, opportunity changes. It only ADDS items
 * to the unit of work; it never reads and never commits.
 *
 * Counters (`T#t#POOLREP#<userId>`: `owned`, `locked`) are exact because they move in the same
 * transaction as the ownership change they count, which is itself conditioned on the
 * account's version. Caps are conditions on the counter (`owned < :cap`), so a cap holds
 * however many requests race.
 */
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict } from '#domain/errors.ts';
import type { UnitOfWork } from '#domain/table/transaction.ts';
import {
  poolClockKey,
  poolDuePartition,
  poolNudgeKey,
  poolNudgePartition,
  poolShard,
  RELEASE_RULES,
  repCounterKey,
  type ReleaseRule,
  type Stage,
} from '#domain/pool/keys.ts';
import { anchorsOf, isOwned, type PoolFacts } from '#domain/pool/timing.ts';

export const poolCapReached = (cap: number) =>
  conflict('pool_cap_reached', `You already hold ${cap} accounts, the most the pool rules allow (maxAccountsPerRep).`, { maxAccountsPerRep: cap });
export const lockLimitReached = (cap: number) =>
  conflict('lock_limit_reached', `The owner already has ${cap} locked accounts, the most the pool rules allow (maxLockedPerRep).`, {
    maxLockedPerRep: cap,
  });

export interface PoolWriteOptions {
  /** The new owner may hold at most this many accounts after the change (claim, assign): `409 pool_cap_reached`. */
  ownedCap?: number;
  /** The owner may lock at most this many accounts (lock): `409 lock_limit_reached`. */
  lockedCap?: number;
  /**
   * Leaves the owners' counters out: the caller counts the accounts itself, exactly once, in a
   * later transaction of its own (a CSV import, per batch of rows: `addOwnedAccounts`), so that
   * parallel creates of one owner do not all contend on that owner's counter item.
   */
  deferOwnerCount?: boolean;
}

const ownerOf = (a: PoolFacts | undefined) => (a && isOwned(a) ? a.ownerId : null);
const lockerOf = (a: PoolFacts | undefined) => (a && a.locked ? ownerOf(a) : null);
const opened = (a: PoolFacts | undefined) => (a?.openOpportunityCount ?? 0) > 0;

export function accountPoolWrites(
  ctx: UseCaseContext,
  uow: UnitOfWork,
  before: PoolFacts | undefined,
  after: PoolFacts | undefined,
  opts: PoolWriteOptions = {},
): UnitOfWork {
  if (!opts.deferOwnerCount) countOwnership(ctx, uow, before, after, opts);

  // Clock items: rewritten when an anchor moves (or appears or goes), and when a
  // rule-dependent exemption may have ended (tier, open opportunities), to un-park it.
  const tenantId = ctx.identity.tenantId;
  const id = (after ?? before)!.id;
  const was = before ? anchorsOf(before) : { no_follow_up: null, not_won: null };
  const now = after ? anchorsOf(after) : { no_follow_up: null, not_won: null };
  const mayUnpark = !!before && !!after && (before.tier !== after.tier || opened(before) !== opened(after));
  for (const rule of RELEASE_RULES) {
    const anchor = now[rule];
    if (anchor === null) {
      if (was[rule] !== null) uow.delete(poolClockKey(tenantId, id, rule));
    } else if (anchor !== was[rule] || mayUnpark) {
      uow.put(clockItem(ctx, tenantId, id, rule, anchor, 0));
    }
  }
  return uow;
}

/** The counter updates of an ownership change: one Update per user whose counts move. */
function countOwnership(ctx: UseCaseContext, uow: UnitOfWork, before: PoolFacts | undefined, after: PoolFacts | undefined, opts: PoolWriteOptions) {
  const deltas = new Map<string, { owned: number; locked: number }>();
  const bump = (user: string | null, field: 'owned' | 'locked', n: number) => {
    if (!user) return;
    const d = deltas.get(user) ?? { owned: 0, locked: 0 };
    d[field] += n;
    deltas.set(user, d);
  };
  bump(ownerOf(before), 'owned', -1);
  bump(ownerOf(after), 'owned', +1);
  bump(lockerOf(before), 'locked', -1);
  bump(lockerOf(after), 'locked', +1);

  const tenantId = ctx.identity.tenantId;
  for (const [userId, d] of deltas) {
    if (d.owned === 0 && d.locked === 0) continue;
    const conditions: string[] = [];
    const values: Record<string, unknown> = {};
    let onFailed: (() => Error) | undefined;
    if (d.owned > 0 && opts.ownedCap !== undefined) {
      if (opts.ownedCap <= 0) throw poolCapReached(opts.ownedCap);
      conditions.push('(attribute_not_exists(owned) OR owned < :ownedCap)');
      values[':ownedCap'] = opts.ownedCap;
      const cap = opts.ownedCap;
      onFailed = () => poolCapReached(cap);
    }
    if (d.locked > 0 && opts.lockedCap !== undefined) {
      if (opts.lockedCap <= 0) throw lockLimitReached(opts.lockedCap);
      conditions.push('(attribute_not_exists(locked) OR locked < :lockedCap)');
      values[':lockedCap'] = opts.lockedCap;
      const cap = opts.lockedCap;
      onFailed = () => lockLimitReached(cap);
    }
    uow.update(
      repCounterKey(tenantId, userId),
      {
        expression: 'SET tenantId = :tenant, userId = :user, entityType = :type ADD owned :owned, locked :locked',
        values: { ':tenant': tenantId, ':user': userId, ':type': 'POOLREP', ':owned': d.owned, ':locked': d.locked },
      },
      conditions.length ? { condition: conditions.join(' AND '), values, onConditionFailed: onFailed! } : undefined,
    );
  }
}

/** A clock item: the account's entry for one rule in the due index, at a stage. */
/** Adds `n` accounts to a user's owned count: the deferred count of `deferOwnerCount` creates. */
export function addOwnedAccounts(uow: UnitOfWork, tenantId: string, userId: string, n: number): UnitOfWork {
  return uow.update(repCounterKey(tenantId, userId), {
    expression: 'SET tenantId = :tenant, userId = :user, entityType = :type ADD owned :owned, locked :locked',
    values: { ':tenant': tenantId, ':user': userId, ':type': 'POOLREP', ':owned': n, ':locked': 0 },
  });
}

export function clockItem(ctx: UseCaseContext, tenantId: string, accountId: string, rule: ReleaseRule, anchor: string, stage: Stage) {
  return {
    ...poolClockKey(tenantId, accountId, rule),
    tenantId,
    entityType: 'POOLCLOCK',
    accountId,
    rule,
    anchor,
    stage,
    /** Changes with every write of the item: the job's conditions name the version it read. */
    rev: ulid(ctx.now.getTime()),
    duePk: poolDuePartition(tenantId, rule, stage, poolShard(accountId)),
    dueSk: `${anchor}#${accountId}`,
  };
}

/**
 * For a change that may end an exemption or bring back the `not_won` clock, made by code that
 * does not hold the account record (the opportunities context: an opportunity closed, deleted,
 * won or reopened). Adds one unconditional Put to `uow`; the next `pool-release` run re-derives
 * the account's clocks from the account as it then is (and releases it in that same run if it
 * is due). Harmless when nothing changed; calling it on every change of the counts is fine.
 */
export function nudgePoolClock(ctx: UseCaseContext, uow: UnitOfWork, accountId: string): UnitOfWork {
  const tenantId = ctx.identity.tenantId;
  return uow.put({
    ...poolNudgeKey(tenantId, accountId),
    tenantId,
    entityType: 'POOLNUDGE',
    accountId,
    rev: ulid(ctx.now.getTime()),
    duePk: poolNudgePartition(tenantId, poolShard(accountId)),
    dueSk: `${ctx.now.toISOString()}#${accountId}`,
  });
}
