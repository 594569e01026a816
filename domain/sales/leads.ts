/** Lead use cases: create, open, change, delete, list. Conversion is in conversion.ts. */
import type { UseCaseContext } from '#domain/context.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import { conflict, forbidden, notFound, validationFailed } from '#domain/errors.ts';
import { canAssignTo, requireRole } from '#domain/identity.ts';
import { attributeFilter, ownedListQuery } from '#domain/listing.ts';
import type { Owner } from '#domain/ownership.ts';
import {
  checkIfMatch,
  insert,
  mergePatch,
  nextVersion,
  publicView,
  remove,
  replace,
  retryOnVersionRace,
  stamp,
  unchanged,
  type PreparedCreate,
} from '#domain/records.ts';
import { entityKey, nameKey } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import {
  canReadLead,
  canWriteLead,
  duplicateKeysOf,
  LEAD_ROLES,
  leadFromItem,
  leadSpec,
  leadStatusPartition,
  SALES_ROLES,
  type Lead,
  type LeadCreate,
  type LeadPatch,
  type LeadStatus,
} from '#domain/sales/lead.ts';
import { changeLeadGuards, claimLeadGuards, commitCreate, rejectDuplicates, releaseLeadGuards } from '#domain/accounts/duplicates.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';

export const invalidTransition = (detail: string, extra: Record<string, unknown> = {}) =>
  conflict('invalid_transition', detail, extra);

/** A lead the caller may open, or 404 (missing, another tenant's, another rep's: all alike). */
export async function loadLead(ctx: UseCaseContext, id: string): Promise<Lead> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'LEAD', id));
  if (!item) throw notFound('lead');
  const lead = leadFromItem(item);
  if (!canReadLead(ctx.identity, lead)) throw notFound('lead');
  return lead;
}

/** A lead the caller may change: 404 when it may not open it, 403 when it may only read it. */
export async function loadWritableLead(ctx: UseCaseContext, id: string): Promise<Lead> {
  const lead = await loadLead(ctx, id);
  if (!canWriteLead(ctx.identity, lead)) throw forbidden('Your role may read this lead but not change it.');
  return lead;
}

/**
 * Who a new or reassigned lead belongs to. The caller itself; or a user of the directory who
 * works in sales (a lead is handed to someone who will call it), whom the caller may assign to:
 * admins anyone, managers their team, and marketers any sales user (marketing hands its
 * qualified leads to sales). Reps may not give leads away.
 */
export async function resolveLeadOwner(ctx: UseCaseContext, requested: string | undefined): Promise<Owner> {
  const who = ctx.identity;
  if (requested === undefined || requested === who.userId) return { ownerId: who.userId, ownerTeamId: who.teamId ?? null };
  const user = await requireDirectoryUser(who.tenantId, requested, 'body.ownerId');
  if (!(SALES_ROLES as readonly string[]).includes(user.role)) {
    throw validationFailed([{ path: 'body.ownerId', message: 'a lead is assigned to a sales user (admin, manager or rep)' }]);
  }
  if (who.role !== 'marketer' && !canAssignTo(who, { userId: user.userId, teamId: user.teamId })) {
    throw forbidden('You may assign leads only to yourself, or as a manager to your team.');
  }
  return { ownerId: user.userId, ownerTeamId: user.teamId };
}

export async function createLead(ctx: UseCaseContext, input: LeadCreate): Promise<Lead> {
  return commitCreate(ctx, await prepareLead(ctx, input));
}

/** A new lead checked and built (`createLead` without its commit). */
export async function prepareLead(ctx: UseCaseContext, input: LeadCreate): Promise<PreparedCreate<Lead>> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  // 1. Sales and marketing create leads; the owner defaults to the caller.
  requireRole(ctx.identity, ...LEAD_ROLES);
  const { ownerId, ...fields } = input;
  const owner = await resolveLeadOwner(ctx, ownerId);
  // 2. The lead, its guards and its event: built once, so every attempt writes the same lead.
  const lead = stamp<Lead>(ctx, { ...fields, createdBy: ctx.identity.userId }, owner);
  return { result: publicView(lead), write: (uow) => addNewLead(ctx, lead, uow) };
}

/**
 * The writes of a new lead, added to `uow`: the lead, its `lead.created` event, and its
 * duplicate guards (its email and phone: unique among leads), which land together or not at
 * all. Accounts and contacts sharing its company, email or phone are not checked: conversion
 * settles that (API.md §5 leads). For use cases that commit more in the same transaction (an
 * inbound form's submission: its note and receipt); a taken guard fails the commit with
 * `GuardTaken` (duplicates.ts), which `rejectDuplicates` turns into the 409.
 */
export function newLeadWrites(ctx: UseCaseContext, fields: Omit<LeadCreate, 'ownerId'>, owner: Owner, uow: UnitOfWork): Lead {
  const lead = stamp<Lead>(ctx, { ...fields, createdBy: ctx.identity.userId }, owner);
  addNewLead(ctx, lead, uow);
  return lead;
}

function addNewLead(ctx: UseCaseContext, lead: Lead, uow: UnitOfWork): UnitOfWork {
  insert(ctx, leadSpec, lead, uow);
  return claimLeadGuards(ctx, uow, lead.id, duplicateKeysOf(lead));
}

export async function getLead(ctx: UseCaseContext, id: string): Promise<Lead> {
  requireRole(ctx.identity, ...LEAD_ROLES);
  return publicView(await loadLead(ctx, id));
}

export async function updateLead(ctx: UseCaseContext, id: string, patch: LeadPatch, ifMatch: number | undefined): Promise<Lead> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  requireRole(ctx.identity, ...LEAD_ROLES);
  return retryOnVersionRace(ifMatch, () => rejectDuplicates(ctx, async () => {
    const before = await loadWritableLead(ctx, id);
    checkIfMatch(before, ifMatch);
    const { ownerId, ...fields } = patch;
    let after = mergePatch(before, fields);
    if (ownerId !== undefined && ownerId !== before.ownerId) {
      // Reassignment: managers within their team, admins anyone, a marketer hands its lead to sales.
      requireRole(ctx.identity, 'admin', 'manager', 'marketer');
      after = { ...after, ...(await resolveLeadOwner(ctx, ownerId)) };
    }
    if (unchanged(before, after)) return publicView(before);
    // A converted lead is history: it never changes again, its status least of all.
    if (before.status === 'converted') {
      throw invalidTransition('This lead has been converted; it can no longer be changed.', { leadStatus: 'converted' });
    }
    if (after.status === 'converted') {
      throw invalidTransition('A lead becomes converted only through POST /v1/leads/{id}/convert.', { leadStatus: before.status });
    }
    const next = nextVersion(ctx, before, after);
    const uow = replace(ctx, leadSpec, before, next);
    // Frees the email or phone it drops, claims the one it brings (reformatted values are unchanged).
    changeLeadGuards(ctx, uow, before.id, duplicateKeysOf(before), duplicateKeysOf(next));
    return uow.commit(publicView(next));
  }));
}

export async function deleteLead(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  requireRole(ctx.identity, ...LEAD_ROLES);
  await retryOnVersionRace(ifMatch, async () => {
    const lead = await loadWritableLead(ctx, id);
    checkIfMatch(lead, ifMatch);
    const uow = remove(ctx, leadSpec, lead);
    // A converted lead gave its guards up to the account and contact it became.
    if (lead.status !== 'converted') releaseLeadGuards(ctx, uow, lead.id, duplicateKeysOf(lead));
    await uow.commit(undefined);
  });
}

export interface LeadFilters {
  ownerId?: string | undefined;
  status?: LeadStatus | undefined;
  campaignId?: string | undefined;
  q?: string | undefined;
}

/**
 * Lists, always one Query: a tenant-wide reader (admin, marketer) filtering by status reads that
 * status's partition; otherwise the caller's partition (own, team, or tenant) or the named
 * owner's, in name order, with `status` as a filter within it (never across a whole tenant).
 * `campaignId` is a filter within whichever partition serves the list (no index left for it).
 */
export async function listLeads(ctx: UseCaseContext, filters: LeadFilters, page: PageRequest): Promise<Page<Lead>> {
  const who = ctx.identity;
  requireRole(who, ...LEAD_ROLES);
  const tenantWide = who.role === 'admin' || who.role === 'marketer';
  let spec: QuerySpec;
  if (filters.status !== undefined && filters.ownerId === undefined && tenantWide) {
    spec = {
      index: 'byParent',
      pk: leadStatusPartition(who.tenantId, filters.status),
      ...(filters.q ? { sk: { beginsWith: nameKey(filters.q) } } : {}),
      filter: attributeFilter({ campaignId: filters.campaignId }),
    };
  } else {
    spec = { ...ownedListQuery(ctx, 'LEAD', filters, tenantWide), filter: attributeFilter({ status: filters.status, campaignId: filters.campaignId }) };
  }
  return queryPage(spec, page, (item) => {
    const lead = leadFromItem(item);
    return canReadLead(who, lead) ? publicView(lead) : undefined;
  });
}
