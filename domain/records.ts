/**
 * The life cycle every stored sales record shares: create, open, patch (merge-patch,
 * If-Match), delete, each writing its domain event in the same transaction. A
 * context (accounts, contacts, activities, tasks) describes its record once in a
 * `RecordSpec`; the rules specific to it stay in its own module.
 */
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, forbidden, notFound, versionMismatch } from '#domain/errors.ts';
import { canRead, canSee, type Identity } from '#domain/identity.ts';
import type { EventType } from '#events/catalog.ts';
import { entityKey, stripKeys, type EntityType } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { count } from '#domain/table/request-stats.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';

export interface StoredRecord {
  id: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  ownerId: string | null;
  /** The owner's team when it was assigned: what a manager's visibility follows. Not part of the API shape. */
  ownerTeamId?: string | null;
}

type Item = Record<string, unknown>;

export interface RecordSpec<R extends StoredRecord> {
  type: EntityType;
  /** Lower-case noun used in errors and event names. */
  noun: 'account' | 'contact' | 'activity' | 'task' | 'lead' | 'quote' | 'order' | 'opportunity' | 'ticket';
  /** `customer`: support and marketers read them tenant-wide. `personal`: everyone may keep their own. */
  readableAs: 'customer' | 'personal';
  events: { created: EventType; updated: EventType; deleted: EventType };
  /** Index attributes of the stored item (byParent, byOwner, byTeam, byType...), derived from the record. */
  indexKeys(tenantId: string, record: R): Item;
  /** Extra visibility: e.g. a task is also visible to whoever created it. */
  alsoVisibleTo?(who: Identity, record: R): boolean;
}

/**
 * A create checked and built, not yet committed: `write` adds its items (record, event, guards…)
 * to a fresh unit of work, once per attempt; `result` is its answer. The create routes commit it
 * alone (duplicates.ts `commitCreate`); a CSV import commits several rows' in one transaction.
 */
export interface PreparedCreate<R> {
  result: R;
  write(uow: UnitOfWork): UnitOfWork;
}

/** A new id: a ULID of the context's time. */
export function newId(ctx: UseCaseContext): string {
  return ulid(ctx.now.getTime());
}

/** A new record's id already exists: an import row committed twice (its id is derived from the row), else a bug. */
export class RecordExists extends Error {
  constructor(
    readonly noun: string,
    readonly id: string,
  ) {
    super(`id collision on ${noun} ${id}`);
  }
}

export function toItem<R extends StoredRecord>(spec: RecordSpec<R>, tenantId: string, record: R): Item {
  const item: Item = {
    ...(record as unknown as Item),
    ...entityKey(tenantId, spec.type, record.id),
    tenantId,
    entityType: spec.type,
  };
  for (const [k, v] of Object.entries(spec.indexKeys(tenantId, record))) {
    if (v !== undefined && v !== null) item[k] = v;
  }
  return item;
}

export function fromItem<R extends StoredRecord>(item: Item): R {
  return stripKeys<R>(item);
}

/** The stored form with the internal visibility field kept (stripKeys drops it from API output). */
function withTeam<R extends StoredRecord>(item: Item): R {
  return { ...fromItem<R>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null };
}

/** The API view of a stored item if the caller may open it; for list pages. */
export function visibleFromItem<R extends StoredRecord>(spec: RecordSpec<R>, who: Identity, item: Item): R | undefined {
  const record = withTeam<R>(item);
  return readable(spec, who, record) ? publicView(record) : undefined;
}

export function readable<R extends StoredRecord>(spec: RecordSpec<R>, who: Identity, record: R): boolean {
  return canRead(who, record, spec.readableAs) || (spec.alsoVisibleTo?.(who, record) ?? false);
}

export function writable<R extends StoredRecord>(spec: RecordSpec<R>, who: Identity, record: R): boolean {
  if (spec.readableAs === 'personal' && record.ownerId === who.userId) return true;
  return canSee(who, record) || (spec.alsoVisibleTo?.(who, record) ?? false);
}

/** Loads a record the caller may open, or 404 (another tenant's or another rep's look alike). */
export async function loadReadable<R extends StoredRecord>(ctx: UseCaseContext, spec: RecordSpec<R>, id: string): Promise<R> {
  const item = await getItem(entityKey(ctx.identity.tenantId, spec.type, id));
  if (!item) throw notFound(spec.noun);
  const record = withTeam<R>(item);
  if (!readable(spec, ctx.identity, record)) throw notFound(spec.noun);
  return record;
}

/** Loads a record the caller may change: 404 when it may not even open it, 403 when it may only read it. */
export async function loadWritable<R extends StoredRecord>(ctx: UseCaseContext, spec: RecordSpec<R>, id: string): Promise<R> {
  const record = await loadReadable(ctx, spec, id);
  if (!writable(spec, ctx.identity, record)) throw forbidden(`Your role may read this ${spec.noun} but not change it.`);
  return record;
}

export function stamp<R extends StoredRecord>(ctx: UseCaseContext, fields: Omit<R, keyof StoredRecord>, owner: { ownerId: string | null; ownerTeamId: string | null }): R {
  const at = ctx.now.toISOString();
  return { id: ctx.recordId ?? newId(ctx), createdAt: at, updatedAt: at, version: 1, ...owner, ...fields } as R;
}

/** Writes a new record and its `created` event; `extra` adds the use case's other writes to the same transaction. */
export function insert<R extends StoredRecord>(ctx: UseCaseContext, spec: RecordSpec<R>, record: R, uow = new UnitOfWork(ctx)): UnitOfWork {
  return uow
    .put(toItem(spec, ctx.identity.tenantId, record), {
      condition: 'attribute_not_exists(PK)',
      onConditionFailed: () => new RecordExists(spec.noun, record.id),
    })
    .emit(spec.events.created as 'account.created', { type: spec.noun, id: record.id }, snapshot(record));
}

/** Checks If-Match against the version read. */
export function checkIfMatch(record: StoredRecord, ifMatch: number | undefined): void {
  if (ifMatch !== undefined && ifMatch !== record.version) throw versionMismatch();
}

/** The record's next version: what `replace` writes. */
export function nextVersion<R extends StoredRecord>(ctx: UseCaseContext, before: R, after: R): R {
  return { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
}

/**
 * Writes `next` (from `nextVersion`) over `before`, conditioned on the version read, plus
 * its `updated` event. A concurrent change makes the condition fail: with If-Match that
 * is a 412; without, the caller re-reads and re-applies (see `retryOnVersionRace`).
 */
export function replace<R extends StoredRecord>(
  ctx: UseCaseContext,
  spec: RecordSpec<R>,
  before: R,
  next: R,
  uow = new UnitOfWork(ctx),
): UnitOfWork {
  const changed = Object.keys({ ...before, ...next }).filter(
    (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify((before as unknown as Item)[k]) !== JSON.stringify((next as unknown as Item)[k]),
  );
  return uow
    .put(toItem(spec, ctx.identity.tenantId, next), {
      condition: '#v = :v',
      names: { '#v': 'version' },
      values: { ':v': before.version },
      onConditionFailed: () => new VersionRace(),
    })
    .emit(spec.events.updated as 'account.updated', { type: spec.noun, id: next.id }, {
      before: snapshot(before),
      after: snapshot(next),
      changed,
    });
}

export function remove<R extends StoredRecord>(ctx: UseCaseContext, spec: RecordSpec<R>, record: R, uow = new UnitOfWork(ctx)): UnitOfWork {
  return uow
    .delete(entityKey(ctx.identity.tenantId, spec.type, record.id), {
      condition: '#v = :v',
      names: { '#v': 'version' },
      values: { ':v': record.version },
      onConditionFailed: () => new VersionRace(),
    })
    .emit(spec.events.deleted as 'account.deleted', { type: spec.noun, id: record.id }, { id: record.id });
}

/** The record changed between our read and our write. */
export class VersionRace extends Error {}

/**
 * Runs read-modify-write until it lands. With If-Match, a race is the client's stale
 * version: 412. Without, the change is re-applied to the fresh record (last writer wins
 * field by field, never a lost update of fields it did not touch).
 */
export async function retryOnVersionRace<T>(ifMatch: number | undefined, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof VersionRace)) throw err;
      if (ifMatch !== undefined) throw versionMismatch();
      // Many writers on one record: back off with jitter so each round has a winner.
      if (i >= MAX_VERSION_RETRIES) throw conflict('concurrent_update', 'The record is changing too fast to apply this change; retry it.');
      const ms = Math.random() * Math.min(200, 10 * 2 ** i);
      count({ versionRetries: 1, backoffMs: ms });
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}

const MAX_VERSION_RETRIES = 40;

/** True when a patch changes nothing: the record keeps its version (API.md: +1 per change). */
export function unchanged<R extends StoredRecord>(before: R, after: R): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].every((k) => JSON.stringify((before as unknown as Item)[k]) === JSON.stringify((after as unknown as Item)[k]));
}

/** The record as clients see it: without internal fields. */
export function publicView<R extends StoredRecord>(record: R): R {
  const { ownerTeamId: _team, ...rest } = record;
  return rest as R;
}

/** The record as events carry it: its API shape plus the owner's team (consumers attribute by it). */
export function eventSnapshot(record: StoredRecord): { id: string; version: number; ownerId: string | null; ownerTeamId: string | null } & Item {
  return { ...(publicView(record) as unknown as { id: string; version: number } & Item), ownerId: record.ownerId, ownerTeamId: record.ownerTeamId ?? null };
}

const snapshot = eventSnapshot;

/**
 * Merge-patch (RFC 7396): a present key replaces, `null` clears an optional field (the schema
 * decides which fields accept null), and an object merges into the object it patches key by key
 * (a record's `custom` values). Arrays replace.
 */
export function mergePatch<R extends object>(record: R, patch: Record<string, unknown>): R {
  const out = { ...record } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete out[k];
    else if (isPlainObject(v)) out[k] = mergePatch(isPlainObject(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  return out as R;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
