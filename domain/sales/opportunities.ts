/**
 * Opportunity use cases (API.md §5 "opportunities").
 *
 * Every write is ONE transaction holding, besides the opportunity and its events:
 *   - the STAGE item(s) of the stage it enters / leaves: `opportunityCount` ± 1, the add
 *     conditioned on the stage still existing in that pipeline with the kind read (so an
 *     admin removing the stage at the same moment either sees the count and gets
 *     `409 stage_in_use`, or wins and this request re-reads and finds no such stage);
 *   - the ACCOUNT's exact `openOpportunityCount` (± 1 when it opens, closes, reopens or is
 *     deleted), with the account's version + 1 so that a concurrent account PATCH re-reads
 *     rather than writes back a stale count (the public pool's "exempt while it has an open
 *     opportunity" rule reads it);
 *   - the stage history: entry n+1 (`fromStageId`, `toStageId`, `at`, `byUserId`) and
 *     `leftAt` on entry n, so the time spent in each stage is in the entries themselves.
 *
 * Rules: the probability comes from the stage unless the request sets it (a stage change
 * resets it); a won or lost stage closes it (`status`, `closedAt`, forecast category
 * `closed` / `omitted`); lost needs `lostReason` (400); only a move to an open stage reopens
 * it (clears `closedAt` and `lostReason`). `stalled` is derived (opportunity.ts).
 *
 * Visibility: as accounts (owner, the owner's team for managers, admins); support and
 * marketers get 403 on every route. The account must be one the caller may open (400 on
 * `accountId` otherwise) and must not be in the public pool (409 `account_in_pool`).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, DomainError, forbidden, invalidCursor, notFound, validationFailed, versionMismatch, type FieldError } from '#domain/errors.ts';
import { canAssignTo, requireRole } from '#domain/identity.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import type { Owner } from '#domain/ownership.ts';
import { fromItem, newId, readable, retryOnVersionRace, toItem, VersionRace, writable } from '#domain/records.ts';
import { db } from '#domain/table/client.ts';
import { decodeCursor, encodeCursor } from '#domain/table/cursor.ts';
import { accountCollection, entityKey, ownerPartition, rank, teamPartition, typePartition } from '#domain/table/keys.ts';
import { getItem, getItems, queryInput, queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { contactSpec, type Contact } from '#domain/accounts/contact.ts';
import type { Minor } from '#domain/sales/money.ts';
import {
  canReadOpportunity,
  historyKey,
  OPPORTUNITIES_OF_ACCOUNT,
  OPPORTUNITY_ROLES,
  opportunityOf,
  opportunitySpec,
  presentOpportunity,
  pipelinePartition,
  stallCutoff,
  STATE_CODE,
  type Competitor,
  type ForecastCategory,
  type Opportunity,
  type OpportunityCreate,
  type OpportunityPatch,
  type OpportunityStatus,
  type OpportunityView,
} from '#domain/sales/opportunity.ts';
import { initializeDefault } from '#domain/sales/pipelines.ts';
import { nudgePoolClock } from '#domain/pool/writes.ts';
import {
  defaultPipelineId,
  defaultPointerKey,
  pipelineKey,
  pipelineOf,
  pointerOf,
  stageKey,
  stageOf,
  type Stage,
  type StageKind,
} from '#domain/sales/pipeline.ts';

type Item = Record<string, unknown>;

/** The account attribute this module keeps exact: how many of its opportunities are open (stalled included). */
export const OPEN_OPPORTUNITY_COUNT = 'openOpportunityCount';
/** …and how many are won (the pool's `not_won` rule). */
export const WON_OPPORTUNITY_COUNT = 'wonOpportunityCount';

/** The number of open opportunities an account item or record holds (absent: none). */
export function openOpportunityCount(account: object): number {
  return Number((account as Item)[OPEN_OPPORTUNITY_COUNT] ?? 0);
}

const accountInPool = (accountId: string) =>
  conflict('account_in_pool', 'The account is in the public pool; claim it before adding opportunities to it.', { accountId });

const noSuch = (path: string, what: string) => validationFailed([{ path, message: `no such ${what}` }]);

// ---------------------------------------------------------------------------------------
// Where a new or moved opportunity lands

/** A stage with the pipeline it belongs to. */
export interface Placement {
  pipelineId: string;
  stage: Stage;
}

/**
 * The key to read for a placement: the stage item when a stage is named, else the pipeline
 * item, else the default pointer. One item in every case, so it joins the caller's BatchGetItem.
 */
function placementKey(tenantId: string, pipelineId: string | undefined, stageId: string | undefined) {
  if (stageId !== undefined) return stageKey(tenantId, stageId);
  if (pipelineId !== undefined) return pipelineKey(tenantId, pipelineId);
  return defaultPointerKey(tenantId);
}

/** The placement from the item `placementKey` named (undefined item: not there). */
async function placementOf(
  ctx: UseCaseContext,
  item: Item | undefined,
  want: { pipelineId?: string | undefined; stageId?: string | undefined },
  paths: { pipelineId: string; stageId: string },
): Promise<Placement> {
  if (want.stageId !== undefined) {
    if (!item) {
      // The default pipeline's stages exist once the tenant's default does (perhaps made by a
      // request racing this one since our read: read again whoever made it).
      if (want.stageId.startsWith(`${defaultPipelineId(ctx.identity.tenantId)}-`)) {
        await ensureDefault(ctx);
        const again = await getItem(stageKey(ctx.identity.tenantId, want.stageId));
        if (again) return placementOf(ctx, again, want, paths);
      }
      throw noSuch(paths.stageId, 'stage');
    }
    const stage = stageOf(item);
    if (want.pipelineId !== undefined && stage.pipelineId !== want.pipelineId) {
      throw validationFailed([{ path: paths.stageId, message: `the stage is not in pipeline ${want.pipelineId}` }]);
    }
    return { pipelineId: stage.pipelineId, stage: { id: stage.id, name: stage.name, probability: stage.probability, kind: stage.kind } };
  }
  if (want.pipelineId !== undefined) {
    if (!item) {
      if (want.pipelineId === defaultPipelineId(ctx.identity.tenantId)) {
        await ensureDefault(ctx);
        const again = await getItem(pipelineKey(ctx.identity.tenantId, want.pipelineId));
        if (again) return placementOf(ctx, again, want, paths);
      }
      throw noSuch(paths.pipelineId, 'pipeline');
    }
    const pipeline = pipelineOf(item);
    return { pipelineId: pipeline.id, stage: pipeline.stages[0]! };
  }
  const pointer = item ? pointerOf(item) : await initializeDefault(ctx);
  return { pipelineId: pointer.pipelineId, stage: pointer.firstStage };
}

/** Creates the tenant's default pipeline if it has none. */
async function ensureDefault(ctx: UseCaseContext): Promise<void> {
  const item = await getItem(defaultPointerKey(ctx.identity.tenantId));
  if (!item) await initializeDefault(ctx);
}

/** Reads a placement on its own (one GetItem; the first request of a tenant also creates its default pipeline). */
export async function resolvePlacement(
  ctx: UseCaseContext,
  want: { pipelineId?: string | undefined; stageId?: string | undefined },
  paths = { pipelineId: 'body.pipelineId', stageId: 'body.stageId' },
): Promise<Placement> {
  const item = await getItem(placementKey(ctx.identity.tenantId, want.pipelineId, want.stageId));
  return placementOf(ctx, item, want, paths);
}

// ---------------------------------------------------------------------------------------
// Writes shared by every use case

/** +1 on the stage the opportunity enters, provided the stage is still there, in that pipeline, of that kind. */
function enterStage(ctx: UseCaseContext, uow: UnitOfWork, placement: Placement, path: string): void {
  uow.update(
    stageKey(ctx.identity.tenantId, placement.stage.id),
    { expression: 'ADD opportunityCount :one', values: { ':one': 1 } },
    {
      condition: 'attribute_exists(PK) AND pipelineId = :pid AND #kind = :kind',
      names: { '#kind': 'kind' },
      values: { ':pid': placement.pipelineId, ':kind': placement.stage.kind },
      // Removed, or its kind changed, since we read it: the next attempt re-reads and decides.
      onConditionFailed: (current) =>
        current && current.pipelineId === placement.pipelineId ? new VersionRace() : noSuch(path, 'stage'),
    },
  );
}

/** −1 on the stage the opportunity leaves (it holds the opportunity, so it cannot have been removed). */
function leaveStage(ctx: UseCaseContext, uow: UnitOfWork, stageId: string): void {
  uow.update(stageKey(ctx.identity.tenantId, stageId), { expression: 'ADD opportunityCount :minus', values: { ':minus': -1 } }, {
    condition: 'attribute_exists(PK)',
    onConditionFailed: () => new Error(`stage ${stageId} vanished while it held an opportunity`),
  });
}

/** How an opportunity change moves its account's counts: open ones (stalled included) and won ones. */
interface CountDelta {
  open: number;
  won: number;
}

/** The counts an opportunity in this state adds to its account. */
const countsOf = (status: StageKind | undefined): CountDelta => ({ open: status === 'open' ? 1 : 0, won: status === 'won' ? 1 : 0 });
const deltaOf = (before: StageKind | undefined, after: StageKind | undefined): CountDelta => {
  const [b, a] = [countsOf(before), countsOf(after)];
  return { open: a.open - b.open, won: a.won - b.won };
};

/**
 * The account's side of an opportunity change: `openOpportunityCount` and `wonOpportunityCount`
 * + the deltas (and version + 1, and the pool's nudge so its clocks are re-derived) when one
 * changes, else a check that the account is there. `mustBeOwned`: a new opportunity needs an
 * account outside the pool.
 */
function touchAccount(ctx: UseCaseContext, uow: UnitOfWork, accountId: string, delta: CountDelta, opts: { mustBeOwned: boolean; path: string }): void {
  const key = entityKey(ctx.identity.tenantId, 'ACCOUNT', accountId);
  const condition = opts.mustBeOwned ? 'attribute_exists(PK) AND (attribute_not_exists(poolStatus) OR poolStatus <> :pool)' : 'attribute_exists(PK)';
  const values = opts.mustBeOwned ? { ':pool': 'pool' } : undefined;
  const onConditionFailed = (current: Item | undefined) => (current ? accountInPool(accountId) : new AccountGone(accountId, opts.path));
  if (delta.open === 0 && delta.won === 0) {
    uow.check(key, { condition, ...(values ? { values } : {}), onConditionFailed });
    return;
  }
  const adds = [
    ...(delta.open !== 0 ? ['#open :open'] : []),
    ...(delta.won !== 0 ? ['#won :won'] : []),
  ];
  uow.update(
    key,
    {
      expression: `SET #v = #v + :one, updatedAt = :now ADD ${adds.join(', ')}`,
      names: { '#v': 'version', ...(delta.open !== 0 ? { '#open': OPEN_OPPORTUNITY_COUNT } : {}), ...(delta.won !== 0 ? { '#won': WON_OPPORTUNITY_COUNT } : {}) },
      values: { ':one': 1, ':now': ctx.now.toISOString(), ...(delta.open !== 0 ? { ':open': delta.open } : {}), ...(delta.won !== 0 ? { ':won': delta.won } : {}) },
    },
    { condition, ...(values ? { values } : {}), onConditionFailed },
  );
  // The public pool re-derives this account's release clocks at its next run (exemption, not_won).
  nudgePoolClock(ctx, uow, accountId);
}

/** The opportunity's account is gone (deleted, or merged away). */
class AccountGone extends DomainError {
  constructor(readonly accountId: string, path: string) {
    super(400, 'validation_failed', 'The request is not valid.', {}, [{ path, message: 'no such account' }]);
  }
}

interface HistoryEntry {
  n: number;
  pipelineId: string;
  fromStageId: string | null;
  toStageId: string;
  status: StageKind;
  probability: number;
  at: string;
  byUserId: string;
  leftAt: string | null;
  lostReason?: string;
}

function putHistory(ctx: UseCaseContext, uow: UnitOfWork, o: Opportunity, fromStageId: string | null): void {
  const entry: HistoryEntry = {
    n: o.historyCount,
    pipelineId: o.pipelineId,
    fromStageId,
    toStageId: o.stageId,
    status: o.status,
    probability: o.probability,
    at: o.lastStageChangeAt,
    byUserId: ctx.identity.userId,
    leftAt: null,
    ...(o.lostReason !== undefined && o.status === 'lost' ? { lostReason: o.lostReason } : {}),
  };
  uow.put(
    { ...historyKey(ctx.identity.tenantId, o.id, o.historyCount), tenantId: ctx.identity.tenantId, entityType: 'OPPORTUNITY_HISTORY', opportunityId: o.id, ...entry },
    { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new VersionRace() },
  );
}

/** Facts every opportunity event carries (catalog `opportunityFacts`). */
function facts(view: OpportunityView) {
  return {
    accountId: view.accountId,
    pipelineId: view.pipelineId,
    stageId: view.stageId,
    status: view.status,
    amount: view.amount,
    currency: view.currency,
    probability: view.probability,
    ownerId: view.ownerId,
  };
}

/** `opportunity.won` / `opportunity.lost` for an opportunity that has just entered a closed stage. */
function emitClosed(uow: UnitOfWork, view: OpportunityView): void {
  const entity = { type: 'opportunity', id: view.id };
  if (view.status === 'won') uow.emit('opportunity.won', entity, { ...view, ...facts(view), closedAt: view.closedAt! });
  if (view.status === 'lost') uow.emit('opportunity.lost', entity, { ...view, ...facts(view), closedAt: view.closedAt!, lostReason: view.lostReason! });
}

const isOpen = (status: StageKind) => status === 'open';

// ---------------------------------------------------------------------------------------
// Create

/** What a new opportunity is made of, once its account, contacts and owner are settled. */
export interface NewOpportunityInput {
  /** Its id, when the caller needs it before (a lead conversion links to it); else a new ULID. */
  id?: string;
  accountId: string;
  /**
   * True when the account is created in the same UnitOfWork (a lead conversion): DynamoDB
   * allows one operation per item in a transaction, so the account is not touched here and
   * the CALLER must write the new account with `openOpportunityCount: 1` (`OPEN_OPPORTUNITY_COUNT`)
   * when the opportunity is open (it always is in the first stage of a pipeline), or
   * `wonOpportunityCount: 1` when it is won (a stage named).
   */
  accountIsNew?: boolean;
  contactIds?: string[];
  name: string;
  /** Minor units (domain/sales/money.ts `amount()` gives them). */
  amount: Minor | number;
  currency?: string;
  expectedCloseDate: string;
  pipelineId?: string;
  stageId?: string;
  probability?: number;
  lostReason?: string;
  forecastCategory?: ForecastCategory;
  needs?: string;
  budget?: Minor | number;
  competitors?: Competitor[];
  description?: string;
  owner: Owner;
  /** Where errors about `pipelineId` / `stageId` / `accountId` point: `body` by default (`body.opportunity` in a conversion). */
  pathPrefix?: string;
}

/**
 * Adds a new opportunity's writes (the opportunity, its stage count, its account's count, its
 * first history entry, its events) to `uow` WITHOUT committing, and returns it. Reads only
 * where it lands: one GetItem (the pipeline named, the stage named, or the default pointer;
 * the first request of a tenant also creates its default pipeline, in its own transaction).
 * The caller has checked the account (readable, not in the pool) and the contacts.
 */
export async function newOpportunity(ctx: UseCaseContext, input: NewOpportunityInput, uow: UnitOfWork): Promise<OpportunityView> {
  const prefix = input.pathPrefix ?? 'body';
  const placement = await resolvePlacement(ctx, input, { pipelineId: `${prefix}.pipelineId`, stageId: `${prefix}.stageId` });
  const record = buildNew(ctx, input, placement);
  return addNewOpportunity(ctx, uow, record, placement, { accountIsNew: !!input.accountIsNew, prefix });
}

function buildNew(ctx: UseCaseContext, input: NewOpportunityInput, placement: Placement): Opportunity {
  const prefix = input.pathPrefix ?? 'body';
  const at = ctx.now.toISOString();
  const kind = placement.stage.kind;
  const errors: FieldError[] = [];
  if (kind === 'lost' && input.lostReason === undefined) errors.push({ path: `${prefix}.lostReason`, message: 'required when the stage is a lost stage' });
  if (kind !== 'lost' && input.lostReason !== undefined) errors.push({ path: `${prefix}.lostReason`, message: 'only a lost opportunity has a lostReason' });
  const forecastCategory = forecastFor(kind, input.forecastCategory, undefined, `${prefix}.forecastCategory`, errors);
  if (errors.length) throw validationFailed(errors);
  return {
    id: input.id ?? newId(ctx),
    createdAt: at,
    updatedAt: at,
    version: 1,
    ownerId: input.owner.ownerId,
    ownerTeamId: input.owner.ownerTeamId,
    accountId: input.accountId,
    contactIds: input.contactIds ?? [],
    name: input.name,
    amountMinor: input.amount,
    currency: input.currency ?? 'CNY',
    pipelineId: placement.pipelineId,
    stageId: placement.stage.id,
    probability: input.probability ?? placement.stage.probability,
    status: kind,
    ...(input.lostReason !== undefined ? { lostReason: input.lostReason } : {}),
    expectedCloseDate: input.expectedCloseDate,
    closedAt: isOpen(kind) ? null : at,
    forecastCategory,
    ...(input.needs !== undefined ? { needs: input.needs } : {}),
    ...(input.budget !== undefined ? { budgetMinor: input.budget } : {}),
    competitors: input.competitors ?? [],
    ...(input.description !== undefined ? { description: input.description } : {}),
    lastStageChangeAt: at,
    lastActivityAt: null,
    historyCount: 1,
    createdBy: ctx.identity.userId,
    createdOwnerId: input.owner.ownerId,
    createdTeamId: input.owner.ownerTeamId,
    ...(isOpen(kind) ? { stageVisits: { [placement.stage.id]: at } } : { closedOwnerId: input.owner.ownerId, closedTeamId: input.owner.ownerTeamId }),
  };
}

/**
 * The forecast category a (new or changed) opportunity takes: won is `closed`, lost is
 * `omitted`; an open one keeps what it had (or `pipeline`) unless the request sets another.
 */
function forecastFor(kind: StageKind, requested: ForecastCategory | undefined, current: ForecastCategory | undefined, path: string, errors: FieldError[]): ForecastCategory {
  if (kind === 'won') {
    if (requested !== undefined && requested !== 'closed') errors.push({ path, message: 'a won opportunity is in the closed forecast category' });
    return 'closed';
  }
  if (kind === 'lost') {
    if (requested !== undefined && requested !== 'omitted') errors.push({ path, message: 'a lost opportunity is omitted from the forecast' });
    return 'omitted';
  }
  if (requested === 'closed') errors.push({ path, message: 'only a won opportunity is in the closed forecast category' });
  if (requested !== undefined) return requested;
  return current === undefined || current === 'closed' ? 'pipeline' : current;
}

function addNewOpportunity(
  ctx: UseCaseContext,
  uow: UnitOfWork,
  record: Opportunity,
  placement: Placement,
  opts: { accountIsNew: boolean; prefix: string },
): OpportunityView {
  const view = presentOpportunity(record, ctx.now);
  uow.put(toItem(opportunitySpec, ctx.identity.tenantId, record), {
    condition: 'attribute_not_exists(PK)',
    onConditionFailed: () => new Error(`id collision on opportunity ${record.id}`),
  });
  enterStage(ctx, uow, placement, `${opts.prefix}.stageId`);
  if (!opts.accountIsNew) touchAccount(ctx, uow, record.accountId, deltaOf(undefined, record.status), { mustBeOwned: true, path: `${opts.prefix}.accountId` });
  putHistory(ctx, uow, record, null);
  uow.emit('opportunity.created', { type: 'opportunity', id: record.id }, { ...view, ...facts(view) });
  emitClosed(uow, view);
  return view;
}

export async function createOpportunity(ctx: UseCaseContext, input: OpportunityCreate): Promise<OpportunityView> {
  // 1. Sales roles only; the owner (default: the caller) must be a sales user the caller may assign to.
  requireRole(ctx.identity, ...OPPORTUNITY_ROLES);
  const owner = await opportunityOwner(ctx, input.ownerId);
  return retryOnVersionRace(undefined, async () => {
    // 2. One BatchGetItem: the account, where it lands (stage, pipeline or default pointer), the contacts.
    const tenant = ctx.identity.tenantId;
    const [accountItem, placementItem, ...contactItems] = await getItems([
      entityKey(tenant, 'ACCOUNT', input.accountId),
      placementKey(tenant, input.pipelineId, input.stageId),
      ...input.contactIds.map((id) => entityKey(tenant, 'CONTACT', id)),
    ]);
    const account = readableAccountOf(ctx, accountItem, 'body.accountId');
    if (account.poolStatus === 'pool') throw accountInPool(account.id);
    checkContacts(ctx, account.id, contactItems, input.contactIds, 'body.contactIds');
    const placement = await placementOf(ctx, placementItem, input, { pipelineId: 'body.pipelineId', stageId: 'body.stageId' });
    // 3. The opportunity with everything it implies, in one transaction.
    const { ownerId: _o, amount, budget, ...fields } = input;
    const record = buildNew(ctx, { ...fields, amount, ...(budget !== undefined ? { budget } : {}), owner }, placement);
    const uow = new UnitOfWork(ctx);
    const view = addNewOpportunity(ctx, uow, record, placement, { accountIsNew: false, prefix: 'body' });
    return uow.commit(view);
  });
}

/** The owner of a new or reassigned opportunity: a sales user of the directory the caller may assign to. */
async function opportunityOwner(ctx: UseCaseContext, requested: string | undefined): Promise<Owner> {
  const who = ctx.identity;
  if (requested === undefined || requested === who.userId) return { ownerId: who.userId, ownerTeamId: who.teamId ?? null };
  const user = await requireDirectoryUser(who.tenantId, requested, 'body.ownerId');
  if (!(OPPORTUNITY_ROLES as readonly string[]).includes(user.role)) {
    throw validationFailed([{ path: 'body.ownerId', message: 'an opportunity is owned by a sales user (admin, manager or rep)' }]);
  }
  if (!canAssignTo(who, { userId: user.userId, teamId: user.teamId })) {
    throw forbidden('You may assign opportunities only to yourself, or as a manager to your team.');
  }
  return { ownerId: user.userId, ownerTeamId: user.teamId };
}

function readableAccountOf(ctx: UseCaseContext, item: Item | undefined, path: string): Account {
  if (!item) throw noSuch(path, 'account');
  const account = { ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
  if (!readable(accountSpec, ctx.identity, account)) throw noSuch(path, 'account');
  return account;
}

/** Every contact named must be one the caller may open, on the opportunity's account. */
function checkContacts(ctx: UseCaseContext, accountId: string, items: (Item | undefined)[], ids: string[], path: string): void {
  const errors: FieldError[] = [];
  ids.forEach((id, i) => {
    const item = items[i];
    const contact = item ? { ...fromItem<Contact>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null } : undefined;
    if (!contact || !readable(contactSpec, ctx.identity, contact)) {
      errors.push({ path: `${path}.${i}`, message: 'no such contact' });
    } else if (contact.accountId !== accountId) {
      errors.push({ path: `${path}.${i}`, message: 'the contact is not on the opportunity\'s account' });
    }
  });
  if (errors.length) throw validationFailed(errors);
}

// ---------------------------------------------------------------------------------------
// Read

/** The stored opportunity the caller may open, or 404 (support and marketers: 403 first). */
export async function loadOpportunity(ctx: UseCaseContext, id: string): Promise<Opportunity> {
  requireRole(ctx.identity, ...OPPORTUNITY_ROLES);
  const item = await getItem(entityKey(ctx.identity.tenantId, 'OPPORTUNITY', id));
  return visibleOr404(ctx, item);
}

function visibleOr404(ctx: UseCaseContext, item: Item | undefined): Opportunity {
  if (!item) throw notFound('opportunity');
  const o = opportunityOf(item);
  if (!canReadOpportunity(ctx.identity, o)) throw notFound('opportunity');
  return o;
}

export async function getOpportunity(ctx: UseCaseContext, id: string): Promise<OpportunityView> {
  return presentOpportunity(await loadOpportunity(ctx, id), ctx.now);
}

/** An opportunity named in a body (activities, tasks): one the caller may open, else 400 on `path`. */
export async function readableOpportunityOr400(ctx: UseCaseContext, id: string, path: string): Promise<Opportunity> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'OPPORTUNITY', id));
  const o = item ? opportunityOf(item) : undefined;
  if (!o || !canReadOpportunity(ctx.identity, o)) throw noSuch(path, 'opportunity');
  return o;
}

// ---------------------------------------------------------------------------------------
// Update, including stage moves

export async function updateOpportunity(ctx: UseCaseContext, id: string, patch: OpportunityPatch, ifMatch: number | undefined): Promise<OpportunityView> {
  requireRole(ctx.identity, ...OPPORTUNITY_ROLES);
  const tenant = ctx.identity.tenantId;
  const newOwner = patch.ownerId !== undefined ? patch.ownerId : undefined;
  return unlessAccountGone((skipAccount) => retryOnVersionRace(ifMatch, async () => {
    // 1. The opportunity and, for a move, the stage it goes to (and the contacts named): one read.
    const moving = patch.stageId !== undefined || patch.pipelineId !== undefined;
    const contactIds = patch.contactIds ?? [];
    const keys = [
      entityKey(tenant, 'OPPORTUNITY', id),
      ...(moving ? [placementKey(tenant, patch.pipelineId, patch.stageId)] : []),
      ...contactIds.map((c) => entityKey(tenant, 'CONTACT', c)),
    ];
    const read = keys.length > 1 ? await getItems(keys) : [await getItem(keys[0]!)];
    const [item, placementItem] = moving ? [read[0], read[1]] : [read[0], undefined];
    const contactItems = read.slice(moving ? 2 : 1);
    const before = visibleOr404(ctx, item);
    if (!writable(opportunitySpec, ctx.identity, before)) throw forbidden('Your role may read this opportunity but not change it.');
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    if (contactIds.length) checkContacts(ctx, before.accountId, contactItems, contactIds, 'body.contactIds');

    // 2. Where it is going: a stage of its own pipeline, or (with pipelineId) of another.
    let placement: Placement | undefined;
    if (moving) {
      const want = { pipelineId: patch.pipelineId ?? (patch.stageId !== undefined ? before.pipelineId : undefined), stageId: patch.stageId ?? undefined };
      if (patch.pipelineId === undefined && patch.stageId !== undefined) {
        // A stage of another pipeline needs that pipeline named: a pipeline change is deliberate.
        const stage = placementItem ? stageOf(placementItem) : undefined;
        if (stage && stage.pipelineId !== before.pipelineId) {
          throw validationFailed([{ path: 'body.stageId', message: `the stage is not in the opportunity's pipeline (${before.pipelineId}); name pipelineId to move it to another pipeline` }]);
        }
      }
      placement = await placementOf(ctx, placementItem, want, { pipelineId: 'body.pipelineId', stageId: 'body.stageId' });
      // The same pipeline named without a stage keeps the stage it is in.
      if (patch.stageId === undefined && placement.pipelineId === before.pipelineId) placement = undefined;
      else if (placement.stage.id === before.stageId) placement = undefined;
    }

    // 3. The owner, if reassigned: managers within their team, admins anywhere.
    let owner: Owner | undefined;
    if (newOwner !== undefined && newOwner !== before.ownerId) {
      requireRole(ctx.identity, 'admin', 'manager');
      owner = await opportunityOwner(ctx, newOwner);
    }

    // 4. The new state, by the stage rules.
    const next = applyPatch(ctx, before, patch, placement, owner);
    if (sameRecord(before, next)) return presentOpportunity(before, ctx.now);

    // 5. One transaction: the opportunity (version read), stage counts, account count, history, events.
    const uow = new UnitOfWork(ctx);
    uow.put(toItem(opportunitySpec, tenant, next), {
      condition: '#v = :v',
      names: { '#v': 'version' },
      values: { ':v': before.version },
      onConditionFailed: () => new VersionRace(),
    });
    const beforeView = presentOpportunity(before, ctx.now);
    const view = presentOpportunity(next, ctx.now);
    const changed = changedFields(beforeView, view);
    uow.emit('opportunity.updated', { type: 'opportunity', id }, { before: { ...beforeView }, after: { ...view }, changed });
    if (placement) {
      leaveStage(ctx, uow, before.stageId);
      enterStage(ctx, uow, placement, 'body.stageId');
      uow.update(historyKey(tenant, id, before.historyCount), { expression: 'SET leftAt = :at', values: { ':at': next.lastStageChangeAt } }, {
        condition: 'attribute_exists(PK)',
        onConditionFailed: () => new VersionRace(),
      });
      putHistory(ctx, uow, next, before.stageId);
      if (!skipAccount) touchAccount(ctx, uow, next.accountId, deltaOf(before.status, next.status), { mustBeOwned: false, path: 'accountId' });
      uow.emit('opportunity.stageChanged', { type: 'opportunity', id }, {
        ...view,
        ...facts(view),
        fromPipelineId: before.pipelineId,
        fromStageId: before.stageId,
        toStageId: next.stageId,
        fromStatus: before.status,
        toStatus: next.status,
        secondsInStage: Math.max(0, Math.floor((Date.parse(next.lastStageChangeAt) - Date.parse(before.lastStageChangeAt)) / 1000)),
      });
      if (next.status !== before.status) emitClosed(uow, view);
    }
    return uow.commit(view);
  }));
}

/**
 * Runs a change of an existing opportunity; when its account no longer exists (deleted
 * before it), runs it once more without touching the account: there is no count left to keep.
 */
async function unlessAccountGone<R>(run: (skipAccount: boolean) => Promise<R>): Promise<R> {
  try {
    return await run(false);
  } catch (err) {
    if (err instanceof AccountGone) return run(true);
    throw err;
  }
}

/**
 * What analytics attribute to a moved opportunity: the first time it entered each open stage,
 * and who owned it when it closed (cleared when it reopens).
 */
function recordAttribution(next: Opportunity, before: Opportunity, at: string): void {
  if (isOpen(next.status)) {
    next.stageVisits = { ...before.stageVisits, [next.stageId]: before.stageVisits?.[next.stageId] ?? at };
    delete next.closedOwnerId;
    delete next.closedTeamId;
  } else if (next.status !== before.status) {
    next.closedOwnerId = next.ownerId;
    next.closedTeamId = next.ownerTeamId ?? null;
  }
}

/** The opportunity after a PATCH: merge-patch of the plain fields, then the stage rules. */
function applyPatch(ctx: UseCaseContext, before: Opportunity, patch: OpportunityPatch, placement: Placement | undefined, owner: Owner | undefined): Opportunity {
  const at = ctx.now.toISOString();
  const errors: FieldError[] = [];
  const { stageId: _s, pipelineId: _p, ownerId: _o, amount, budget, lostReason, forecastCategory, probability, ...plain } = patch;
  const next: Opportunity = { ...before };
  for (const [k, v] of Object.entries(plain)) {
    if (v === undefined) continue;
    if (v === null) delete (next as unknown as Item)[k];
    else (next as unknown as Item)[k] = v;
  }
  if (amount !== undefined && amount !== null) next.amountMinor = amount;
  if (budget === null) delete next.budgetMinor;
  else if (budget !== undefined) next.budgetMinor = budget;
  if (owner) Object.assign(next, owner);

  let kind = before.status;
  if (placement) {
    kind = placement.stage.kind;
    next.pipelineId = placement.pipelineId;
    next.stageId = placement.stage.id;
    next.status = kind;
    next.probability = probability ?? placement.stage.probability;
    next.lastStageChangeAt = at;
    next.historyCount = before.historyCount + 1;
    // Closed when it enters a closed stage of another kind; reopened only by an open stage.
    next.closedAt = isOpen(kind) ? null : kind === before.status ? before.closedAt : at;
    recordAttribution(next, before, at);
  } else if (probability !== undefined && probability !== null) {
    next.probability = probability;
  }

  // lostReason belongs to a lost opportunity only, and a lost one must have it.
  if (kind === 'lost') {
    if (lostReason === null) errors.push({ path: 'body.lostReason', message: 'a lost opportunity needs a lostReason' });
    else if (lostReason !== undefined) next.lostReason = lostReason;
    else if (before.status !== 'lost') errors.push({ path: 'body.lostReason', message: 'required when moving to a lost stage' });
  } else {
    if (lostReason !== undefined && lostReason !== null) errors.push({ path: 'body.lostReason', message: 'only a lost opportunity has a lostReason' });
    delete next.lostReason;
  }
  next.forecastCategory = forecastFor(
    kind,
    forecastCategory ?? undefined,
    isOpen(before.status) ? before.forecastCategory : undefined,
    'body.forecastCategory',
    errors,
  );
  if (errors.length) throw validationFailed(errors);
  if (sameRecord(before, next)) return before;
  return { ...next, version: before.version + 1, updatedAt: at };
}

function sameRecord(a: Opportunity, b: Opportunity): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => JSON.stringify((a as unknown as Item)[k]) === JSON.stringify((b as unknown as Item)[k]));
}

function changedFields(a: object, b: object): string[] {
  return Object.keys({ ...a, ...b }).filter(
    (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify((a as Item)[k]) !== JSON.stringify((b as Item)[k]),
  );
}

// ---------------------------------------------------------------------------------------
// Delete

/** History entries deleted with the opportunity in its transaction (the rest stay, unreachable). */
const MAX_HISTORY_DELETED = 80;

export async function deleteOpportunity(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  requireRole(ctx.identity, ...OPPORTUNITY_ROLES);
  const tenant = ctx.identity.tenantId;
  await unlessAccountGone((skipAccount) => retryOnVersionRace(ifMatch, async () => {
    const o = await loadOpportunity(ctx, id);
    if (!writable(opportunitySpec, ctx.identity, o)) throw forbidden('Your role may read this opportunity but not change it.');
    if (ifMatch !== undefined && ifMatch !== o.version) throw versionMismatch();
    // Its quotes hang off it (and are never deleted): an opportunity with quotes is closed, not deleted.
    const quotes = await db.send(
      new QueryCommand({
        ...queryInput({ index: 'byParent', pk: accountCollection(tenant, o.accountId), sk: { beginsWith: `${rank.QUOTE}#QUOTE#${o.id}#` } }),
        Limit: 1,
      }),
    );
    if ((quotes.Items ?? []).length > 0) {
      throw conflict('opportunity_has_quotes', 'The opportunity has quotes, which hang off it; close it (a lost stage) instead of deleting it.');
    }
    const uow = new UnitOfWork(ctx);
    uow.delete(entityKey(tenant, 'OPPORTUNITY', id), {
      condition: '#v = :v',
      names: { '#v': 'version' },
      values: { ':v': o.version },
      onConditionFailed: () => new VersionRace(),
    });
    leaveStage(ctx, uow, o.stageId);
    if (!skipAccount) touchAccount(ctx, uow, o.accountId, deltaOf(o.status, undefined), { mustBeOwned: false, path: 'accountId' });
    for (let n = Math.max(1, o.historyCount - MAX_HISTORY_DELETED + 1); n <= o.historyCount; n++) uow.delete(historyKey(tenant, id, n));
    uow.emit('opportunity.deleted', { type: 'opportunity', id }, { id, accountId: o.accountId, status: o.status });
    await uow.commit(undefined);
  }));
}

// ---------------------------------------------------------------------------------------
// History

export interface StageHistoryEntry {
  pipelineId: string;
  fromStageId: string | null;
  toStageId: string;
  /** The kind of the stage entered. */
  status: StageKind;
  probability: number;
  at: string;
  byUserId: string;
  /** When it left this stage; null while it is still there. */
  leftAt: string | null;
  /** Seconds spent in this stage: until `leftAt`, or until now for the current one. */
  secondsInStage: number;
  lostReason?: string;
}

export async function opportunityHistory(ctx: UseCaseContext, id: string, page: PageRequest): Promise<Page<StageHistoryEntry>> {
  await loadOpportunity(ctx, id);
  const key = historyKey(ctx.identity.tenantId, id, 0);
  return queryPage({ pk: key.PK, sk: { beginsWith: 'HISTORY#' }, consistent: true }, page, (item) => {
    const e = item as unknown as HistoryEntry;
    const until = e.leftAt ?? ctx.now.toISOString();
    return {
      pipelineId: e.pipelineId,
      fromStageId: e.fromStageId ?? null,
      toStageId: e.toStageId,
      status: e.status,
      probability: Number(e.probability),
      at: e.at,
      byUserId: e.byUserId,
      leftAt: e.leftAt ?? null,
      secondsInStage: Math.max(0, Math.floor((Date.parse(until) - Date.parse(e.at)) / 1000)),
      ...(e.lostReason !== undefined ? { lostReason: e.lostReason } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------
// List

export interface OpportunityFilters {
  ownerId?: string | undefined;
  accountId?: string | undefined;
  pipelineId?: string | undefined;
  stageId?: string | undefined;
  status?: OpportunityStatus | undefined;
  closeFrom?: string | undefined;
  closeTo?: string | undefined;
}

const LOW = '0000-00-00';
const HIGH = '9999-99-99';
/** Sorts after every id character: the upper bound of a key range ending in `<date>#<id>`. */
const TOP = '~';

/**
 * Each filter is served by a key (docs/access-patterns.md):
 * - `accountId`: the account's collection (`byParent`, rank 2); the other filters within it.
 * - `pipelineId` / `stageId`, admin without `ownerId`: the pipeline's board (`byDue`
 *   `T#t#OPPORTUNITY#PIPELINE#<id>`, `<state>#<stageId>#<close>#<id>`): a stage (and its close
 *   dates) is a key range.
 * - otherwise the caller's partition: `ownerId`'s (`byOwner`), a rep's own, a manager's team
 *   (`byTeam`), an admin's tenant (`byType`), all sorted `<state>#<close>#<id>`: `status` is a
 *   prefix, `status` + close dates a range, close dates alone one range per state, read one
 *   after the other. Pipeline and stage are filters within a rep's or a team's partition.
 * `open` and `stalled` are both the open state, split by the last-touch times.
 */
export async function listOpportunities(ctx: UseCaseContext, filters: OpportunityFilters, page: PageRequest): Promise<Page<OpportunityView>> {
  const who = ctx.identity;
  requireRole(who, ...OPPORTUNITY_ROLES);
  const tenant = who.tenantId;
  const keep = (item: Item) => {
    const o = opportunityOf(item);
    return canReadOpportunity(who, o) ? presentOpportunity(o, ctx.now) : undefined;
  };
  const from = filters.closeFrom ?? LOW;
  const to = filters.closeTo ?? HIGH;
  const hasClose = filters.closeFrom !== undefined || filters.closeTo !== undefined;
  if (from > to) return emptyPage(page);

  // The stage named, if any: its pipeline and kind decide the key (and may rule everything out).
  let stageKind: StageKind | undefined;
  let stagePipelineId: string | undefined;
  if (filters.stageId !== undefined) {
    const item = await getItem(stageKey(tenant, filters.stageId));
    if (!item) return emptyPage(page);
    const stage = stageOf(item);
    if (filters.pipelineId !== undefined && filters.pipelineId !== stage.pipelineId) return emptyPage(page);
    stageKind = stage.kind;
    stagePipelineId = stage.pipelineId;
    if (filters.status !== undefined && stateOf(filters.status) !== stageKind) return emptyPage(page);
  }
  const state = filters.status !== undefined ? stateOf(filters.status) : stageKind;
  const touch = touchFilter(filters.status, ctx.now);
  const ownerId = filters.ownerId === 'me' ? who.userId : filters.ownerId;

  // 1. An account's opportunities.
  if (filters.accountId !== undefined) {
    await readableAccountFor(ctx, filters.accountId);
    const filter = and(
      equal({ ownerId, pipelineId: filters.pipelineId, stageId: filters.stageId, status: state }),
      hasClose ? closeBetween(from, to) : undefined,
      touch,
    );
    return queryPage({ index: 'byParent', pk: accountCollection(tenant, filters.accountId), sk: { beginsWith: OPPORTUNITIES_OF_ACCOUNT }, ...(filter ? { filter } : {}) }, page, keep);
  }

  // 2. A pipeline's board (the tenant-wide view: admins).
  const pipelineId = filters.pipelineId;
  if ((pipelineId !== undefined || filters.stageId !== undefined) && ownerId === undefined && who.role === 'admin') {
    const pid = (pipelineId ?? stagePipelineId)!;
    const pk = pipelinePartition(tenant, pid);
    let sk: QuerySpec['sk'];
    let closeFilter: QuerySpec['filter'];
    if (filters.stageId !== undefined) {
      const prefix = `${STATE_CODE[state!]}#${filters.stageId}#`;
      sk = hasClose ? { between: [`${prefix}${from}`, `${prefix}${to}#${TOP}`] } : { beginsWith: prefix };
    } else if (state !== undefined) {
      sk = { beginsWith: `${STATE_CODE[state]}#` };
      closeFilter = hasClose ? closeBetween(from, to) : undefined;
    } else {
      closeFilter = hasClose ? closeBetween(from, to) : undefined;
    }
    const filter = and(closeFilter, touch);
    return queryPage({ index: 'byDue', pk, ...(sk ? { sk } : {}), ...(filter ? { filter } : {}) }, page, keep);
  }

  // 3. The caller's partition, in `<state>#<close>#<id>` order.
  const [index, pk] = scopeOf(ctx, ownerId);
  const filter = and(equal({ pipelineId, stageId: filters.stageId }), touch);
  const base: Omit<QuerySpec, 'sk'> = { index, pk, ...(filter ? { filter } : {}) };
  if (state !== undefined) {
    const p = `${STATE_CODE[state]}#`;
    return queryPage({ ...base, sk: hasClose ? { between: [`${p}${from}`, `${p}${to}#${TOP}`] } : { beginsWith: p } }, page, keep);
  }
  if (hasClose) {
    const segments = (['open', 'won', 'lost'] as const).map((s): QuerySpec => {
      const p = `${STATE_CODE[s]}#`;
      return { ...base, sk: { between: [`${p}${from}`, `${p}${to}#${TOP}`] } };
    });
    return segmentedPage(segments, page, keep);
  }
  return queryPage(base, page, keep);
}

const stateOf = (status: OpportunityStatus): StageKind => (status === 'stalled' ? 'open' : status);

/** `open` and `stalled` split the open state by the last touch (stage change or activity). */
function touchFilter(status: OpportunityStatus | undefined, now: Date): QuerySpec['filter'] {
  if (status !== 'open' && status !== 'stalled') return undefined;
  const names = { '#sc': 'lastStageChangeAt', '#la': 'lastActivityAt' };
  const values = { ':cut': stallCutoff(now) };
  return status === 'open'
    ? { expression: '#sc >= :cut OR #la >= :cut', names, values }
    : { expression: '#sc < :cut AND (attribute_not_exists(#la) OR attribute_type(#la, :nul) OR #la < :cut)', names, values: { ...values, ':nul': 'NULL' } };
}

function closeBetween(from: string, to: string): QuerySpec['filter'] {
  return { expression: '#close BETWEEN :cf AND :ct', names: { '#close': 'expectedCloseDate' }, values: { ':cf': from, ':ct': to } };
}

function equal(fields: Record<string, string | undefined>): QuerySpec['filter'] {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  Object.entries(fields).forEach(([attr, value], i) => {
    if (value === undefined) return;
    names[`#e${i}`] = attr;
    values[`:e${i}`] = value;
    parts.push(`#e${i} = :e${i}`);
  });
  return parts.length ? { expression: parts.join(' AND '), names, values } : undefined;
}

function and(...filters: QuerySpec['filter'][]): QuerySpec['filter'] {
  const present = filters.filter((f): f is NonNullable<QuerySpec['filter']> => f !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return {
    expression: present.map((f) => `(${f.expression})`).join(' AND '),
    names: Object.assign({}, ...present.map((f) => f.names ?? {})),
    values: Object.assign({}, ...present.map((f) => f.values ?? {})),
  };
}

function scopeOf(ctx: UseCaseContext, ownerId: string | undefined): ['byOwner' | 'byTeam' | 'byType', string] {
  const who = ctx.identity;
  const tenant = who.tenantId;
  if (ownerId !== undefined) return ['byOwner', ownerPartition(tenant, 'OPPORTUNITY', ownerId)];
  if (who.role === 'admin') return ['byType', typePartition(tenant, 'OPPORTUNITY')];
  if (who.role === 'manager' && who.teamId) return ['byTeam', teamPartition(tenant, 'OPPORTUNITY', who.teamId)];
  return ['byOwner', ownerPartition(tenant, 'OPPORTUNITY', who.userId)];
}

async function readableAccountFor(ctx: UseCaseContext, accountId: string): Promise<Account> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', accountId));
  return readableAccountOf(ctx, item, 'query.accountId');
}

function emptyPage<T>(page: PageRequest): Page<T> {
  if (page.cursor) decodeCursor(page.scope, page.cursor);
  return { items: [], nextCursor: null };
}

/**
 * One page over several key ranges read one after the other (close dates without a status:
 * open, then won, then lost). The cursor names the range and the position in it. A page reads
 * at most `limit` items in all, so it may hold fewer while more remain (API.md allows it).
 */
async function segmentedPage<T>(segments: QuerySpec[], page: PageRequest, keep: (item: Item) => T | undefined): Promise<Page<T>> {
  let seg = 0;
  let start: Record<string, unknown> | undefined;
  if (page.cursor) {
    const c = decodeCursor(page.scope, page.cursor) as { seg?: unknown; key?: unknown };
    if (typeof c.seg !== 'number' || !Number.isInteger(c.seg) || c.seg < 0 || c.seg >= segments.length) throw invalidCursor();
    seg = c.seg;
    start = c.key && typeof c.key === 'object' ? (c.key as Record<string, unknown>) : undefined;
  }
  const items: T[] = [];
  let budget = page.limit;
  while (seg < segments.length && budget > 0) {
    const out = await db.send(new QueryCommand({ ...queryInput(segments[seg]!), Limit: budget, ...(start ? { ExclusiveStartKey: start } : {}) }));
    budget -= out.ScannedCount ?? out.Items?.length ?? 0;
    for (const raw of out.Items ?? []) {
      const kept = keep(raw);
      if (kept !== undefined) items.push(kept);
    }
    if (out.LastEvaluatedKey) {
      start = out.LastEvaluatedKey;
      if (budget <= 0) return { items, nextCursor: encodeCursor(page.scope, { seg, key: start }) };
      continue;
    }
    seg++;
    start = undefined;
  }
  return { items, nextCursor: seg < segments.length ? encodeCursor(page.scope, { seg, key: null }) : null };
}

