/**
 * The lead (潜在客户): a person, usually at a company, that sales has not yet qualified as a
 * customer. Its shape, input rules, keys and who may open or change it.
 *
 * Life cycle: `new` → `working` → `qualified` / `disqualified` (freely, in any order: a
 * disqualified lead may be worked again) → `converted`, which only `POST /v1/leads/{id}/convert`
 * reaches and nothing leaves: a converted lead is the record of where a customer came from.
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';
import { canSee, type Identity } from '#domain/identity.ts';
import { fromItem, type RecordSpec, type StoredRecord } from '#domain/records.ts';
import { amount, currency } from '#domain/sales/money.ts';
import { leadCompanyPartition, nameKey, ownerPartition, t, teamPartition, typePartition } from '#domain/table/keys.ts';
import { normalizeCompanyName } from '#domain/accounts/company-name.ts';

export const LEAD_STATUSES = ['new', 'working', 'qualified', 'disqualified', 'converted'] as const;
export type LeadStatus = (typeof LEAD_STATUSES)[number];
/** The statuses a client may set; `converted` is reached only by converting. */
export const OPEN_LEAD_STATUSES = ['new', 'working', 'qualified', 'disqualified'] as const;

/** Who may ever touch leads: sales, and marketing (whose campaigns produce them). */
export const LEAD_ROLES = ['admin', 'manager', 'rep', 'marketer'] as const;
/** Who may convert a lead: conversion creates customers, which only sales roles do. */
export const CONVERT_ROLES = ['admin', 'manager', 'rep'] as const;
/** Roles a lead may be handed to (the owner of a conversion's account must be one). */
export const SALES_ROLES = ['admin', 'manager', 'rep'] as const;

const fields = builtOnFirstUse(() => ({
  name: f.name,
  company: z.optional(f.name),
  title: z.optional(f.shortText),
  email: z.optional(f.email),
  phone: z.optional(f.phone),
  /** Where the lead came from: a campaign, a trade fair, the website… free text. */
  source: z.optional(f.shortText),
  status: z._default(z.enum(OPEN_LEAD_STATUSES), 'new'),
  disqualifiedReason: z.optional(f.text(1, 1000)),
  description: z.optional(f.freeText),
  tags: z._default(f.tags, []),
  /** The campaign that brought the lead (api/marketing.md). */
  campaignId: z.optional(f.id),
  ownerId: z.optional(f.id),
  custom: f.customValues,
}));

export const leadCreate = z.lazy(() => z.strictObject(fields()));
/**
 * PATCH accepts every status so that asking for `converted` is a clear `409 invalid_transition`
 * ("convert it") rather than a schema error.
 */
export const leadPatch = z.lazy(() =>
  z.extend(
    f.patchOf(fields(), ['company', 'title', 'email', 'phone', 'source', 'disqualifiedReason', 'description', 'campaignId']),
    { status: z.optional(z.enum(LEAD_STATUSES)) },
  ),
);
export type LeadCreate = z.infer<typeof leadCreate>;
export type LeadPatch = z.infer<typeof leadPatch>;

export const leadConvert = z.lazy(() =>
  z.strictObject({
    /** An existing account (one the caller may open) to attach the contact and opportunity to. */
    accountId: z.optional(f.id),
    opportunity: z.optional(
      z.strictObject({
        name: f.name,
        amount: amount(0),
        currency: z.optional(currency),
        expectedCloseDate: z.optional(f.date),
        pipelineId: z.optional(f.id),
      }),
    ),
  }),
);
export type LeadConvert = z.infer<typeof leadConvert>;

/** The lead as every route answers it (the conversion too: the converted lead). */
export const leadView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      name: f.out.name,
      company: z.optional(f.out.name),
      title: z.optional(f.out.name),
      email: z.optional(f.out.email),
      phone: z.optional(f.out.phone),
      source: z.optional(f.out.name),
      status: z.enum(LEAD_STATUSES),
      disqualifiedReason: z.optional(f.out.text),
      description: z.optional(f.out.text),
      tags: f.out.tags,
      campaignId: z.optional(f.out.id),
      custom: f.customOut,
      ownerId: z.nullable(f.out.id),
      createdBy: f.out.id,
      convertedAt: z.optional(f.out.timestamp),
      convertedBy: z.optional(f.out.id),
      accountId: z.optional(f.out.id.check(z.describe('set by the conversion: the account it became'))),
      contactId: z.optional(f.out.id.check(z.describe('set by the conversion: the contact it became'))),
      opportunityId: z.optional(f.out.id.check(z.describe('set by a conversion that made an opportunity'))),
    })
    .check(z.meta({ id: 'Lead', description: 'A person, usually at a company, not yet qualified as a customer (潜在客户).' })),
);

export interface Lead extends StoredRecord {
  name: string;
  company?: string;
  title?: string;
  email?: string;
  phone?: string;
  source?: string;
  status: LeadStatus;
  disqualifiedReason?: string;
  description?: string;
  tags: string[];
  campaignId?: string;
  /** Custom field values (domain/marketing/custom-fields.ts); shown only while their definitions exist. */
  custom?: Record<string, unknown>;
  createdBy: string;
  /** Set by the conversion, and only by it. */
  convertedAt?: string;
  convertedBy?: string;
  accountId?: string;
  contactId?: string;
  opportunityId?: string;
}

/** Tenant-wide partition of the leads in one status (byParent): the status filter of tenant-wide lists. */
export const leadStatusPartition = (tenantId: string, status: LeadStatus) => `${t(tenantId)}#LEAD#STATUS#${status}`;

export const leadSpec: RecordSpec<Lead> = {
  type: 'LEAD',
  noun: 'lead',
  // Not used for decisions: leads have their own rules (canReadLead / canWriteLead below).
  readableAs: 'personal',
  events: { created: 'lead.created', updated: 'lead.updated', deleted: 'lead.deleted' },
  indexKeys: (tenantId, l) => {
    const sort = `${nameKey(l.name)}#${l.id}`;
    return {
      nameKey: nameKey(l.name),
      parentPk: leadStatusPartition(tenantId, l.status),
      parentSk: sort,
      ownerPk: l.ownerId ? ownerPartition(tenantId, 'LEAD', l.ownerId) : undefined,
      ownerSk: l.ownerId ? sort : undefined,
      teamPk: l.ownerTeamId ? teamPartition(tenantId, 'LEAD', l.ownerTeamId) : undefined,
      teamSk: l.ownerTeamId ? sort : undefined,
      typePk: typePartition(tenantId, 'LEAD'),
      typeSk: sort,
      // Found by its company in the duplicate search until converted (the account then holds the name).
      ...(l.company !== undefined && l.status !== 'converted'
        ? { duePk: leadCompanyPartition(tenantId, normalizeCompanyName(l.company)), dueSk: l.id }
        : {}),
    };
  },
};

/**
 * Who may open a lead: admins all; managers their own and their team's; reps their own;
 * marketers every lead of the tenant (campaign results, funnel); support none.
 */
export function canReadLead(who: Identity, lead: Pick<Lead, 'ownerId' | 'ownerTeamId'>): boolean {
  if (who.role === 'marketer') return true;
  if (who.role === 'support') return false;
  return canSee(who, lead);
}

/** Who may change a lead: as for reading, but a marketer only the leads it still owns. */
export function canWriteLead(who: Identity, lead: Pick<Lead, 'ownerId' | 'ownerTeamId'>): boolean {
  if (who.role === 'marketer') return lead.ownerId === who.userId;
  if (who.role === 'support') return false;
  return canSee(who, lead);
}

/** The stored lead with its owner's team (internal; not part of the API shape). */
export function leadFromItem(item: Record<string, unknown>): Lead {
  return { ...fromItem<Lead>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/**
 * The values a lead holds uniquely among leads (its guards). Not its company: several leads may
 * name one firm, and a lead may name an existing customer's (API.md §5 leads).
 */
export const duplicateKeysOf = (l: Pick<Lead, 'email' | 'phone'>) => ({
  ...(l.email !== undefined ? { email: l.email } : {}),
  ...(l.phone !== undefined ? { phone: l.phone } : {}),
});
