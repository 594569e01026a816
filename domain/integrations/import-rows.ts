/**
 * One CSV row → the create route's own use case, as the importer (api/integrations.md "CSV
 * import"): the same schema, the same custom-field typing, the same duplicate guards, owner
 * rules and events as `POST /v1/<entity>`. A duplicate (the guards' 409, whether the other
 * record is stored or came from an earlier row) is skipped, merge-patched or failed as asked.
 *
 * A row is prepared (checked and built by the create use case's own `prepare…`, which reads
 * what the create reads) and then committed: alone (`commitRow`: the create route's commit, a
 * taken guard its 409) or with other rows of the batch in one transaction (`commitRows`): a row
 * whose item is refused there (a guard taken meanwhile, a twin runner's idempotency record) is
 * committed alone, where the refusal becomes its outcome, and the others go together again.
 *
 * Exactly once: a row's record has an id derived from the import and the row (`rowRecordId`), so
 * a second commit of the row meets its own record (the record's `attribute_not_exists`, or its own
 * id as the holder of a guard) and counts as created instead of landing twice. Rows committed
 * together also write ONE marker per transaction (`IMPORTROWS`, the rows it created and their
 * owners) instead of an idempotency record per row; a row committed alone (or merged into a
 * duplicate) keeps the importer's idempotency key `import:<importId>:<row>`. A batch reads both
 * before it starts (`appliedRows`): rows applied by a run that died are counted from them, never
 * applied again, even if their record has been deleted or reassigned since.
 */
import type * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError } from '#domain/errors.ts';
import type { Identity } from '#domain/identity.ts';
import { accountCreate, accountPatch } from '#domain/accounts/account.ts';
import { prepareAccount, updateAccount } from '#domain/accounts/accounts.ts';
import { contactCreate, contactPatch } from '#domain/accounts/contact.ts';
import { prepareContact, updateContact } from '#domain/accounts/contacts.ts';
import { commitCreate, guardKeysOf, guardsOf, valuesOfRecord, type GuardEntity, type GuardValues } from '#domain/accounts/duplicates.ts';
import { leadCreate, leadPatch } from '#domain/sales/lead.ts';
import { prepareLead, updateLead } from '#domain/sales/leads.ts';
import { checkCustomInput, type FieldDefinition } from '#domain/marketing/custom-fields.ts';
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import { idempotencyKey } from '#domain/table/keys.ts';
import { getItem, getItems, queryAll } from '#domain/table/query.ts';
import { RecordExists, type PreparedCreate } from '#domain/records.ts';
import { IdempotencyRecordExists, UnitOfWork, UnitsRefused } from '#domain/table/transaction.ts';
import { splitList, type ColumnMap, type ImportEntity } from '#domain/integrations/csv-mapping.ts';
import { IMPORT_ROLES, importPartition, type OnDuplicate, type RowError } from '#domain/integrations/import.ts';

type Input = Record<string, unknown>;
type Stored = { id: string; version?: number; ownerId?: string | null };

interface EntityUseCases {
  guard: GuardEntity;
  create: z.ZodMiniType;
  patch: z.ZodMiniType;
  prepare(ctx: UseCaseContext, body: never): Promise<PreparedCreate<Stored>>;
  change(ctx: UseCaseContext, id: string, patch: never): Promise<Stored>;
}

const USE_CASES: Record<ImportEntity, EntityUseCases> = {
  accounts: {
    guard: 'account',
    create: accountCreate,
    patch: accountPatch,
    // The owner's account count is added per batch, with the batch's progress (import-runner.ts):
    // parallel rows of one owner would otherwise all contend on that one counter item.
    prepare: (ctx, body) => prepareAccount(ctx, body, { deferOwnerCount: true }),
    change: (ctx, id, patch) => updateAccount(ctx, id, patch, undefined),
  },
  contacts: {
    guard: 'contact',
    create: contactCreate,
    patch: contactPatch,
    // Marketers import contacts (api/integrations.md) though they do not create them one by one.
    prepare: (ctx, body) => prepareContact(ctx, body, IMPORT_ROLES.contacts),
    change: (ctx, id, patch) => updateContact(ctx, id, patch, undefined),
  },
  leads: {
    guard: 'lead',
    create: leadCreate,
    patch: leadPatch,
    prepare: prepareLead,
    change: (ctx, id, patch) => updateLead(ctx, id, patch, undefined),
  },
};

/** `ownerId` of a created record: the runner counts a new account's owner (deferred count). */
export type Outcome =
  | { kind: 'created'; ownerId?: string | null }
  | { kind: 'updated' | 'skipped' }
  | { kind: 'failed'; error: Omit<RowError, 'row'> };

export interface ImportJob {
  id: string;
  entity: ImportEntity;
  importer: Identity;
  columns: ColumnMap;
  onDuplicate: OnDuplicate;
  defs: FieldDefinition[];
}

export const rowKey = (job: Pick<ImportJob, 'id'>, row: number) => `import:${job.id}:${row}`;
export const rowIdempotencyKey = (job: Pick<ImportJob, 'id' | 'importer'>, row: number) =>
  idempotencyKey(job.importer.tenantId, job.importer.userId, rowKey(job, row));

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const base32 = (n: bigint, length: number) => {
  let out = '';
  for (let i = 0; i < length; i++, n >>= 5n) out = CROCKFORD[Number(n & 31n)]! + out;
  return out;
};

/**
 * The id of the record a row creates, the same in every run: ULID-shaped, with the import's
 * time (its id's first 10 characters), then the row number (25 bits: rows of an import sort in
 * file order) and 55 bits of a hash of the tenant and the import (no two imports share ids).
 */
export function rowRecordId(job: Pick<ImportJob, 'id' | 'importer'>, row: number): string {
  const hash = createHash('sha256').update(`${job.importer.tenantId}\u0000${job.id}`).digest();
  return `${job.id.slice(0, 10)}${base32(BigInt(row), 5)}${base32(hash.readBigUInt64BE(0) >> 9n, 11)}`;
}

/** Rows created together are kept this long as applied (as an import's chunks): a resume reads them. */
const MARKER_TTL_SECONDS = 30 * 24 * 60 * 60;
const MARKER_SK = 'ROWS#';
const rowSk = (row: number) => String(row).padStart(6, '0');

/**
 * The marker of rows created in one transaction: `rows` maps each row to its record's owner
 * (the runner counts new accounts per owner). Keyed by its first row: the rows of a transaction
 * lie within one batch of at most 100, so a batch finds its markers by a range of first rows.
 */
function rowsMarker(job: ImportJob, created: ReadyRow[], now: Date) {
  const first = Math.min(...created.map((r) => r.row));
  return {
    PK: importPartition(job.importer.tenantId, job.id),
    SK: `${MARKER_SK}${rowSk(first)}#${ulid(now.getTime())}`,
    tenantId: job.importer.tenantId,
    entityType: 'IMPORTROWS',
    rows: Object.fromEntries(created.map((r) => [String(r.row), r.prepared.result.ownerId ?? null])),
    expiresAt: Math.floor(now.getTime() / 1000) + MARKER_TTL_SECONDS,
  };
}

/**
 * Rows `first`..`last` already applied (by this import's earlier runs, or a twin runner): from
 * the markers of rows created together (one Query) and the idempotency records of rows committed
 * alone (one BatchGetItem). Index `i` is row `first + i`; undefined where not applied.
 */
export async function appliedRows(job: ImportJob, first: number, last: number, now: Date): Promise<(Outcome | undefined)[]> {
  const numbers = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const [markers, records] = await Promise.all([
    queryAll({
      pk: importPartition(job.importer.tenantId, job.id),
      sk: { between: [`${MARKER_SK}${rowSk(Math.max(1, first - 99))}`, `${MARKER_SK}${rowSk(last)}#~`] },
    }),
    getItems(numbers.map((row) => rowIdempotencyKey(job, row))),
  ]);
  const owners = new Map<number, string | null>();
  for (const m of markers) for (const [row, owner] of Object.entries(m.rows as Record<string, string | null>)) owners.set(Number(row), owner);
  return numbers.map((row, i) => {
    const item = records[i];
    if (item && !(typeof item.expiresAt === 'number' && item.expiresAt < now.getTime() / 1000)) return outcomeOfStored(item.result as string);
    return owners.has(row) ? { kind: 'created', ownerId: owners.get(row)! } : undefined;
  });
}

/** A row's applied write, from its stored result: a create answers version 1, an update more. */
export function outcomeOfStored(result: string): Outcome {
  const stored = JSON.parse(result) as Stored;
  return stored.version === 1 ? { kind: 'created', ownerId: stored.ownerId ?? null } : { kind: 'updated' };
}

/** The row's non-empty cells as the create body would carry them (tags split, custom values typed by their definitions). */
export function rowInput(job: Pick<ImportJob, 'columns' | 'defs'>, cells: string[]): Input {
  const out: Input = {};
  const custom: Input = {};
  job.columns.forEach((c, i) => {
    const raw = (cells[i] ?? '').trim();
    if (raw === '') return;
    if (c.field === 'tags') out.tags = splitList(raw);
    else if (c.field.startsWith('custom.')) {
      const key = c.field.slice('custom.'.length);
      custom[key] = typedCustom(job.defs.find((d) => d.key === key), raw);
    } else out[c.field] = raw;
  });
  if (Object.keys(custom).length) out.custom = custom;
  return out;
}

const TRUE = new Set(['true', 'yes', 'y', '1', '是', '对', '真']);
const FALSE = new Set(['false', 'no', 'n', '0', '否', '错', '假']);

/** A cell as the custom field's type wants it; a cell that does not fit stays text, so the field's check names the problem. */
function typedCustom(def: FieldDefinition | undefined, raw: string): unknown {
  switch (def?.type) {
    case 'number': {
      const n = Number(raw.replace(/,/g, ''));
      return Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return TRUE.has(raw.toLowerCase()) ? true : FALSE.has(raw.toLowerCase()) ? false : raw;
    case 'multiselect':
      return splitList(raw);
    default:
      return raw;
  }
}

/** The normalized values a row would hold a guard on: rows of one batch sharing one run one after the other. */
export function guardValuesOf(entity: ImportEntity, input: Input): string[] {
  return guardsOf(USE_CASES[entity].guard, input as GuardValues).map((g) => `${g.kind}\u0000${g.value}`);
}

/** A row checked and built by its create use case, ready to commit; `row` is 1-based. */
export interface ReadyRow {
  row: number;
  ctx: UseCaseContext;
  input: Input;
  prepared: PreparedCreate<Stored>;
}

/** Checks and builds one row; a row that cannot be created (invalid, an owner it may not name) has its outcome already. Never throws for anything the row holds. */
export async function prepareRow(job: ImportJob, row: number, cells: string[], now: Date): Promise<ReadyRow | Outcome> {
  const ctx: UseCaseContext = {
    identity: job.importer,
    now,
    idempotency: { key: rowKey(job, row), requestHash: rowKey(job, row) },
    recordId: rowRecordId(job, row),
  };
  const uc = USE_CASES[job.entity];
  const input = rowInput(job, cells);
  try {
    const body = parseOrFail(uc.create, input) as Input;
    body.custom = checkCustomInput(job.defs, (input.custom as Input | undefined) ?? {}, false) ?? {};
    return { row, ctx, input, prepared: await uc.prepare(ctx, body as never) };
  } catch (err) {
    if (err instanceof DomainError && err.status < 500) return failed(err.code, describe(err));
    throw err;
  }
}

export const isReady = (r: ReadyRow | Outcome): r is ReadyRow => 'prepared' in r;

/**
 * The row created its record: now, or before (a twin runner, an earlier commit: the record with
 * the row's id is there). Its owner is the prepared one: the same row prepares the same owner.
 */
export const createdOutcome = (ready: ReadyRow): Outcome => ({ kind: 'created', ownerId: ready.prepared.result.ownerId ?? null });

/** A guard read ahead names its holder: the row's own record means the row was applied already. */
export const heldByRow = (ready: ReadyRow, guard: Record<string, unknown> | undefined) => guard?.recordId === ready.prepared.result.id;

/** The guard items a ready row will claim: a batch reads them ahead, to commit the rows they refuse alone. */
export function guardKeysOfRow(job: ImportJob, ready: ReadyRow): { PK: string; SK: string }[] {
  const guard = USE_CASES[job.entity].guard;
  return guardKeysOf(job.importer.tenantId, guard, valuesOfRecord(guard, ready.prepared.result));
}

/** Applies one row alone (prepare, then commit); never throws for anything the row holds. */
export async function applyRow(job: ImportJob, row: number, cells: string[], now: Date): Promise<Outcome> {
  const ready = await prepareRow(job, row, cells, now);
  return isReady(ready) ? commitRow(job, ready) : ready;
}

/** Commits a ready row in its own transaction: a duplicate is skipped, merged or failed as asked. */
export async function commitRow(job: ImportJob, ready: ReadyRow): Promise<Outcome> {
  const { ctx, input } = ready;
  try {
    try {
      await commitCreate(ctx, ready.prepared);
      return createdOutcome(ready);
    } catch (err) {
      if (err instanceof RecordExists) return createdOutcome(ready);
      if (!(err instanceof DomainError && err.code === 'duplicate')) throw err;
      const existingId = err.extra.existingId as string | null;
      // The guard is held by this row's own record: it was applied already.
      if (existingId === ready.prepared.result.id) return createdOutcome(ready);
      if (job.onDuplicate === 'skip') return { kind: 'skipped' };
      if (job.onDuplicate === 'fail' || !existingId) return failed(err.code, err.message);
      return await mergeInto(ctx, USE_CASES[job.entity], job, existingId, input);
    }
  } catch (err) {
    if (err instanceof IdempotencyRecordExists) return appliedByTwin(job, ready.row);
    if (err instanceof DomainError && err.status < 500) return failed(err.code, describe(err));
    throw err;
  }
}

/**
 * Commits ready rows together, in one transaction: their items (at most 99, no item twice: the
 * caller groups them) and one marker naming the rows (`rowsMarker`), in place of a per-row
 * idempotency record. A row refused there (a guard taken meanwhile, its own record already
 * there) is committed alone, where the refusal becomes its outcome; the rest go together again.
 */
export async function commitRows(job: ImportJob, rows: ReadyRow[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(rows.length);
  let pending = rows.map((_, i) => i);
  while (pending.length > 0) {
    const units = pending.map((i) => {
      const { idempotency: _alone, ...ctx } = rows[i]!.ctx;
      return { uow: rows[i]!.prepared.write(new UnitOfWork(ctx)), result: rows[i]!.prepared.result };
    });
    const marker = new UnitOfWork({ identity: job.importer, now: rows[0]!.ctx.now });
    marker.put(rowsMarker(job, pending.map((i) => rows[i]!), rows[0]!.ctx.now));
    try {
      await UnitOfWork.commitTogether([...units, { uow: marker, result: undefined }]);
      for (const i of pending) outcomes[i] = createdOutcome(rows[i]!);
      return outcomes;
    } catch (err) {
      // A refusal that names no row (a hot item never settling): each row alone reports its own.
      const refused = err instanceof UnitsRefused ? err.refused : err instanceof DomainError ? new Map(pending.map((_, u) => [u, err])) : undefined;
      if (!refused) throw err;
      const alone = pending.filter((_, u) => refused.has(u));
      pending = pending.filter((_, u) => !refused.has(u));
      for (const i of alone) outcomes[i] = await commitRow(job, rows[i]!);
    }
  }
  return outcomes;
}

/** `update`: the row's non-empty fields merge-patched into the existing record, if the importer may change it. */
async function mergeInto(ctx: UseCaseContext, uc: EntityUseCases, job: ImportJob, existingId: string, input: Input): Promise<Outcome> {
  const patch = parseOrFail(uc.patch, input) as Input;
  if (input.custom) patch.custom = checkCustomInput(job.defs, input.custom as Input, true);
  try {
    await uc.change(ctx, existingId, patch as never);
    return { kind: 'updated' };
  } catch (err) {
    if (err instanceof DomainError && (err.status === 404 || err.status === 403)) {
      return failed('duplicate', `An existing record (${existingId}) has the same values, and it is not one you may change.`);
    }
    throw err;
  }
}

/** A twin runner applied this row between our check and our commit: count what it did. */
async function appliedByTwin(job: ImportJob, row: number): Promise<Outcome> {
  const item = await getItem(rowIdempotencyKey(job, row));
  return item ? outcomeOfStored(item.result as string) : { kind: 'created' };
}

function parseOrFail(schema: z.ZodMiniType, input: Input): unknown {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new DomainError(
    400,
    'validation_failed',
    'The row is not valid.',
    {},
    parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || 'row', message: i.message })),
  );
}

const failed = (code: string, message: string): Outcome => ({ kind: 'failed', error: { code, message: message.slice(0, 500) } });

/** A row error's message: the field errors when there are any (`email: Invalid email address`). */
function describe(err: DomainError): string {
  if (!err.errors?.length) return err.message;
  return err.errors.map((e) => `${e.path.replace(/^body\./, '')}: ${e.message}`).join('; ');
}
