/**
 * Target use cases (API.md §5 "targets").
 *
 * Setting (`PUT /v1/targets/{period}`): admins for any user of the directory or any
 * team; a manager for its own team and for the reps of its team (not for itself: its
 * own target comes from above). Reps, support and marketers: 403. An unknown user: 400.
 * The PUT is idempotent: the same body again answers the same target, version unchanged;
 * only a change of amount or currency makes a new version.
 *
 * Reading (`GET /v1/targets/{period}`): admins see every target of the month; a manager
 * its team's target, its members' and its own; a rep its own. Support and marketers: 403.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { forbidden, validationFailed } from '#domain/errors.ts';
import { requireRole, type Identity } from '#domain/identity.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import { newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { ownerPartition, teamPartition } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import * as money from '#domain/sales/money.ts';
import {
  periodPartition,
  targetItem,
  targetKey,
  targetOf,
  presentTarget,
  type Subject,
  type Target,
  type TargetPut,
  type TargetView,
} from '#domain/sales/target.ts';

/** Which subject the body names, and whether the caller may set its target. */
async function subjectOf(ctx: UseCaseContext, input: TargetPut): Promise<{ subject: Subject; memberOf: string | null }> {
  const who = ctx.identity;
  requireRole(who, 'admin', 'manager');
  if ((input.userId === undefined) === (input.teamId === undefined)) {
    const message = 'exactly one of userId and teamId';
    throw validationFailed([{ path: 'body.userId', message }, { path: 'body.teamId', message }]);
  }
  if (input.teamId !== undefined) {
    if (who.role === 'manager' && input.teamId !== who.teamId) throw forbidden('A manager sets targets for its own team only.');
    return { subject: { teamId: input.teamId }, memberOf: null };
  }
  const user = await requireDirectoryUser(who.tenantId, input.userId!, 'body.userId');
  if (who.role === 'manager') {
    const ownRep = !!who.teamId && user.teamId === who.teamId && user.role === 'rep';
    if (!ownRep) throw forbidden('A manager sets targets for the reps of its own team only.');
  }
  return { subject: { userId: user.userId }, memberOf: user.teamId ?? null };
}

export async function setTarget(ctx: UseCaseContext, period: string, input: TargetPut): Promise<TargetView> {
  // 1. Who the target is for, and whether the caller may set it.
  const { subject, memberOf } = await subjectOf(ctx, input);
  const currency = input.currency ?? money.DEFAULT_CURRENCY;
  const tenant = ctx.identity.tenantId;
  const key = targetKey(tenant, period, subject);
  return retryOnVersionRace(undefined, async () => {
    // 2. The same amount and currency again change nothing (the user's team is refreshed with a change only).
    const existing = await getItem(key);
    const before = existing ? targetOf(existing) : undefined;
    if (before && before.amountMinor === input.amount && before.currency === currency) return presentTarget(before);
    // 3. Create (the key is free) or replace (the version read), with the event.
    const at = ctx.now.toISOString();
    const next: Target = {
      id: before?.id ?? newId(ctx),
      period,
      ...subject,
      ...('userId' in subject ? { memberOf } : {}),
      amountMinor: input.amount,
      currency,
      setBy: ctx.identity.userId,
      createdAt: before?.createdAt ?? at,
      updatedAt: at,
      version: (before?.version ?? 0) + 1,
    };
    const condition = before
      ? { condition: '#v = :v', names: { '#v': 'version' }, values: { ':v': before.version } }
      : { condition: 'attribute_not_exists(PK)' };
    const view = presentTarget(next);
    await new UnitOfWork(ctx)
      .put(targetItem(tenant, next), { ...condition, onConditionFailed: () => new VersionRace() })
      .emit('target.set', { type: 'target', id: next.id }, {
        ...view,
        previousAmount: before ? money.fromMinor(before.amountMinor) : null,
        previousCurrency: before ? before.currency : null,
      })
      .commit(view);
    return view;
  });
}

export interface TargetFilters {
  userId?: string | undefined;
  teamId?: string | undefined;
}

function visible(who: Identity, x: Target): boolean {
  if (who.role === 'admin') return true;
  if (x.userId === who.userId) return true;
  if (who.role !== 'manager' || !who.teamId) return false;
  return x.teamId === who.teamId || (x.userId !== undefined && x.memberOf === who.teamId);
}

export async function listTargets(ctx: UseCaseContext, period: string, filters: TargetFilters, page: PageRequest): Promise<Page<TargetView>> {
  const who = ctx.identity;
  requireRole(who, 'admin', 'manager', 'rep');
  const tenant = who.tenantId;
  const userId = filters.userId === 'me' ? who.userId : filters.userId;
  let spec: QuerySpec;
  if (userId !== undefined) {
    // One user's target of the month (a subject filter plus a team filter can only narrow it).
    spec = { index: 'byOwner', pk: ownerPartition(tenant, 'TARGET', userId), sk: { beginsWith: period } };
  } else if (filters.teamId !== undefined) {
    spec = { index: 'byTeam', pk: teamPartition(tenant, 'TARGET', filters.teamId), sk: { beginsWith: `${period}#` } };
  } else if (who.role === 'admin') {
    spec = { pk: periodPartition(tenant, period) };
  } else if (who.role === 'manager' && who.teamId) {
    spec = { index: 'byTeam', pk: teamPartition(tenant, 'TARGET', who.teamId), sk: { beginsWith: `${period}#` } };
  } else {
    spec = { index: 'byOwner', pk: ownerPartition(tenant, 'TARGET', who.userId), sk: { beginsWith: period } };
  }
  return queryPage(spec, page, (item) => {
    const x = targetOf(item);
    if (filters.teamId !== undefined && x.teamId !== filters.teamId && x.memberOf !== filters.teamId) return undefined;
    return visible(who, x) ? presentTarget(x) : undefined;
  });
}

/** One target, for tests and later dashboards: undefined when none is set. */
export async function findTarget(tenantId: string, period: string, subject: Subject): Promise<TargetView | undefined> {
  const item = await getItem(targetKey(tenantId, period, subject));
  return item ? presentTarget(targetOf(item)) : undefined;
}
