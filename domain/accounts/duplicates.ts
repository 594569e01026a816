/**
 * Duplicate prevention (查重 / 撞单, API.md §5 "Duplicates").
 *
 * Uniqueness is enforced by GUARD ITEMS: for every normalized value a record holds (an
 * account's name, domain, email, phone; a contact's email, phone; a lead's email, phone) one
 * item `T#t#UNIQUE#<ENTITY>#<KIND>#<value>` / `UNIQUE` holding the record's id.
 * The guards are written in the SAME transaction as the record (create, rename, delete,
 * merge): a Put conditioned on `attribute_not_exists(PK)`. Two reps saving the same
 * customer at the same moment both send their transaction; DynamoDB lets exactly one
 * create the guard and cancels the other, whose failed condition returns the guard as it
 * is (`ALL_OLD`) and so names the record that holds the value.
 *
 * That cancellation becomes `409 duplicate` with `existingId`, `entity`, `matchedOn`,
 * `inPool`, and `ownerId` only when the caller may open the existing record: building it
 * costs one GetItem of the holder, on the failure path only (`rejectDuplicates`).
 *
 * A lead's company is no guard: several leads may name one firm, and a lead may name an
 * existing customer (API.md §5 leads; a conversion settles that, through the account's and
 * contact's own guards). Leads are found by company through an index instead (lead.ts).
 * Guard items `UNIQUE#LEAD#NAME#…` written before that change are read and conditioned on by
 * nothing any more, so they refuse nothing.
 *
 * The search (`findDuplicates`, `GET /v1/duplicates`) reads the guards of every value asked
 * for in one BatchGetItem (and, for a name, the leads of that company in one Query beside it),
 * and the records holding the guards in a second one.
 *
 * For other contexts (leads, conversion): `claimGuards` / `releaseGuards` / `changeGuards`
 * only ADD items to a UnitOfWork (they never read or commit), and a use case that commits
 * such a UnitOfWork runs its attempt inside `rejectDuplicates`.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, invalidCursor, validationFailed } from '#domain/errors.ts';
import type { Identity } from '#domain/identity.ts';
import type { PreparedCreate, StoredRecord } from '#domain/records.ts';
import { mayOpen } from '#domain/record-specs.ts';
import { decodeCursor, encodeCursor } from '#domain/table/cursor.ts';
import { entityKey, leadCompanyPartition, stripKeys, uniqueKey, type EntityType } from '#domain/table/keys.ts';
import { getItem, getItems, queryAll, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { loadNormalizers, normalizeCompanyName, normalizeDomain, normalizeEmail, normalizePhone } from '#domain/accounts/normalize.ts';

type Item = Record<string, unknown>;

/** Who holds guards. */
export type GuardEntity = 'account' | 'contact' | 'lead';
/** What a guard is on. */
export type GuardKind = 'name' | 'email' | 'phone' | 'domain';

/** The kinds each entity is unique on, in the order a 409's `matchedOn` lists them. */
export const GUARD_KINDS: Record<GuardEntity, readonly GuardKind[]> = {
  account: ['name', 'domain', 'email', 'phone'],
  contact: ['email', 'phone'],
  lead: ['email', 'phone'],
};

const ENTITIES: readonly GuardEntity[] = ['account', 'contact', 'lead'];
const ENTITY_TYPE: Record<GuardEntity, EntityType> = { account: 'ACCOUNT', contact: 'CONTACT', lead: 'LEAD' };

/** The record field each kind reads. */
const FIELD: Record<GuardEntity, Partial<Record<GuardKind, string>>> = {
  account: { name: 'name', domain: 'domain', email: 'email', phone: 'phone' },
  contact: { email: 'email', phone: 'phone' },
  lead: { email: 'email', phone: 'phone' },
};

const NORMALIZE: Record<GuardKind, (raw: string) => string> = {
  name: normalizeCompanyName,
  domain: normalizeDomain,
  email: normalizeEmail,
  phone: normalizePhone,
};

/** Raw values to compare, by kind. Absent, null or blank: no guard. */
export type GuardValues = Partial<Record<GuardKind, string | null | undefined>>;

interface Guard {
  kind: GuardKind;
  value: string;
}

/** The normalized guards of these values, for this entity's kinds. */
export function guardsOf(entity: GuardEntity, values: GuardValues): Guard[] {
  const out: Guard[] = [];
  for (const kind of GUARD_KINDS[entity]) {
    const raw = values[kind];
    if (typeof raw !== 'string' || raw.trim() === '') continue;
    const value = NORMALIZE[kind](raw);
    if (value) out.push({ kind, value });
  }
  return out;
}

/** The guard values of a stored record of this entity (its fields by `FIELD`). */
export function valuesOfRecord(entity: GuardEntity, record: object): GuardValues {
  const r = record as Record<string, unknown>;
  const out: GuardValues = {};
  for (const kind of GUARD_KINDS[entity]) {
    const v = r[FIELD[entity][kind]!];
    if (typeof v === 'string') out[kind] = v;
  }
  return out;
}

const keyOf = (tenantId: string, entity: GuardEntity, g: Guard) => uniqueKey(tenantId, ENTITY_TYPE[entity], g.kind.toUpperCase(), g.value);

/**
 * A guard held by another record: the transaction was cancelled. Not a DomainError on
 * purpose: `rejectDuplicates` turns it into the 409 (an unwrapped one is a loud 500).
 */
export class GuardTaken extends Error {
  constructor(
    readonly entity: GuardEntity,
    readonly kind: GuardKind,
    readonly holderId: string | undefined,
    /** The values the refused write was claiming or checking, normalized, by kind. */
    readonly candidate: Map<GuardKind, string>,
  ) {
    super(`the ${kind} is held by ${entity} ${holderId ?? '(unknown)'}`);
  }
}

const candidateOf = (guards: Guard[]) => new Map(guards.map((g) => [g.kind, g.value] as const));

/**
 * Puts the guards of a record's values: each must not exist yet. Pass the record's raw
 * values (`valuesOfRecord(entity, record)`).
 */
export function claimGuards(ctx: UseCaseContext, uow: UnitOfWork, entity: GuardEntity, recordId: string, values: GuardValues): UnitOfWork {
  const guards = guardsOf(entity, values);
  const candidate = candidateOf(guards);
  for (const g of guards) {
    uow.put(
      {
        ...keyOf(ctx.identity.tenantId, entity, g),
        tenantId: ctx.identity.tenantId,
        entityType: 'UNIQUE',
        entity,
        kind: g.kind,
        value: g.value,
        recordId,
        createdAt: ctx.now.toISOString(),
      },
      {
        condition: 'attribute_not_exists(PK)',
        onConditionFailed: (current) => new GuardTaken(entity, g.kind, current?.recordId as string | undefined, candidate),
      },
    );
  }
  return uow;
}

/**
 * Deletes the guards of these values, each only if this record holds it (or nobody does).
 * A guard held by ANOTHER record means the data broke the invariant: the write fails loudly.
 */
export function releaseGuards(ctx: UseCaseContext, uow: UnitOfWork, entity: GuardEntity, recordId: string, values: GuardValues): UnitOfWork {
  for (const g of guardsOf(entity, values)) {
    uow.delete(keyOf(ctx.identity.tenantId, entity, g), {
      condition: 'attribute_not_exists(PK) OR recordId = :holder',
      values: { ':holder': recordId },
      onConditionFailed: (current) => new Error(`uniqueness guard ${entity}/${g.kind} is held by ${String(current?.recordId)}, not by ${recordId}`),
    });
  }
  return uow;
}

/**
 * Hands guards from one record to another (a merge: the target takes a value of the
 * source's), conditioned on the source holding them (or nobody).
 */
export function transferGuards(ctx: UseCaseContext, uow: UnitOfWork, entity: GuardEntity, fromId: string, toId: string, values: GuardValues): UnitOfWork {
  const guards = guardsOf(entity, values);
  const candidate = candidateOf(guards);
  for (const g of guards) {
    uow.put(
      {
        ...keyOf(ctx.identity.tenantId, entity, g),
        tenantId: ctx.identity.tenantId,
        entityType: 'UNIQUE',
        entity,
        kind: g.kind,
        value: g.value,
        recordId: toId,
        createdAt: ctx.now.toISOString(),
      },
      {
        condition: 'attribute_not_exists(PK) OR recordId = :from',
        values: { ':from': fromId },
        onConditionFailed: (current) => new GuardTaken(entity, g.kind, current?.recordId as string | undefined, candidate),
      },
    );
  }
  return uow;
}

/**
 * For an update: releases the guards `before` held that `after` no longer has, and claims
 * the new ones. Values that normalize alike (a rename "ACME Inc." → "Acme") change nothing.
 */
export function changeGuards(
  ctx: UseCaseContext,
  uow: UnitOfWork,
  entity: GuardEntity,
  recordId: string,
  before: GuardValues,
  after: GuardValues,
): UnitOfWork {
  const id = (g: Guard) => `${g.kind}\u0000${g.value}`;
  const old = guardsOf(entity, before);
  const now = guardsOf(entity, after);
  const oldIds = new Set(old.map(id));
  const nowIds = new Set(now.map(id));
  const released = old.filter((g) => !nowIds.has(id(g)));
  const claimed = now.filter((g) => !oldIds.has(id(g)));
  const asValues = (gs: Guard[]): GuardValues => Object.fromEntries(gs.map((g) => [g.kind, g.value]));
  // Normalized values normalize to themselves, so they can be passed back in as raw values.
  releaseGuards(ctx, uow, entity, recordId, asValues(released));
  const candidate = candidateOf(now);
  for (const g of claimed) {
    uow.put(
      {
        ...keyOf(ctx.identity.tenantId, entity, g),
        tenantId: ctx.identity.tenantId,
        entityType: 'UNIQUE',
        entity,
        kind: g.kind,
        value: g.value,
        recordId,
        createdAt: ctx.now.toISOString(),
      },
      {
        condition: 'attribute_not_exists(PK)',
        onConditionFailed: (current) => new GuardTaken(entity, g.kind, current?.recordId as string | undefined, candidate),
      },
    );
  }
  return uow;
}

// ---- for leads and conversion ------------------------------------------------------------

/**
 * What a lead holds uniquely among leads (lead.ts `duplicateKeysOf`). A lead's guards meet only
 * other leads': accounts and contacts are met at conversion, by their own guards.
 */
export type LeadKeys = Pick<GuardValues, 'email' | 'phone'>;

export const claimLeadGuards = (ctx: UseCaseContext, uow: UnitOfWork, leadId: string, values: LeadKeys) =>
  claimGuards(ctx, uow, 'lead', leadId, values);

export const releaseLeadGuards = (ctx: UseCaseContext, uow: UnitOfWork, leadId: string, values: LeadKeys) =>
  releaseGuards(ctx, uow, 'lead', leadId, values);

export const changeLeadGuards = (ctx: UseCaseContext, uow: UnitOfWork, leadId: string, before: LeadKeys, after: LeadKeys) =>
  changeGuards(ctx, uow, 'lead', leadId, before, after);

/** The guards of a new account (name, domain, email, phone). */
export const claimAccountGuards = (ctx: UseCaseContext, uow: UnitOfWork, account: StoredRecord) =>
  claimGuards(ctx, uow, 'account', account.id, valuesOfRecord('account', account));

/** The guards of a new contact (email, phone). */
export const claimContactGuards = (ctx: UseCaseContext, uow: UnitOfWork, contact: StoredRecord) =>
  claimGuards(ctx, uow, 'contact', contact.id, valuesOfRecord('contact', contact));

/** A record that holds a value (its guard names it). */
export interface Holder {
  entity: GuardEntity;
  kind: GuardKind;
  id: string;
}

/**
 * The records of these entities that hold one of the values now, read from their guards (ONE
 * BatchGetItem, strongly consistent), in the order asked: entity by entity, each in its kinds'
 * order. For a use case that takes the existing record instead of answering 409 (an inbound
 * form's submission logs onto the lead or contact it matches). `alsoRead`: other items the use
 * case needs, read in the same BatchGetItem (`also`, in their order).
 */
export async function holdersOf(
  tenantId: string,
  entities: readonly GuardEntity[],
  values: GuardValues,
  alsoRead: { PK: string; SK: string }[] = [],
): Promise<{ holders: Holder[]; also: (Item | undefined)[] }> {
  await loadNormalizers(); // the guards normalize phones and domains
  const probes = entities.flatMap((entity) => guardsOf(entity, values).map((guard) => ({ entity, guard })));
  const keys = [...probes.map((p) => keyOf(tenantId, p.entity, p.guard)), ...alsoRead];
  const items = keys.length ? await getItems(keys) : [];
  const holders = probes.flatMap((p, i) => {
    const id = items[i]?.recordId;
    return typeof id === 'string' ? [{ entity: p.entity, kind: p.guard.kind, id }] : [];
  });
  return { holders, also: items.slice(probes.length) };
}

/** The guard items these values would claim (for a bulk writer's read-ahead of what is taken). */
export function guardKeysOf(tenantId: string, entity: GuardEntity, values: GuardValues): { PK: string; SK: string }[] {
  return guardsOf(entity, values).map((g) => keyOf(tenantId, entity, g));
}

// ---- the 409 -----------------------------------------------------------------------------

/** Commits a prepared create alone, in its own transaction; a taken guard is `409 duplicate`. */
export function commitCreate<R>(ctx: UseCaseContext, prepared: PreparedCreate<R>): Promise<R> {
  return rejectDuplicates(ctx, () => prepared.write(new UnitOfWork(ctx)).commit(prepared.result));
}

const MAX_HOLDER_RETRIES = 3;

/**
 * Runs `attempt` (which builds and commits a UnitOfWork holding guards) and turns a taken
 * guard into `409 duplicate`. When the holder has disappeared since (deleted or merged in
 * between), the guard is gone with it and the attempt runs again. `attempt` must build
 * its UnitOfWork afresh each time.
 */
export async function rejectDuplicates<T>(ctx: UseCaseContext, attempt: () => Promise<T>): Promise<T> {
  await loadNormalizers(); // a refused write's guards are normalized again below
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof GuardTaken)) throw err;
      const holder = err.holderId
        ? await getItem(entityKey(ctx.identity.tenantId, ENTITY_TYPE[err.entity], err.holderId))
        : undefined;
      if (!holder && i < MAX_HOLDER_RETRIES) continue;
      throw duplicate(ctx.identity, err, holder);
    }
  }
}

function recordOf(item: Item): StoredRecord {
  return { ...stripKeys<StoredRecord>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/** What a caller learns about a record holding a value: its id, kind and pool state; its owner only if it may open it. */
function describeHolder(who: Identity, entity: GuardEntity, item: Item): { inPool: boolean; ownerId?: string | null } {
  const record = recordOf(item);
  const inPool = item.poolStatus === 'pool';
  return mayOpen(ENTITY_TYPE[entity], who, record) ? { inPool, ownerId: record.ownerId ?? null } : { inPool };
}

function duplicate(who: Identity, err: GuardTaken, holder: Item | undefined): DomainError {
  const matchedOn = holder
    ? GUARD_KINDS[err.entity].filter((kind) => {
        if (kind === err.kind) return true;
        const mine = err.candidate.get(kind);
        const theirs = guardsOf(err.entity, valuesOfRecord(err.entity, holder)).find((g) => g.kind === kind);
        return mine !== undefined && theirs?.value === mine;
      })
    : [err.kind];
  return new DomainError(409, 'duplicate', `An existing ${err.entity} has the same ${matchedOn.join(', ')}.`, {
    existingId: err.holderId ?? null,
    entity: err.entity,
    matchedOn,
    ...(holder ? describeHolder(who, err.entity, holder) : { inPool: false }),
  });
}

// ---- the search --------------------------------------------------------------------------

export interface DuplicateQuery {
  name?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  domain?: string | undefined;
}

export interface DuplicateCandidate {
  id: string;
  entity: GuardEntity;
  matchedOn: GuardKind[];
  inPool: boolean;
  ownerId?: string | null;
}

const QUERY_KINDS: readonly GuardKind[] = ['name', 'email', 'phone', 'domain'];

/** A candidate as `GET /v1/duplicates` lists it. */
export const duplicateCandidateView = z.lazy(() =>
  z
    .object({
      id: f.out.id,
      entity: z.enum(ENTITIES),
      matchedOn: z.array(z.enum(QUERY_KINDS)).check(z.maxLength(QUERY_KINDS.length)),
      inPool: z.boolean(),
      ownerId: z.optional(z.nullable(f.out.id).check(z.describe('present only when the caller may open the record'))),
    })
    .check(z.meta({ id: 'DuplicateCandidate' })),
);

/**
 * `GET /v1/duplicates`: every account, contact and lead holding one of the values, whoever
 * owns it; `ownerId` only for records the caller may open. One BatchGetItem of the guards
 * (at most 8 keys) and, when a name is asked, beside it one Query of the open leads naming
 * that company (lead.ts); then one BatchGetItem of the records holding the guards.
 * Ordered by entity (accounts, contacts, leads), then id; pages are cut from that list.
 */
export async function findDuplicates(ctx: UseCaseContext, query: DuplicateQuery, page: PageRequest): Promise<Page<DuplicateCandidate>> {
  // Only phones and domains need the normalizers' data: a search by name or email does not load it.
  if (query.phone !== undefined || query.domain !== undefined) await loadNormalizers();
  const asked = QUERY_KINDS.filter((k) => query[k] !== undefined);
  if (asked.length === 0) {
    throw validationFailed([{ path: 'query', message: 'give at least one of name, email, phone, domain' }], 'The query is not valid.');
  }
  let after: string | undefined;
  if (page.cursor) {
    const k = decodeCursor(page.scope, page.cursor).after;
    if (typeof k !== 'string') throw invalidCursor();
    after = k;
  }

  const tenantId = ctx.identity.tenantId;
  const probes: { entity: GuardEntity; guard: Guard }[] = [];
  for (const entity of ENTITIES) {
    for (const g of guardsOf(entity, query)) probes.push({ entity, guard: g });
  }
  const [guards, companyLeads] = await Promise.all([
    probes.length ? getItems(probes.map((p) => keyOf(tenantId, p.entity, p.guard))) : [],
    query.name !== undefined ? leadsOfCompany(tenantId, query.name, after, page.limit + 1) : [],
  ]);

  const found = new Map<string, { entity: GuardEntity; id: string; kinds: Set<GuardKind>; record?: Item }>();
  const add = (entity: GuardEntity, id: string, kind: GuardKind, record?: Item) => {
    const key = sortKeyOf(entity, id);
    const entry = found.get(key) ?? { entity, id, kinds: new Set<GuardKind>() };
    entry.kinds.add(kind);
    entry.record ??= record;
    found.set(key, entry);
  };
  guards.forEach((item, i) => {
    const holder = item?.recordId;
    if (typeof holder === 'string') add(probes[i]!.entity, holder, probes[i]!.guard.kind);
  });
  for (const lead of companyLeads) add('lead', lead.id as string, 'name', lead);

  const sorted = [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const toRead = sorted.filter(([, e]) => !e.record);
  const read = toRead.length ? await getItems(toRead.map(([, e]) => entityKey(tenantId, ENTITY_TYPE[e.entity], e.id))) : [];
  toRead.forEach(([, e], i) => (e.record = read[i]));
  const all: { sortKey: string; item: DuplicateCandidate }[] = [];
  for (const [sortKey, e] of sorted) {
    if (!e.record) continue; // a guard outliving its record for a moment (never within a transaction)
    all.push({
      sortKey,
      item: {
        id: e.id,
        entity: e.entity,
        matchedOn: QUERY_KINDS.filter((k) => e.kinds.has(k)),
        ...describeHolder(ctx.identity, e.entity, e.record),
      },
    });
  }

  const rest = after === undefined ? all : all.filter((x) => x.sortKey > after);
  const pageItems = rest.slice(0, page.limit);
  const more = rest.length > page.limit;
  return {
    items: pageItems.map((x) => x.item),
    nextCursor: more ? encodeCursor(page.scope, { after: pageItems.at(-1)!.sortKey }) : null,
  };
}

/** A candidate's place in the search's order (and its cursor): entity, then id. */
const sortKeyOf = (entity: GuardEntity, id: string) => `${ENTITIES.indexOf(entity)}#${id}`;

/**
 * The first `n` open leads naming this company after the cursor, in id order: as many as a page
 * can show, however many leads share the company.
 */
function leadsOfCompany(tenantId: string, name: string, after: string | undefined, n: number): Promise<Item[]> {
  const leadsFrom = sortKeyOf('lead', '');
  const afterId = after !== undefined && after.startsWith(leadsFrom) ? after.slice(leadsFrom.length) : undefined;
  return queryAll(
    {
      index: 'byDue',
      pk: leadCompanyPartition(tenantId, NORMALIZE.name(name)),
      ...(afterId !== undefined ? { sk: { greaterThan: afterId } } : {}),
      limit: n,
    },
    (items) => items.length >= n,
  );
}
