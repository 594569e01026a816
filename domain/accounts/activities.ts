/** Activity use cases, including the `lastFollowUpAt` rule of API.md §5. */
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, forbidden, notFound } from '#domain/errors.ts';
import { attributeFilter, ownedListQuery } from '#domain/listing.ts';
import {
  checkIfMatch,
  fromItem,
  insert,
  unchanged,
  writable,
  mergePatch,
  nextVersion,
  publicView,
  readable,
  remove,
  replace,
  retryOnVersionRace,
  stamp,
  VersionRace,
  visibleFromItem,
} from '#domain/records.ts';
import { accountCollection, contactCollection, entityKey, leadCollection, rank } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { accountPoolWrites } from '#domain/pool/writes.ts';
import { readableAccount, readableContact, readableLead, readableOpportunity, resolveLinks, type ResolvedLinks } from '#domain/accounts/links.ts';
import { activitySpec, type Activity, type ActivityCreate, type ActivityPatch } from '#domain/accounts/activity.ts';
import { moveOpportunityActivity, opportunityOf } from '#domain/sales/opportunity.ts';

/**
 * An activity on an account moves the account's `lastFollowUpAt` forward to its
 * `occurredAt` if later, in the same transaction. The condition re-checks "later" at
 * write time, so two follow-ups racing can only move it forward.
 */
function moveFollowUp(uow: UnitOfWork, ctx: UseCaseContext, account: Account, occurredAt: string): void {
  if (account.lastFollowUpAt && account.lastFollowUpAt >= occurredAt) return;
  uow.update(
    entityKey(ctx.identity.tenantId, 'ACCOUNT', account.id),
    {
      expression: 'SET lastFollowUpAt = :t, version = version + :one, updatedAt = :now',
      values: { ':t': occurredAt, ':one': 1, ':now': ctx.now.toISOString() },
    },
    {
      condition: 'attribute_exists(PK) AND (attribute_not_exists(lastFollowUpAt) OR attribute_type(lastFollowUpAt, :null) OR lastFollowUpAt < :t)',
      values: { ':null': 'NULL', ':t': occurredAt },
      onConditionFailed: () => new VersionRace(),
    },
  );
  // Its release clock moves in the same transaction: `releaseAt` moves at once (domain/pool/writes.ts).
  accountPoolWrites(ctx, uow, account, { ...account, lastFollowUpAt: occurredAt });
}

export async function logActivity(ctx: UseCaseContext, input: ActivityCreate): Promise<Activity> {
  // A race on lastFollowUpAt re-reads the account and tries again.
  return retryOnVersionRace(undefined, async () => {
    const uow = new UnitOfWork(ctx);
    const activity = await activityWrites(ctx, input, uow);
    return uow.commit(publicView(activity));
  });
}

/**
 * The writes of a new activity, added to `uow` (commit it under `retryOnVersionRace`: the
 * follow-up clock's condition fails with a VersionRace). `links`: the records it links to when
 * the caller has them already (a lead created in the same transaction), else they are read.
 */
export async function activityWrites(ctx: UseCaseContext, input: ActivityCreate, uow: UnitOfWork, links?: ResolvedLinks): Promise<Activity> {
  // 1. Resolve the links the caller may open; the account may come through the contact.
  const { occurredAt, ...fields } = input;
  const { account, opportunity } = links ?? (await resolveLinks(ctx, input));
  const activity = stamp<Activity>(
    ctx,
    {
      ...fields,
      ...(account ? { accountId: account.id } : {}),
      occurredAt: occurredAt ?? ctx.now.toISOString(),
      createdBy: ctx.identity.userId,
    },
    { ownerId: ctx.identity.userId, ownerTeamId: ctx.identity.teamId ?? null },
  );
  // 2. The activity, its event and the account's follow-up clock land together.
  insert(ctx, activitySpec, activity, uow);
  if (account) moveFollowUp(uow, ctx, account, activity.occurredAt);
  // An activity on an opportunity moves its `lastActivityAt` (what `stalled` is derived from).
  if (opportunity) moveOpportunityActivity(ctx, uow, opportunity, activity.occurredAt);
  return activity;
}

/** Its author, the author's manager, an admin, or anyone who may open the account it is on. */
async function loadVisibleActivity(ctx: UseCaseContext, id: string): Promise<Activity> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'ACTIVITY', id));
  if (!item) throw notFound('activity');
  const activity = { ...fromItem<Activity>(item), ownerTeamId: (item.ownerTeamId as string | undefined) ?? null };
  if (readable(activitySpec, ctx.identity, activity)) return activity;
  if (activity.leadId) {
    // Whoever may open the lead sees its activities.
    const lead = await readableLead(ctx, activity.leadId).catch((err: unknown) => {
      if (err instanceof DomainError) return undefined; // not a lead the caller may open
      throw err;
    });
    if (lead) return activity;
  }
  if (activity.accountId) {
    const account = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', activity.accountId));
    if (account && readable(accountSpec, ctx.identity, { ...fromItem<Account>(account), ownerTeamId: (account.ownerTeamId as string | undefined) ?? null })) {
      return activity;
    }
  }
  throw notFound('activity');
}

/** Visible activities that the caller may not change (support reading an account's feed) are a 403, not a 404. */
async function loadWritableActivity(ctx: UseCaseContext, id: string): Promise<Activity> {
  const activity = await loadVisibleActivity(ctx, id);
  if (!writable(activitySpec, ctx.identity, activity)) throw forbidden('Only its author, the author\'s manager or an admin may change this activity.');
  return activity;
}

export async function getActivity(ctx: UseCaseContext, id: string): Promise<Activity> {
  return publicView(await loadVisibleActivity(ctx, id));
}

export async function updateActivity(ctx: UseCaseContext, id: string, patch: ActivityPatch, ifMatch: number | undefined): Promise<Activity> {
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadWritableActivity(ctx, id);
    checkIfMatch(before, ifMatch);
    const after = mergePatch(before, patch);
    if (unchanged(before, after)) return publicView(before);
    const next = nextVersion(ctx, before, after);
    const uow = replace(ctx, activitySpec, before, next);
    if (next.accountId && next.occurredAt > before.occurredAt) {
      const account = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', next.accountId));
      if (account) moveFollowUp(uow, ctx, fromItem<Account>(account), next.occurredAt);
    }
    if (next.opportunityId && next.occurredAt > before.occurredAt) {
      const opportunity = await getItem(entityKey(ctx.identity.tenantId, 'OPPORTUNITY', next.opportunityId));
      if (opportunity) moveOpportunityActivity(ctx, uow, opportunityOf(opportunity), next.occurredAt);
    }
    return uow.commit(publicView(next));
  });
}

/** Deleting a follow-up does not move `lastFollowUpAt` back: the contact did happen. */
export async function deleteActivity(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const activity = await loadWritableActivity(ctx, id);
    checkIfMatch(activity, ifMatch);
    await remove(ctx, activitySpec, activity).commit(undefined);
  });
}

export interface ActivityFilters {
  accountId?: string | undefined;
  contactId?: string | undefined;
  opportunityId?: string | undefined;
  leadId?: string | undefined;
}

const ACTIVITIES = `${rank.ACTIVITY}#ACTIVITY#`;

export async function listActivities(ctx: UseCaseContext, filters: ActivityFilters, page: PageRequest): Promise<Page<Activity>> {
  const who = ctx.identity;
  const all = (item: Record<string, unknown>) => publicView(fromItem<Activity>(item));
  if (filters.leadId !== undefined) {
    // A lead's activities: its own collection, newest first. Whoever may open the lead sees them all.
    const lead = await readableLead(ctx, filters.leadId, 'query.leadId');
    const others = attributeFilter({ accountId: filters.accountId, contactId: filters.contactId, opportunityId: filters.opportunityId });
    return queryPage(
      { index: 'byParent', pk: leadCollection(who.tenantId, lead.id), sk: { beginsWith: ACTIVITIES }, ...(others ? { filter: others } : {}) },
      page,
      all,
    );
  }
  if (filters.opportunityId !== undefined) {
    // An opportunity's activities: its account's collection, filtered to it. Whoever may open the opportunity sees them all.
    const opportunity = await readableOpportunity(ctx, filters.opportunityId, 'query.opportunityId');
    const filter = attributeFilter({ opportunityId: opportunity.id, accountId: filters.accountId, contactId: filters.contactId });
    return queryPage(
      { index: 'byParent', pk: accountCollection(who.tenantId, opportunity.accountId), sk: { beginsWith: ACTIVITIES }, ...(filter ? { filter } : {}) },
      page,
      all,
    );
  }
  if (filters.contactId) {
    // A contact's activities live in its account's collection (or its own, without an account).
    const contact = await readableContact(ctx, filters.contactId, 'query.contactId');
    const spec: QuerySpec = contact.accountId
      ? {
          index: 'byParent',
          pk: accountCollection(who.tenantId, contact.accountId),
          sk: { beginsWith: ACTIVITIES },
          filter: { expression: '#c = :c', names: { '#c': 'contactId' }, values: { ':c': contact.id } },
        }
      : { index: 'byParent', pk: contactCollection(who.tenantId, contact.id), sk: { beginsWith: ACTIVITIES } };
    if (filters.accountId) spec.filter = { expression: '#c = :c AND #a = :a', names: { '#c': 'contactId', '#a': 'accountId' }, values: { ':c': contact.id, ':a': filters.accountId } };
    return queryPage(spec, page, all);
  }
  if (filters.accountId) {
    await readableAccount(ctx, filters.accountId, 'query.accountId');
    return queryPage({ index: 'byParent', pk: accountCollection(who.tenantId, filters.accountId), sk: { beginsWith: ACTIVITIES } }, page, all);
  }
  return queryPage(ownedListQuery(ctx, 'ACTIVITY', {}, false), page, (item) => visibleFromItem(activitySpec, who, item));
}
