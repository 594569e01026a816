/** The account (客户): a company or person we sell to. Its shape, input rules and keys. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, nameKey, ownerPartition, rank, teamPartition, typePartition } from '#domain/table/keys.ts';
import { poolListPartition, RELEASE_RULES } from '#domain/pool/keys.ts';

export const TIERS = ['A', 'B', 'C', 'D'] as const;
export const LIFECYCLE_STAGES = ['prospect', 'customer', 'churned'] as const;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const fields = builtOnFirstUse(() => ({
  name: f.name,
  // A domain, host or URL: stored as its registrable domain (accounts.ts `withRegistrableDomain`).
  domain: z.optional(f.text(1, 253)),
  email: z.optional(f.email),
  phone: z.optional(f.phone),
  industry: z.optional(f.shortText),
  tier: z.optional(z.enum(TIERS)),
  lifecycleStage: z._default(z.enum(LIFECYCLE_STAGES), 'prospect'),
  tags: z._default(f.tags, []),
  address: z.optional(f.text(1, 1000)),
  description: z.optional(f.freeText),
  ownerId: z.optional(f.id),
  custom: f.customValues,
}));

export const accountCreate = z.lazy(() => z.strictObject(fields()));
export const accountPatch = z.lazy(() => f.patchOf(fields(), ['domain', 'email', 'phone', 'industry', 'tier', 'address', 'description']));
export type AccountCreate = z.infer<typeof accountCreate>;
export type AccountPatch = z.infer<typeof accountPatch>;

/**
 * The account as every route answers it (domain/pool/view.ts `poolView` renders it): the
 * stored fields, the pool fields of API.md §6, and the open/won opportunity counts.
 */
export const accountView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      name: f.out.name,
      domain: z.optional(f.out.domain.check(z.describe('the registrable domain'))),
      email: z.optional(f.out.email.check(z.describe('absent on a pool account for reps and managers until they claim it'))),
      phone: z.optional(f.out.phone.check(z.describe('absent on a pool account for reps and managers until they claim it'))),
      industry: z.optional(f.out.name),
      tier: z.optional(z.enum(TIERS)),
      lifecycleStage: z.enum(LIFECYCLE_STAGES),
      tags: f.out.tags,
      address: z.optional(f.out.text),
      description: z.optional(f.out.text),
      custom: f.customOut,
      ownerId: z.nullable(f.out.id),
      poolStatus: z.enum(['owned', 'pool']),
      lastFollowUpAt: z.nullable(f.out.timestamp),
      createdBy: f.out.id,
      openOpportunityCount: z.optional(z.int().check(z.describe('open opportunities, stalled included'))),
      wonOpportunityCount: z.optional(z.int()),
      ownerSince: z.nullable(f.out.timestamp),
      releaseAt: z.nullable(f.out.timestamp.check(z.describe('when the pool rules in force release it; null when exempt or in the pool'))),
      releaseReason: z.nullable(z.enum(RELEASE_RULES)),
      locked: z.boolean(),
      lockedAt: z.optional(f.out.timestamp),
      lockedBy: z.optional(f.out.id),
      prevOwnerId: z.nullable(f.out.id),
      releasedAt: z.nullable(f.out.timestamp.check(z.describe('since when it is in the pool; null while owned'))),
    })
    .check(z.meta({ id: 'Account', description: 'A company or person we sell to (客户), with its pool fields.' })),
);

export interface Account extends StoredRecord {
  name: string;
  domain?: string;
  email?: string;
  phone?: string;
  industry?: string;
  tier?: (typeof TIERS)[number];
  lifecycleStage: (typeof LIFECYCLE_STAGES)[number];
  tags: string[];
  address?: string;
  description?: string;
  /** Custom field values (domain/marketing/custom-fields.ts); shown only while their definitions exist. */
  custom?: Record<string, unknown>;
  poolStatus: 'owned' | 'pool';
  lastFollowUpAt: string | null;
  ownerSince: string | null;
  createdBy: string;
  // The public pool (domain/pool/): set by claims, releases and locks, never by a body.
  /** Locked by its owner (or the owner's manager): exempt from release, counted toward `maxLockedPerRep`. */
  locked?: boolean;
  /** Who owned it before (kept when it goes to the pool). */
  prevOwnerId?: string | null;
  /** When it went to the pool (null while owned): the pool lists longest-in-the-pool first. */
  releasedAt?: string | null;
  /** Internal, never shown: recent owners and when it left them, for `reclaimCooldownDays`. */
  formerOwners?: { userId: string; leftAt: string }[];
  /** Kept exact by the opportunities context: open / won opportunities of the account (exemption, `not_won`). */
  openOpportunityCount?: number;
  wonOpportunityCount?: number;
}

export const accountSpec: RecordSpec<Account> = {
  type: 'ACCOUNT',
  noun: 'account',
  readableAs: 'customer',
  events: { created: 'account.created', updated: 'account.updated', deleted: 'account.deleted' },
  indexKeys: (tenantId, a) => {
    const sort = `${nameKey(a.name)}#${a.id}`;
    return {
      nameKey: nameKey(a.name),
      parentPk: accountCollection(tenantId, a.id),
      parentSk: `${rank.ACCOUNT}#ACCOUNT`,
      // An owned account in its owner's partition; a pool account in the tenant's pool partition,
      // longest in the pool first (domain/pool/keys.ts).
      ownerPk: a.ownerId ? ownerPartition(tenantId, 'ACCOUNT', a.ownerId) : a.poolStatus === 'pool' ? poolListPartition(tenantId) : undefined,
      ownerSk: a.ownerId ? sort : a.poolStatus === 'pool' ? `${a.releasedAt ?? a.updatedAt}#${a.id}` : undefined,
      teamPk: a.ownerTeamId ? teamPartition(tenantId, 'ACCOUNT', a.ownerTeamId) : undefined,
      teamSk: a.ownerTeamId ? sort : undefined,
      typePk: typePartition(tenantId, 'ACCOUNT'),
      typeSk: sort,
    };
  },
};
