/**
 * The opportunity (商机): a deal with an account, moving through the stages of a pipeline.
 * Its shape, input rules, keys and the view clients get.
 *
 * Stored: money in integer minor units (`amountMinor`, `budgetMinor`; domain/sales/money.ts),
 * `status` as the stage's kind (`open` | `won` | `lost`). Clients see `amount`/`budget` in
 * major units and `status: "stalled"` for an open opportunity with no stage change and no
 * activity for STALL_DAYS: derived at read time from `lastStageChangeAt` and
 * `lastActivityAt`, never a stored flag that a job must keep true.
 *
 * Keys (docs/access-patterns.md): the account collection (`byParent`, rank 2, Customer 360),
 * and three "where it stands" orders: `<state>#<expectedCloseDate>#<id>` per owner
 * (`byOwner`), per team (`byTeam`) and per tenant (`byType`), and
 * `<state>#<stageId>#<expectedCloseDate>#<id>` per pipeline (`byDue`, a tenant-first
 * partition: the board of a pipeline). `<state>` is O (open), W (won), L (lost).
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';
import { canSee, type Identity } from '#domain/identity.ts';
import { VersionRace, type RecordSpec, type StoredRecord } from '#domain/records.ts';
import type { UseCaseContext } from '#domain/context.ts';
import type { UnitOfWork } from '#domain/table/transaction.ts';
import { accountCollection, entityKey, ownerPartition, rank, stripKeys, t, teamPartition, typePartition } from '#domain/table/keys.ts';
import * as money from '#domain/sales/money.ts';
import { STAGE_KINDS, type StageKind } from '#domain/sales/pipeline.ts';

export const OPPORTUNITY_STATUSES = ['open', 'stalled', 'won', 'lost'] as const;
export type OpportunityStatus = (typeof OPPORTUNITY_STATUSES)[number];
export const FORECAST_CATEGORIES = ['pipeline', 'bestCase', 'commit', 'closed', 'omitted'] as const;
export type ForecastCategory = (typeof FORECAST_CATEGORIES)[number];
/** Forecast categories an open opportunity may take; `closed` is a won one's, `omitted` also a lost one's. */
export const OPEN_FORECAST_CATEGORIES = ['pipeline', 'bestCase', 'commit', 'omitted'] as const;

/** Days without a stage change or an activity after which an open opportunity reads `stalled`. */
export const STALL_DAYS = 30;
export const MAX_CONTACTS = 20;
export const MAX_COMPETITORS = 20;

/** Who may ever touch opportunities (API.md §4: support and marketers get 403). */
export const OPPORTUNITY_ROLES = ['admin', 'manager', 'rep'] as const;

const competitor = z.lazy(() => z.strictObject({ name: f.name, notes: z.optional(f.text(1, 2000)) }));
const contactIds = z.lazy(() =>
  z.pipe(
    z.array(f.id).check(z.maxLength(MAX_CONTACTS)),
    z.transform((ids: string[]) => [...new Set(ids)]),
  ),
);

const fields = builtOnFirstUse(() => ({
  accountId: f.id,
  contactIds: z._default(contactIds, []),
  name: f.name,
  amount: money.amount(0),
  currency: z._default(money.currency, money.DEFAULT_CURRENCY),
  pipelineId: z.optional(f.id),
  stageId: z.optional(f.id),
  probability: z.optional(z.int().check(z.minimum(0), z.maximum(100))),
  lostReason: z.optional(f.text(1, 1000)),
  expectedCloseDate: f.date,
  forecastCategory: z.optional(z.enum(FORECAST_CATEGORIES)),
  needs: z.optional(f.text(1, 10_000)),
  /** The customer's budget for this deal, in the opportunity's currency. */
  budget: z.optional(money.amount(0)),
  competitors: z._default(z.array(competitor).check(z.maxLength(MAX_COMPETITORS)), []),
  description: z.optional(f.freeText),
  ownerId: z.optional(f.id),
}));

export const opportunityCreate = z.lazy(() => z.strictObject(fields()));
/**
 * PATCH: `accountId` is not here (an opportunity stays with its account; a merge moves it).
 * `stageId` (and `pipelineId`) move it; `null` clears the optional fields.
 */
export const opportunityPatch = z.lazy(() => {
  const { accountId: _account, ...patchable } = fields();
  return f.patchOf(patchable, ['lostReason', 'needs', 'budget', 'description']);
});
export type OpportunityCreate = z.infer<typeof opportunityCreate>;
export type OpportunityPatch = z.infer<typeof opportunityPatch>;

export interface Competitor {
  name: string;
  notes?: string;
}

/** The stored opportunity. */
export interface Opportunity extends StoredRecord {
  accountId: string;
  contactIds: string[];
  name: string;
  amountMinor: number;
  currency: string;
  pipelineId: string;
  stageId: string;
  probability: number;
  /** The kind of its stage. `stalled` is never stored: see `presentOpportunity`. */
  status: StageKind;
  lostReason?: string;
  expectedCloseDate: string;
  closedAt: string | null;
  forecastCategory: ForecastCategory;
  needs?: string;
  budgetMinor?: number;
  competitors: Competitor[];
  description?: string;
  /** When it entered its current stage (its creation, at first). */
  lastStageChangeAt: string;
  /** The newest `occurredAt` of an activity logged on it (domain/accounts/activities.ts). */
  lastActivityAt: string | null;
  /** How many stage-history entries it has: the current stage's entry is number `historyCount`. */
  historyCount: number;
  createdBy: string;
  /**
   * What the analytics need to attribute its facts (api/analytics.md "Attribution"), kept on
   * the record so a rebuild gives the live figures: the owner and team when it was created
   * and when it was closed, and when it first entered each open stage (the funnel's
   * "reached", the forecast's history). Internal: never in the API shape.
   */
  createdOwnerId?: string | null;
  createdTeamId?: string | null;
  closedOwnerId?: string | null;
  closedTeamId?: string | null;
  stageVisits?: Record<string, string>;
}

/** The opportunity as every route answers it (`presentOpportunity` renders it). */
export const opportunityView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      accountId: f.out.id,
      contactIds: f.out.ids(MAX_CONTACTS),
      name: f.out.name,
      amount: z.number().check(z.describe('major units, at most 2 decimals')),
      currency: f.out.code,
      pipelineId: f.out.id,
      stageId: f.out.id,
      probability: z.int(),
      status: z.enum(OPPORTUNITY_STATUSES),
      lostReason: z.optional(f.out.text),
      expectedCloseDate: f.out.timestamp.check(z.describe('YYYY-MM-DD')),
      closedAt: z.nullable(f.out.timestamp),
      forecastCategory: z.enum(FORECAST_CATEGORIES),
      needs: z.optional(f.out.text),
      budget: z.optional(z.number()),
      competitors: z.array(z.object({ name: f.out.name, notes: z.optional(f.out.text) })).check(z.maxLength(MAX_COMPETITORS)),
      description: z.optional(f.out.text),
      ownerId: z.nullable(f.out.id),
      lastStageChangeAt: f.out.timestamp,
      lastActivityAt: z.nullable(f.out.timestamp),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Opportunity', description: 'A deal with an account (商机), moving through the stages of a pipeline.' })),
);
export type OpportunityView = z.infer<typeof opportunityView>;

/** One entry of `GET /v1/opportunities/{id}/history`, oldest first. */
export const stageHistoryView = z.lazy(() =>
  z
    .object({
      pipelineId: f.out.id,
      fromStageId: z.nullable(f.out.id.check(z.describe('null for the creation'))),
      toStageId: f.out.id,
      status: z.enum(STAGE_KINDS).check(z.describe('the kind of the stage entered')),
      probability: z.int(),
      at: f.out.timestamp,
      byUserId: f.out.id,
      leftAt: z.nullable(f.out.timestamp),
      secondsInStage: z.int(),
      lostReason: z.optional(f.out.text),
    })
    .check(z.meta({ id: 'StageHistoryEntry' })),
);

/** Stalled: open, and neither a stage change nor an activity for STALL_DAYS up to `now`. */
export function isStalled(o: Pick<Opportunity, 'status' | 'lastStageChangeAt' | 'lastActivityAt'>, now: Date): boolean {
  if (o.status !== 'open') return false;
  const cutoff = stallCutoff(now);
  return o.lastStageChangeAt < cutoff && (o.lastActivityAt === null || o.lastActivityAt === undefined || o.lastActivityAt < cutoff);
}

/** The instant before which the last touch of an open opportunity makes it stalled. */
export const stallCutoff = (now: Date) => new Date(now.getTime() - STALL_DAYS * 86_400_000).toISOString();

export function presentOpportunity(o: Opportunity, now: Date): OpportunityView {
  const {
    amountMinor, budgetMinor, historyCount: _h, ownerTeamId: _team, status,
    createdOwnerId: _co, createdTeamId: _ct, closedOwnerId: _clo, closedTeamId: _clt, stageVisits: _sv, ...rest
  } = o;
  return {
    ...rest,
    amount: money.fromMinor(amountMinor as money.Minor),
    ...(budgetMinor !== undefined ? { budget: money.fromMinor(budgetMinor as money.Minor) } : {}),
    status: isStalled(o, now) ? 'stalled' : status,
  };
}

/** The stored opportunity of a table item, with its internal team field. */
export function opportunityOf(item: Record<string, unknown>): Opportunity {
  return { ...stripKeys<Opportunity>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/** An item of the table (a list page, Customer 360) as clients see it. */
export const opportunityViewOfItem = (item: Record<string, unknown>, now: Date): OpportunityView => presentOpportunity(opportunityOf(item), now);

// ---------------------------------------------------------------------------------------
// Keys

export const STATE_CODE: Record<StageKind, string> = { open: 'O', won: 'W', lost: 'L' };

/** `<state>#<expectedCloseDate>#<id>`: status is a prefix, status + close dates a key range. */
export const stateSort = (o: Pick<Opportunity, 'status' | 'expectedCloseDate' | 'id'>) =>
  `${STATE_CODE[o.status]}#${o.expectedCloseDate}#${o.id}`;

/** A pipeline's board: its opportunities by state, then stage, then close date. */
export const pipelinePartition = (tenantId: string, pipelineId: string) => `${t(tenantId)}#OPPORTUNITY#PIPELINE#${pipelineId}`;
export const boardSort = (o: Pick<Opportunity, 'status' | 'stageId' | 'expectedCloseDate' | 'id'>) =>
  `${STATE_CODE[o.status]}#${o.stageId}#${o.expectedCloseDate}#${o.id}`;

/** The opportunities' range of an account collection (Customer 360 reads it with the rest). */
export const OPPORTUNITIES_OF_ACCOUNT = `${rank.OPPORTUNITY}#OPPORTUNITY#`;

/** Stage history: items beside the opportunity, `HISTORY#<n>` with n = 1 for the creation. */
export const historyKey = (tenantId: string, opportunityId: string, n: number) => ({
  PK: `${t(tenantId)}#OPPORTUNITY#${opportunityId}`,
  SK: `HISTORY#${String(n).padStart(6, '0')}`,
});

export const opportunitySpec: RecordSpec<Opportunity> = {
  type: 'OPPORTUNITY',
  noun: 'opportunity',
  // Owner, the owner's team (managers) and admins; support and marketers never (every use case
  // also refuses them with 403 before any read).
  readableAs: 'personal',
  events: { created: 'opportunity.created', updated: 'opportunity.updated', deleted: 'opportunity.deleted' },
  indexKeys: (tenantId, o) => ({
    parentPk: accountCollection(tenantId, o.accountId),
    parentSk: `${OPPORTUNITIES_OF_ACCOUNT}${o.id}`,
    ownerPk: o.ownerId ? ownerPartition(tenantId, 'OPPORTUNITY', o.ownerId) : undefined,
    ownerSk: o.ownerId ? stateSort(o) : undefined,
    teamPk: o.ownerTeamId ? teamPartition(tenantId, 'OPPORTUNITY', o.ownerTeamId) : undefined,
    teamSk: o.ownerTeamId ? stateSort(o) : undefined,
    typePk: typePartition(tenantId, 'OPPORTUNITY'),
    typeSk: stateSort(o),
    duePk: pipelinePartition(tenantId, o.pipelineId),
    dueSk: boardSort(o),
  }),
};

/** May `who` open this opportunity? Sales roles only; then as accounts (owner, team, admin). */
export function canReadOpportunity(who: Identity, o: Pick<Opportunity, 'ownerId' | 'ownerTeamId'>): boolean {
  if (!(OPPORTUNITY_ROLES as readonly string[]).includes(who.role)) return false;
  return canSee(who, o);
}

// ---------------------------------------------------------------------------------------
// Activities on an opportunity

/**
 * An activity logged on an opportunity moves its `lastActivityAt` forward to the activity's
 * `occurredAt` if later, in the activity's transaction (version + 1, like an account's
 * `lastFollowUpAt`). The condition re-checks "later" at write time; a failure re-reads.
 */
export function moveOpportunityActivity(ctx: UseCaseContext, uow: UnitOfWork, opportunity: Opportunity, occurredAt: string): void {
  if (opportunity.lastActivityAt && opportunity.lastActivityAt >= occurredAt) return;
  uow.update(
    entityKey(ctx.identity.tenantId, 'OPPORTUNITY', opportunity.id),
    {
      expression: 'SET lastActivityAt = :t, #v = #v + :one, updatedAt = :now',
      names: { '#v': 'version' },
      values: { ':t': occurredAt, ':one': 1, ':now': ctx.now.toISOString() },
    },
    {
      condition: 'attribute_exists(PK) AND (attribute_not_exists(lastActivityAt) OR attribute_type(lastActivityAt, :null) OR lastActivityAt < :t)',
      values: { ':null': 'NULL', ':t': occurredAt },
      onConditionFailed: () => new VersionRace(),
    },
  );
}
