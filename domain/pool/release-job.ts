/**
 * The `pool-release` job (API.md §6): every 15 minutes, for every tenant, release the
 * accounts whose `releaseAt` has passed and send the `pool.reminder`s whose moment has come.
 *
 * WHAT IT READS. Each owned, unlocked account has one CLOCK item per rule (domain/pool/writes.ts)
 * in the sparse `byDue` index, partition `DUE#POOL#<tenant>#<rule>#<stage>#<shard>`, sort key
 * `<anchor>#<accountId>`, where the anchor is rule-INDEPENDENT (`no_follow_up`: the later of
 * `lastFollowUpAt` and `ownerSince`; `not_won`: `ownerSince`). The job applies the rules in
 * force NOW to the key range: stage k holds accounts with k reminders of their cycle behind
 * them, so it is due for its next reminder when `anchor ≤ now − days + remindBeforeDays[k]`
 * (descending), and the last stage when `anchor ≤ now − days` (release). Every item a query
 * returns is therefore work: a release, a reminder (which moves it to the next stage), or a
 * repair. Reads grow with the accounts due, plus a constant per tenant (its stage queries),
 * never with the accounts stored, and a rule change rewrites nothing.
 *
 * Accounts exempt for a reason that depends on the rules (tier, open opportunity) are PARKED
 * (stage `P`) when the job meets them, and re-checked once after each rule change; a change
 * of the account that may end the exemption (tier, last open opportunity closed) puts its
 * clock back to stage 0.
 *
 * HOW IT WRITES. Per account, one transaction, conditioned on what was read:
 *   - release: the account (`version` = the one read, so a follow-up or claim that lands
 *     meanwhile wins), counters, clock items removed, activity-feed entry, `account.released`,
 *     the former owner's `pool.released` notification;
 *   - reminders: one `pool.reminder` per reminder day whose moment has come, with an id derived
 *     from (account, rule, anchor, day) and conditioned on being new (so never twice per day per
 *     cycle; a follow-up moves the anchor and starts a new cycle), and the clock's stage move
 *     (conditioned on the clock's `rev`).
 * Killed anywhere, it is resumed by simply running again: what it did has left the key
 * ranges it reads, and what it did not is still there. Run twice at the same `now`, the
 * second run finds nothing to do.
 *
 * MORE THAN ONE INVOCATION CAN DO. In the cloud it stops when its time budget
 * (`getRemainingTimeInMillis`) runs low, saves the tenant it stopped at in its checkpoint
 * item, and the next run starts there (tenants take turns, so one huge backlog cannot starve
 * the others). Locally (no budget) it runs to completion.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { fromItem, toItem } from '#domain/records.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem, getItems, queryAll, queryInput } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { addNotification, derivedId, NotificationExists } from '#domain/notifications/notifications.ts';
import {
  POOL_JOB_CHECKPOINT,
  POOL_SHARDS,
  POOL_TENANT_PARTITION,
  poolClockKey,
  poolDuePartition,
  poolNudgeKey,
  poolNudgePartition,
  RELEASE_RULES,
  type ReleaseRule,
  type Stage,
} from '#domain/pool/keys.ts';
import { releasedRecord, releaseWrites } from '#domain/pool/pool.ts';
import { DAY_MS, markParkChecked, rulesFromItem, type StoredPoolRules } from '#domain/pool/rules.ts';
import { anchorsOf, exemptByRules, isOwned, passedReminders, releaseTiming, ruleDays, ruleReleaseAt } from '#domain/pool/timing.ts';
import { clockItem } from '#domain/pool/writes.ts';

type Item = Record<string, unknown>;

export const JOB_USER = 'system:pool-release';
/** Stop this long before the invocation's time runs out. */
const SAFETY_MS = 30_000;
const PAGE = 100;
/** Accounts of one page worked on at once (their transactions touch different accounts; an owner's counter may contend, and is retried). */
const CONCURRENCY = 8;

export interface PoolReleaseOptions {
  now?: Date;
  /** Milliseconds left in this invocation (Lambda's `getRemainingTimeInMillis`); none: run to completion. */
  timeLeftMs?: () => number;
  /** Fault injection for tests: throw once this many items have been acted on. */
  failAfter?: number;
  /** Query page size (tests use small pages to exercise paging). */
  pageSize?: number;
  /** Accounts of a page worked on at once (default 8). */
  concurrency?: number;
  /** Test hook: runs after the job has read an account and before it writes anything about it. */
  beforeWrite?: (accountId: string) => Promise<void>;
}

export type PoolReleaseReport = {
  job: 'pool-release';
  now: string;
  /** Items acted on: released + reminded + parked + unparked + repaired. */
  processed: number;
  released: number;
  /** Accounts that got reminders in this run, and how many notifications that made. */
  reminded: number;
  reminders: number;
  parked: number;
  unparked: number;
  repaired: number;
  /** Nudged accounts whose clocks were re-derived (an exemption may have ended). */
  nudged: number;
  /** Releases skipped because the account changed between the read and the write. */
  skipped: number;
  tenants: number;
  /** False when the time budget ran out; the next run resumes. */
  complete: boolean;
};

export class InjectedFailure extends Error {}

interface Clock {
  PK: string;
  SK: string;
  tenantId: string;
  accountId: string;
  rule: ReleaseRule;
  anchor: string;
  stage: Stage;
  rev: string;
}

export async function runPoolRelease(opts: PoolReleaseOptions = {}): Promise<PoolReleaseReport> {
  const now = opts.now ?? new Date();
  const report: PoolReleaseReport = {
    job: 'pool-release',
    now: now.toISOString(),
    processed: 0,
    released: 0,
    reminded: 0,
    reminders: 0,
    parked: 0,
    unparked: 0,
    repaired: 0,
    nudged: 0,
    skipped: 0,
    tenants: 0,
    complete: true,
  };
  const run = new Run(now, opts, report);

  // Every tenant with a pool, with its rules: one Query of the registry.
  const tenants = await queryAll({ index: 'byDue', pk: POOL_TENANT_PARTITION }, () => false);
  tenants.sort((a, b) => String(a.dueSk).localeCompare(String(b.dueSk)));
  const checkpoint = await getItem(POOL_JOB_CHECKPOINT);
  const resume = typeof checkpoint?.resumeTenant === 'string' ? checkpoint.resumeTenant : null;
  const start = resume ? Math.max(0, tenants.findIndex((x) => String(x.dueSk) >= resume)) : 0;
  const order = [...tenants.slice(start), ...tenants.slice(0, start)];

  let stoppedAt: string | null = null;
  for (const item of order) {
    const tenantId = String(item.dueSk);
    if (run.outOfTime()) {
      stoppedAt = tenantId;
      break;
    }
    const finished = await run.tenant(rulesFromItem(tenantId, item));
    report.tenants++;
    if (!finished) {
      stoppedAt = tenantId;
      break;
    }
  }
  report.complete = stoppedAt === null;
  if ((checkpoint?.resumeTenant ?? null) !== stoppedAt) {
    await db.send(new PutCommand({ TableName: tableName(), Item: { ...POOL_JOB_CHECKPOINT, entityType: 'JOB', resumeTenant: stoppedAt, at: now.toISOString() } }));
  }
  return report;
}

class Run {
  constructor(
    readonly now: Date,
    readonly opts: PoolReleaseOptions,
    readonly report: PoolReleaseReport,
  ) {}

  /** One more item acted on; the injected fault fires here, right after a committed item. */
  private acted(): void {
    this.report.processed++;
    if (this.opts.failAfter !== undefined && this.report.processed >= this.opts.failAfter) {
      throw new InjectedFailure(`injected failure after ${this.report.processed} items`);
    }
  }

  outOfTime(): boolean {
    return this.opts.timeLeftMs !== undefined && this.opts.timeLeftMs() < SAFETY_MS;
  }

  /** One tenant's due work; false when the time budget ran out first. */
  async tenant(rules: StoredPoolRules): Promise<boolean> {
    const ctx: UseCaseContext = { identity: { tenantId: rules.tenantId, userId: JOB_USER, role: 'admin' }, now: this.now };
    // After a rule change, parked accounts may no longer be exempt: look at them once.
    if (rules.parkCheckedVersion !== rules.version) {
      for (const rule of RELEASE_RULES) {
        for (let shard = 0; shard < POOL_SHARDS; shard++) {
          if (!(await this.drain(ctx, rules, poolDuePartition(rules.tenantId, rule, 'P', shard), undefined))) return false;
        }
      }
      await markParkChecked(rules.tenantId, rules.version);
    }
    // Accounts whose clocks a writer without the account asked to re-derive (nudges).
    for (let shard = 0; shard < POOL_SHARDS; shard++) {
      if (!(await this.nudges(ctx, rules, shard))) return false;
    }
    const reminders = rules.remindBeforeDays;
    for (const rule of RELEASE_RULES) {
      const days = ruleDays(rules, rule);
      if (days === null) continue;
      for (let stage = 0; stage < rules.stages; stage++) {
        const offset = stage < reminders.length ? reminders[stage]! : 0;
        const bound = new Date(this.now.getTime() - (days - offset) * DAY_MS).toISOString();
        for (let shard = 0; shard < POOL_SHARDS; shard++) {
          if (!(await this.drain(ctx, rules, poolDuePartition(rules.tenantId, rule, stage, shard), bound))) return false;
        }
      }
    }
    return true;
  }

  /** Re-derives the clocks of every nudged account of one shard from the account as it is, and drops the nudge. */
  private async nudges(ctx: UseCaseContext, rules: StoredPoolRules, shard: number): Promise<boolean> {
    let start: Item | undefined;
    do {
      if (this.outOfTime()) return false;
      const out = await db.send(
        new QueryCommand({
          ...queryInput({ index: 'byDue', pk: poolNudgePartition(rules.tenantId, shard) }),
          Limit: this.opts.pageSize ?? PAGE,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const nudges = out.Items ?? [];
      if (nudges.length) {
        const accounts = await getItems(nudges.map((n) => entityKey(rules.tenantId, 'ACCOUNT', n.accountId as string)));
        for (let i = 0; i < nudges.length; i++) {
          const nudge = nudges[i]!;
          const item = accounts[i];
          const account = item ? fromItem<Account>(item) : undefined;
          const anchors = account && isOwned(account) ? anchorsOf(account) : { no_follow_up: null, not_won: null };
          const uow = new UnitOfWork(ctx);
          for (const rule of RELEASE_RULES) {
            const anchor = anchors[rule];
            if (anchor === null) uow.delete(poolClockKey(rules.tenantId, nudge.accountId as string, rule));
            else uow.put(clockItem(ctx, rules.tenantId, nudge.accountId as string, rule, anchor, 0));
          }
          uow.delete(poolNudgeKey(rules.tenantId, nudge.accountId as string), revIs(nudge.rev as string));
          if (await tolerate(uow.commit(true))) {
            this.report.nudged++;
            this.acted();
          }
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return true;
  }

  /** Every clock item of a partition with `anchor ≤ bound` (all of them without a bound), page by page. */
  private async drain(ctx: UseCaseContext, rules: StoredPoolRules, partition: string, bound: string | undefined): Promise<boolean> {
    let start: Item | undefined;
    do {
      if (this.outOfTime()) return false;
      const out = await db.send(
        new QueryCommand({
          ...queryInput({ index: 'byDue', pk: partition, ...(bound ? { sk: { lessThan: `${bound}$` } } : {}) }),
          Limit: this.opts.pageSize ?? PAGE,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const clocks = (out.Items ?? []) as unknown as Clock[];
      if (clocks.length) {
        const ids = [...new Set(clocks.map((c) => c.accountId))];
        const accounts = await getItems(ids.map((id) => entityKey(rules.tenantId, 'ACCOUNT', id)));
        const byId = new Map<string, Account>();
        accounts.forEach((item) => {
          if (item) byId.set(item.id as string, { ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | null) ?? null });
        });
        // A page holds each account once (one rule's partition): its accounts are worked on side by side.
        await eachLimited(clocks, this.opts.concurrency ?? CONCURRENCY, async (clock) => {
          if (await this.evaluate(ctx, rules, clock, byId.get(clock.accountId))) this.acted();
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return true;
  }

  /** Decides on one clock item from its account as it is; answers whether it acted. */
  private async evaluate(ctx: UseCaseContext, rules: StoredPoolRules, clock: Clock, account: Account | undefined): Promise<boolean> {
    const tenantId = rules.tenantId;
    const rule = clock.rule;
    // 1. Repairs: a clock of an account that is gone, in the pool, locked, won, or whose anchor moved.
    const expected = account && isOwned(account) ? anchorsOf(account)[rule] : null;
    if (expected === null) {
      if (!(await tolerate(new UnitOfWork(ctx).delete(poolClockKey(tenantId, clock.accountId, rule), revIs(clock.rev)).commit(undefined)))) return false;
      this.report.repaired++;
      return true;
    }
    let current = clock;
    let repaired = false;
    if (expected !== clock.anchor) {
      const fixed = clockItem(ctx, tenantId, clock.accountId, rule, expected, 0) as unknown as Clock;
      if (!(await tolerate(new UnitOfWork(ctx).put(fixed as unknown as Item, revIs(clock.rev)).commit(true)))) return false;
      current = fixed;
      repaired = true;
      this.report.repaired++;
    }
    const a = account!;
    await this.opts.beforeWrite?.(a.id);
    // 2. Exempt by the rules in force: park it until the rules or the account change.
    if (exemptByRules(a, rules)) {
      if (current.stage === 'P') return repaired;
      const ok = await tolerate(new UnitOfWork(ctx).put(clockItem(ctx, tenantId, a.id, rule, current.anchor, 'P'), revIs(current.rev)).commit(true));
      if (ok) this.report.parked++;
      return ok || repaired;
    }
    if (current.stage === 'P') this.report.unparked++;
    const unparking = current.stage === 'P';
    // 3. Due: release it.
    const timing = releaseTiming(a, rules);
    if (timing.releaseAt !== null && timing.releaseAt <= this.now.toISOString()) {
      return (await this.release(ctx, a, timing.releaseReason!, timing.days!)) || repaired || unparking;
    }
    // 4. Reminders whose moment has come, and the clock's next stage.
    const own = ruleReleaseAt(a, rules, rule);
    const stage = own === null ? 0 : passedReminders(own, rules.remindBeforeDays, this.now).length;
    const due = timing.releaseAt === null ? [] : passedReminders(timing.releaseAt, rules.remindBeforeDays, this.now);
    const sent = await this.remind(ctx, a, timing, due, current, stage);
    return sent || stage !== current.stage || repaired || unparking;
  }

  private async release(ctx: UseCaseContext, account: Account, rule: ReleaseRule, days: number): Promise<boolean> {
    const next = releasedRecord(ctx, account);
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(accountSpec, ctx.identity.tenantId, next), {
      condition: '#v = :v AND poolStatus = :owned',
      names: { '#v': 'version' },
      values: { ':v': account.version, ':owned': 'owned' },
      onConditionFailed: () => new Changed(),
    });
    releaseWrites(ctx, uow, account, next, { rule, days });
    if (!(await tolerate(uow.commit(true)))) {
      this.report.skipped++;
      return false;
    }
    this.report.released++;
    return true;
  }

  /**
   * Sends the reminders of `due` that were not sent in this cycle, and moves the clock to
   * `stage`, in one transaction; a reminder already sent (its derived id exists) is dropped
   * and the rest tried again.
   */
  private async remind(
    ctx: UseCaseContext,
    account: Account,
    timing: ReturnType<typeof releaseTiming>,
    due: number[],
    clock: Clock,
    stage: number,
  ): Promise<boolean> {
    let pending = [...due];
    for (;;) {
      if (pending.length === 0 && stage === clock.stage) return false;
      const uow = new UnitOfWork(ctx);
      for (const d of pending) {
        addNotification(ctx, uow, {
          id: derivedId(ctx.identity.tenantId, account.id, timing.releaseReason!, timing.anchor!, String(d)),
          userId: account.ownerId!,
          kind: 'pool.reminder',
          message: reminderMessage(account, timing.releaseAt!, timing.releaseReason!, d, this.now),
          entityType: 'account',
          entityId: account.id,
          data: { releaseAt: timing.releaseAt, releaseReason: timing.releaseReason, daysBefore: d },
        });
      }
      if (stage !== clock.stage) uow.put(clockItem(ctx, ctx.identity.tenantId, account.id, clock.rule, clock.anchor, stage), revIs(clock.rev));
      try {
        await uow.commit(undefined);
        if (pending.length) {
          this.report.reminded++;
          this.report.reminders += pending.length;
        }
        return pending.length > 0;
      } catch (err) {
        if (err instanceof NotificationExists) {
          pending = pending.filter((d) => derivedId(ctx.identity.tenantId, account.id, timing.releaseReason!, timing.anchor!, String(d)) !== err.id);
          continue;
        }
        if (err instanceof Changed || conflictOnly(err)) return false; // the clock was rewritten meanwhile: the next run decides
        throw err;
      }
    }
  }
}

/**
 * Runs `fn` over `items`, at most `limit` at a time; waits for every started call to settle
 * before rethrowing the first failure (a failed run leaves nothing running behind it).
 */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

/** The item's condition failed because it changed since the read: leave it to the next run. */
class Changed extends Error {}

const revIs = (rev: string) => ({
  condition: 'attribute_exists(PK) AND rev = :rev',
  values: { ':rev': rev },
  onConditionFailed: () => new Changed(),
});

/**
 * Runs a commit; answers false instead of throwing when it changed nothing because the item
 * changed since the read (`Changed`), or because concurrent transactions kept cancelling it
 * (after the unit of work's own retries): either way the next run looks at it again.
 */
async function tolerate<T>(commit: Promise<T>): Promise<boolean> {
  try {
    await commit;
    return true;
  } catch (err) {
    if (err instanceof Changed) return false;
    if (conflictOnly(err)) return false;
    throw err;
  }
}

const conflictOnly = (err: unknown) =>
  err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).every((r) => r.Code !== 'ConditionalCheckFailed');

function reminderMessage(account: Account, releaseAt: string, reason: ReleaseRule, d: number, now: Date): string {
  const hours = Math.max(0, Math.round((Date.parse(releaseAt) - now.getTime()) / 3_600_000));
  const left = hours >= 48 ? `${Math.round(hours / 24)} days` : `${hours} hours`;
  const why = reason === 'no_follow_up' ? 'without a follow-up' : 'without a won opportunity';
  return `"${account.name}" goes to the public pool at ${releaseAt} (in about ${left}; ${d}-day reminder) ${why}. Log a follow-up or lock it to keep it.`;
}
