/**
 * Account merge (API.md §5): `POST /v1/accounts/{id}/merge {"sourceId"}`. The target
 * absorbs the source: every child of the source's collection (contacts, activities, tasks,
 * opportunities, quotes, orders — any kind registered in domain/record-specs.ts) moves to
 * the target, the tags are united, the target keeps its fields where both are set and
 * takes the source's where it has none, the source's guards are released (or handed to
 * the target for the values it took), and the source is deleted: `GET` on it is a 404.
 *
 * A merge is too big for one transaction (500 children), so it runs in steps that are each
 * safe to repeat, coordinated by a MERGE LOCK item beside each account
 * (`T#t#ACCOUNT#<id>` / `MERGE`):
 *
 *   1. Lock, one transaction: the source's lock says `role: source, mergedInto: <target>`,
 *      the target's lock `role: target` with the source in `mergingFrom`. A source already
 *      merging into ANOTHER account, a source that is itself absorbing one, or a target
 *      that is being merged away is a `409 merge_in_progress`. The same pair again (a retry,
 *      a second manager) passes and resumes.
 *   2. Move the children, page by page (Query of the collection in `byParent`), in
 *      transactions of MOVE_BATCH children: each child is updated (accountId, index keys,
 *      version + 1) on condition that it STILL points at the source at the version read,
 *      with its `<kind>.updated` event. A child that changed or moved in between (an edit, a
 *      second manager merging the same pair) makes the batch re-read its children and try
 *      again with those still on the source, so nothing is moved twice and nothing is lost.
 *   3. Finish, one transaction: the source's lock gets `completedAt` (conditioned on not
 *      having it: exactly one request finishes a merge), the target is replaced (version
 *      condition) with the fields and tags it absorbs, the source is deleted (version
 *      condition) and its guards released or transferred, `account.merged` is emitted, and
 *      the idempotency record is written.
 *   4. Sweep: children that landed on the source while the merge ran are moved too.
 *
 * Interrupted anywhere (a crash, a timeout), the same request again resumes from the lock
 * and finishes. Two managers merging the same pair at once both do the work, neither moves
 * a child twice, one finishes it, and both answer 200 with the target as it now is (the
 * one that did not finish reads it back). A request for a pair whose merge is finished
 * answers the same 200, so a retry after a lost response is harmless.
 *
 * Events: every moved child emits its own `<kind>.updated` (changed: ["accountId"]) in the
 * transaction that moves it, because consumers keep per-record state (audit log, search,
 * sync) and must not have to know what a merge implies; the finish emits
 * `account.updated` for the target and one `account.merged` summary naming both accounts
 * (the source's last state included), which is the source's end of life: no
 * `account.deleted` is emitted for it.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, forbidden, notFound, validationFailed } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { requireRole } from '#domain/identity.ts';
import { publicView, replace, retryOnVersionRace, VersionRace, writable, type StoredRecord } from '#domain/records.ts';
import { specOf } from '#domain/record-specs.ts';
import { db } from '#domain/table/client.ts';
import { accountCollection, entityKey, mergeLockKey, stripKeys } from '#domain/table/keys.ts';
import { getItems, queryInput } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { GUARD_KINDS, guardsOf, releaseGuards, transferGuards, valuesOfRecord, type GuardValues } from '#domain/accounts/duplicates.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';
import { loadOpenableAccount, mayOpenAccount } from '#domain/pool/pool.ts';
import { presentAccount, type PooledAccount } from '#domain/pool/view.ts';
import { accountPoolWrites } from '#domain/pool/writes.ts';

type Item = Record<string, unknown>;

export const mergeBody = z.lazy(() => z.strictObject({ sourceId: f.id }));
export type MergeBody = z.infer<typeof mergeBody>;

/** Children per move transaction: each is an Update and an outbox Put, so 2 × 25 = 50 items. */
export const MOVE_BATCH = 25;
/** Children read per Query page (split into move batches). */
const PAGE = 100;
/** Passes of the sweep that ends a merge; each pass that still finds children runs again. */
const MAX_SWEEPS = 5;
/** Attempts of one batch whose children keep changing under it. */
const MAX_BATCH_ATTEMPTS = 10;

/** The fields a target takes from the source when it has none of its own. */
const FILLABLE = ['domain', 'email', 'phone', 'industry', 'tier', 'address', 'description'] as const;
const MAX_TAGS = 100;
/** Counts an account keeps of its children (the opportunities context): the target's now count the source's too. */
const CHILD_COUNTERS = ['openOpportunityCount', 'wonOpportunityCount'] as const;

export interface MergeOptions {
  /**
   * Called after each committed batch of moves with the number of children this request
   * has moved so far. Tests throw from it to interrupt a merge halfway.
   */
  afterBatch?: (moved: number) => void | Promise<void>;
}

const mergeInProgress = (detail: string) => conflict('merge_in_progress', detail);
const noSuchSource = () => validationFailed([{ path: 'body.sourceId', message: 'no such account' }]);

/** The source's lock says its merge into this target is finished. */
class AlreadyMerged extends Error {}
/** The source's account item is gone (merged or deleted by someone else meanwhile). */
class SourceGone extends Error {}
/** A child changed, moved or disappeared between our read and our write. */
class ChildChanged extends Error {}

/** The caller's context without its idempotency key: only the finishing transaction records the result. */
const quiet = (ctx: UseCaseContext): UseCaseContext => ({ identity: ctx.identity, now: ctx.now });

function recordOf<R extends StoredRecord>(item: Item): R {
  return { ...stripKeys<R>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

export async function mergeAccounts(ctx: UseCaseContext, targetId: string, body: MergeBody, options: MergeOptions = {}): Promise<PooledAccount> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  const who = ctx.identity;
  // 1. The target: a 404 unless the caller may open it; then only managers and admins merge, a manager within its team.
  const target = await loadOpenableAccount(ctx, targetId);
  requireRole(who, 'admin', 'manager');
  if (!writable(accountSpec, who, target)) throw forbidden('You may merge only accounts you may change.');
  const sourceId = body.sourceId;
  if (sourceId === targetId) throw validationFailed([{ path: 'body.sourceId', message: 'an account cannot be merged into itself' }]);

  // 2. The source and its lock, in one read of its partition.
  const { account: source, lock } = await readSource(ctx, sourceId);
  if (lock?.completedAt !== undefined) {
    if (lock.mergedInto === targetId) return finished(ctx, sourceId, targetId, options);
    throw noSuchSource();
  }
  if (!source || !mayOpenAccount(ctx, source)) throw noSuchSource();
  if (!writable(accountSpec, who, source)) throw forbidden('You may merge only accounts you may change.');

  // 3. Lock the pair (skipped when resuming this very merge).
  const resuming = lock?.role === 'source' && lock.mergedInto === targetId;
  if (!resuming) {
    try {
      await lockPair(ctx, sourceId, targetId);
    } catch (err) {
      if (err instanceof AlreadyMerged) return finished(ctx, sourceId, targetId, options);
      if (err instanceof SourceGone) {
        const again = await readSource(ctx, sourceId);
        if (again.lock?.completedAt !== undefined && again.lock.mergedInto === targetId) return finished(ctx, sourceId, targetId, options);
        throw noSuchSource();
      }
      throw err;
    }
  }

  // 4. Move every child, then finish in one transaction, then sweep up late arrivals.
  const progress = { moved: 0 };
  await moveChildren(ctx, sourceId, targetId, options, progress, 1);
  let result: PooledAccount;
  try {
    result = await finish(ctx, sourceId, targetId);
  } catch (err) {
    if (err instanceof AlreadyMerged) return finished(ctx, sourceId, targetId, options, progress);
    throw err;
  }
  await moveChildren(ctx, sourceId, targetId, options, progress, MAX_SWEEPS);
  return result;
}

/**
 * A merge of this pair is finished (by this request before, or by another one): sweep any
 * child that still points at the source, and answer the target as it now is.
 */
async function finished(ctx: UseCaseContext, sourceId: string, targetId: string, options: MergeOptions, progress = { moved: 0 }): Promise<PooledAccount> {
  await moveChildren(ctx, sourceId, targetId, options, progress, MAX_SWEEPS);
  return presentAccount(ctx, await loadOpenableAccount(ctx, targetId));
}

interface MergeLock {
  role?: 'source' | 'target';
  mergedInto?: string;
  mergingFrom?: Set<string>;
  completedAt?: string;
}

async function readSource(ctx: UseCaseContext, sourceId: string): Promise<{ account?: Account; lock?: MergeLock }> {
  const out = await db.send(
    new QueryCommand({ ...queryInput({ pk: entityKey(ctx.identity.tenantId, 'ACCOUNT', sourceId).PK }), ConsistentRead: true }),
  );
  const items = out.Items ?? [];
  const account = items.find((i) => i.SK === 'ACCOUNT');
  const lock = items.find((i) => i.SK === 'MERGE') as MergeLock | undefined;
  return { ...(account ? { account: recordOf<Account>(account) } : {}), ...(lock ? { lock } : {}) };
}

async function lockPair(ctx: UseCaseContext, sourceId: string, targetId: string): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  const names = { '#role': 'role', '#into': 'mergedInto', '#from': 'mergingFrom' };
  const values = { ':source': 'source', ':targetRole': 'target', ':target': targetId };
  await new UnitOfWork(quiet(ctx))
    .update(
      mergeLockKey(tenantId, sourceId),
      {
        expression: 'SET #role = :source, #into = :target, startedAt = if_not_exists(startedAt, :now), tenantId = :tenant, entityType = :lockType',
        names,
        values: { ...values, ':now': ctx.now.toISOString(), ':tenant': tenantId, ':lockType': 'MERGE' },
      },
      {
        // Free, or this very merge unfinished, or a former target with nothing coming in.
        condition:
          'attribute_not_exists(PK) OR attribute_not_exists(#role) OR (#role = :source AND #into = :target AND attribute_not_exists(completedAt)) OR (#role = :targetRole AND attribute_not_exists(#from))',
        names,
        values,
        onConditionFailed: (current) => {
          if (current?.role === 'source' && current.mergedInto === targetId && current.completedAt !== undefined) return new AlreadyMerged();
          if (current?.role === 'source') return mergeInProgress('The source account is being merged into another account.');
          return mergeInProgress('Other accounts are being merged into the source account; merge it when that is done.');
        },
      },
    )
    .update(
      mergeLockKey(tenantId, targetId),
      {
        expression: 'SET #role = :targetRole, tenantId = :tenant, entityType = :lockType ADD #from :sources',
        names: { '#role': 'role', '#from': 'mergingFrom' },
        values: { ':targetRole': 'target', ':tenant': tenantId, ':lockType': 'MERGE', ':sources': new Set([sourceId]) },
      },
      {
        condition: 'attribute_not_exists(PK) OR #role = :targetRole',
        names: { '#role': 'role' },
        values: { ':targetRole': 'target' },
        onConditionFailed: () => mergeInProgress('The target account is being merged into another account.'),
      },
    )
    .check(entityKey(tenantId, 'ACCOUNT', sourceId), { condition: 'attribute_exists(PK)', onConditionFailed: () => new SourceGone() })
    .check(entityKey(tenantId, 'ACCOUNT', targetId), { condition: 'attribute_exists(PK)', onConditionFailed: () => notFound('account') })
    .commit(undefined);
}

/**
 * Moves the children still on the source, page by page, batch by batch. `passes` bounds
 * how many times the collection is read again while a pass still finds children (one
 * pass normally; a sweep repeats while children keep arriving).
 */
async function moveChildren(
  ctx: UseCaseContext,
  sourceId: string,
  targetId: string,
  options: MergeOptions,
  progress: { moved: number },
  passes: number,
): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  for (let pass = 0; pass < passes; pass++) {
    let movedThisPass = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await db.send(
        new QueryCommand({
          // Every rank after the account's own `0#ACCOUNT`: contacts, opportunities, … done tasks.
          ...queryInput({ index: 'byParent', pk: accountCollection(tenantId, sourceId), sk: { between: ['1', '~'] } }),
          Limit: PAGE,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const items = out.Items ?? [];
      for (let i = 0; i < items.length; i += MOVE_BATCH) {
        const n = await moveBatch(ctx, sourceId, targetId, items.slice(i, i + MOVE_BATCH));
        if (n > 0) {
          movedThisPass += n;
          progress.moved += n;
          await options.afterBatch?.(progress.moved);
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    if (movedThisPass === 0) return;
  }
}

/** One transaction moving these children; re-reads and retries when one changed meanwhile. Answers how many moved. */
async function moveBatch(ctx: UseCaseContext, sourceId: string, targetId: string, items: Item[]): Promise<number> {
  let current = items;
  for (let attempt = 0; ; attempt++) {
    // The index is read eventually consistent: an image may be stale, the condition decides.
    const children = current.filter((i) => i.accountId === sourceId);
    if (children.length === 0) return 0;
    const uow = new UnitOfWork(quiet(ctx));
    for (const item of children) moveChild(uow, ctx, item, sourceId, targetId);
    try {
      await uow.commit(undefined);
      return children.length;
    } catch (err) {
      // A concurrent merge of the same pair writing the same children at this very moment.
      const contended = err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
      if (!(err instanceof ChildChanged) && !contended) throw err;
      if (attempt + 1 >= MAX_BATCH_ATTEMPTS) throw conflict('concurrent_update', 'The accounts are changing too fast to merge them; retry.');
      if (contended) await new Promise((r) => setTimeout(r, Math.random() * 50 * (attempt + 1)));
      const fresh = await getItems(children.map((i) => ({ PK: i.PK as string, SK: i.SK as string })));
      current = fresh.filter((i): i is Item => i !== undefined);
    }
  }
}

function moveChild(uow: UnitOfWork, ctx: UseCaseContext, item: Item, sourceId: string, targetId: string): void {
  const tenantId = ctx.identity.tenantId;
  const spec = specOf(item.entityType);
  if (!spec) {
    throw new Error(`account ${sourceId} holds a ${String(item.entityType)} that no RecordSpec is registered for in domain/record-specs.ts; it cannot be merged`);
  }
  const before = recordOf<StoredRecord & { accountId?: string }>(item);
  const after = { ...before, accountId: targetId, version: before.version + 1, updatedAt: ctx.now.toISOString() };
  const keysBefore = spec.indexKeys(tenantId, before) as Item;
  const keysAfter = spec.indexKeys(tenantId, after) as Item;

  const names: Record<string, string> = { '#account': 'accountId', '#v': 'version', '#u': 'updatedAt' };
  const values: Record<string, unknown> = { ':target': targetId, ':next': after.version, ':now': after.updatedAt };
  const sets = ['#account = :target', '#v = :next', '#u = :now'];
  const removes: string[] = [];
  Object.keys({ ...keysBefore, ...keysAfter }).forEach((attr, i) => {
    const a = keysAfter[attr];
    const b = keysBefore[attr];
    if (a === b) return;
    names[`#k${i}`] = attr;
    if (a === undefined || a === null) removes.push(`#k${i}`);
    else {
      values[`:k${i}`] = a;
      sets.push(`#k${i} = :k${i}`);
    }
  });
  uow.update(
    { PK: item.PK, SK: item.SK },
    { expression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`, names, values },
    {
      condition: 'attribute_exists(PK) AND #account = :source AND #v = :v',
      names: { '#account': 'accountId', '#v': 'version' },
      values: { ':source': sourceId, ':v': before.version },
      onConditionFailed: () => new ChildChanged(),
    },
  );
  uow.emit(spec.events.updated as 'account.updated', { type: spec.noun, id: before.id }, {
    before: publicView(before) as unknown as { id: string; version: number },
    after: publicView(after) as unknown as { id: string; version: number },
    changed: ['accountId'],
  });
}

/** The target after absorbing the source: its own fields first, the source's where it has none; tags united. */
export function absorb(target: Account, source: Account | undefined): Account {
  if (!source) return target;
  const next: Record<string, unknown> = { ...target };
  for (const field of FILLABLE) {
    if (next[field] === undefined && source[field] !== undefined) next[field] = source[field];
  }
  next.tags = [...new Set([...target.tags, ...source.tags])].slice(0, MAX_TAGS);
  for (const counter of CHILD_COUNTERS) {
    const [mine, theirs] = [(target as unknown as Record<string, unknown>)[counter], (source as unknown as Record<string, unknown>)[counter]];
    if (typeof mine === 'number' || typeof theirs === 'number') next[counter] = (typeof mine === 'number' ? mine : 0) + (typeof theirs === 'number' ? theirs : 0);
  }
  const follow = [target.lastFollowUpAt, source.lastFollowUpAt].filter((x): x is string => typeof x === 'string').sort();
  next.lastFollowUpAt = follow.at(-1) ?? null;
  return next as unknown as Account;
}

async function finish(ctx: UseCaseContext, sourceId: string, targetId: string): Promise<PooledAccount> {
  const tenantId = ctx.identity.tenantId;
  return retryOnVersionRace(undefined, async () => {
    const [targetItem, sourceItem] = await getItems([entityKey(tenantId, 'ACCOUNT', targetId), entityKey(tenantId, 'ACCOUNT', sourceId)]);
    if (!targetItem) throw notFound('account');
    const target = recordOf<Account>(targetItem);
    const source = sourceItem ? recordOf<Account>(sourceItem) : undefined;
    const absorbed = absorb(target, source);
    const next: Account = { ...absorbed, version: target.version + 1, updatedAt: ctx.now.toISOString() };

    const uow = new UnitOfWork(ctx);
    // The source's lock first: a merge another request finished fails here, before anything else.
    uow.update(
      mergeLockKey(tenantId, sourceId),
      { expression: 'SET completedAt = :now, completedBy = :user', values: { ':now': ctx.now.toISOString(), ':user': ctx.identity.userId } },
      {
        condition: '#role = :source AND #into = :target AND attribute_not_exists(completedAt)',
        names: { '#role': 'role', '#into': 'mergedInto' },
        values: { ':source': 'source', ':target': targetId },
        onConditionFailed: (current) =>
          current?.completedAt !== undefined && current.mergedInto === targetId
            ? new AlreadyMerged()
            : mergeInProgress('The source account is being merged into another account.'),
      },
    );
    uow.update(mergeLockKey(tenantId, targetId), {
      expression: 'DELETE #from :sources',
      names: { '#from': 'mergingFrom' },
      values: { ':sources': new Set([sourceId]) },
    });
    replace(ctx, accountSpec, target, next, uow);
    // The pool's side (domain/pool/writes.ts): the target's release clock may move with its
    // follow-up or its open opportunities; the source's owner holds one account less.
    accountPoolWrites(ctx, uow, target, next);
    if (source) accountPoolWrites(ctx, uow, source, undefined);
    if (source) {
      uow.delete(entityKey(tenantId, 'ACCOUNT', sourceId), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': source.version },
        onConditionFailed: () => new VersionRace(),
      });
      // The values the target took from the source change hands; the rest are released.
      const taken: GuardValues = {};
      const released: GuardValues = {};
      const sourceValues = valuesOfRecord('account', source);
      const targetValues = valuesOfRecord('account', target);
      for (const kind of GUARD_KINDS.account) {
        if (sourceValues[kind] === undefined) continue;
        const took = targetValues[kind] === undefined && valuesOfRecord('account', next)[kind] === sourceValues[kind];
        (took ? taken : released)[kind] = sourceValues[kind];
      }
      if (guardsOf('account', taken).length) transferGuards(ctx, uow, 'account', sourceId, targetId, taken);
      releaseGuards(ctx, uow, 'account', sourceId, released);
    }
    uow.emit('account.merged', { type: 'account', id: targetId }, {
      targetId,
      sourceId,
      source: source ? (publicView(source) as unknown as { id: string; version: number }) : null,
    });
    return uow.commit(await presentAccount(ctx, next));
  });
}

/**
 * For deleting an account: refused (`409 merge_in_progress`) while a merge takes from it or
 * into it, so no child is moved into, or left behind by, an account that is gone.
 */
export function notMerging(ctx: UseCaseContext, uow: UnitOfWork, accountId: string): UnitOfWork {
  return uow.check(mergeLockKey(ctx.identity.tenantId, accountId), {
    condition: 'attribute_not_exists(PK) OR (attribute_not_exists(#from) AND (attribute_not_exists(#into) OR attribute_exists(completedAt)))',
    names: { '#from': 'mergingFrom', '#into': 'mergedInto' },
    onConditionFailed: () => mergeInProgress('The account is being merged; delete it when the merge is done.'),
  });
}
