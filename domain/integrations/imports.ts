/**
 * CSV import use cases (api/integrations.md "CSV import"): start one, read one, list them.
 * The rows are applied in the background (import-runner.ts), through the create routes' own
 * use cases, as the importer.
 *
 * Starting an import:
 *  1. The role may import this entity (admins and managers everything, marketers leads and contacts).
 *  2. The CSV parses, has a header that maps (`name` at least), at most 50,000 data rows.
 *  3. Only admins and managers may name owners through an `ownerId` column.
 *  4. The mapped cells are stored in chunks under the import (BatchWriteItem), then the import
 *     and its `import.created` event in one transaction: the event starts the run.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { forbidden, notFound } from '#domain/errors.ts';
import { requireRole, type Role } from '#domain/identity.ts';
import { newId } from '#domain/records.ts';
import { batchWrite } from '#domain/table/batch.ts';
import { stripKeys } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { mapColumns, type ImportEntity } from '#domain/integrations/csv-mapping.ts';
import {
  chunkKey,
  chunkRows,
  importKey,
  importsOfTenant,
  importsOfUser,
  IMPORTS_DUE,
  IMPORT_ROLES,
  OWNER_COLUMN_ROLES,
  parseCsv,
  type CsvEncoding,
  type Import,
  type OnDuplicate,
} from '#domain/integrations/import.ts';

/** Row chunks are only needed while the import runs: DynamoDB TTL removes them after 30 days. */
const CHUNK_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Roles that ever import something (and so may list and read their imports). */
const IMPORTING_ROLES: Role[] = ['admin', 'manager', 'marketer'];

export interface StartImport {
  entity: ImportEntity;
  /** The CSV, decoded (BOM already dropped). */
  text: string;
  encoding: CsvEncoding;
  onDuplicate: OnDuplicate;
  mapping?: Record<string, string> | undefined;
}

export async function startImport(ctx: UseCaseContext, input: StartImport): Promise<Import> {
  const who = ctx.identity;
  requireRole(who, ...IMPORT_ROLES[input.entity]);
  const { headers, rows } = parseCsv(input.text);
  const defs = await fieldDefinitions(who.tenantId, input.entity);
  const columns = mapColumns(input.entity, headers, input.mapping, new Set(defs.map((d) => d.key)));
  if (columns.some((c) => c.field === 'ownerId') && !OWNER_COLUMN_ROLES.includes(who.role)) {
    throw forbidden('Only admins and managers may name owners in an ownerId column.');
  }
  const chunks = chunkRows(rows.map((cells) => columns.map((c) => cells[c.column] ?? '')));

  const id = newId(ctx);
  const at = ctx.now.toISOString();
  const expiresAt = Math.floor(ctx.now.getTime() / 1000) + CHUNK_TTL_SECONDS;
  let first = 0;
  const chunkIndex = chunks.map((c) => {
    const entry = { first, count: c.length };
    first += c.length;
    return entry;
  });
  await batchWrite(
    chunks.map((c, n) => ({
      PutRequest: { Item: { ...chunkKey(who.tenantId, id, n), tenantId: who.tenantId, entityType: 'IMPORT_CHUNK', first: chunkIndex[n]!.first, rows: c, expiresAt } },
    })),
  );

  const done = rows.length === 0;
  const record: Import = {
    id,
    entity: input.entity,
    status: done ? 'done' : 'queued',
    total: rows.length,
    processed: 0,
    created: 0,
    updated: 0,
    skipped: 0,
    failed: 0,
    errors: [],
    onDuplicate: input.onDuplicate,
    encoding: input.encoding,
    columns,
    createdBy: who.userId,
    createdAt: at,
    updatedAt: at,
    finishedAt: done ? at : null,
    version: 1,
    importer: { tenantId: who.tenantId, userId: who.userId, role: who.role, ...(who.teamId ? { teamId: who.teamId } : {}) },
    chunks: chunkIndex,
  };
  const sort = `${at}#${id}`;
  const uow = new UnitOfWork(ctx)
    .put(
      {
        ...importKey(who.tenantId, id),
        ...record,
        tenantId: who.tenantId,
        entityType: 'IMPORT',
        typePk: importsOfTenant(who.tenantId),
        typeSk: sort,
        ownerPk: importsOfUser(who.tenantId, who.userId),
        ownerSk: sort,
        ...(done ? {} : { duePk: IMPORTS_DUE, dueSk: sort }),
      },
      { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on import ${id}`) },
    )
    .emit('import.created', { type: 'import', id }, { id, entity: input.entity, total: rows.length });
  try {
    return await uow.commit(record);
  } catch (err) {
    // No import names these chunks: take them back, so a failed start leaves nothing (if this
    // fails too, their TTL removes them).
    await batchWrite(chunks.map((_, n) => ({ DeleteRequest: { Key: chunkKey(who.tenantId, id, n) } }))).catch(() => undefined);
    throw err;
  }
}

export const importFromItem = (item: Record<string, unknown>) => stripKeys<Import>(item);

/**
 * Its creator and admins read an import. 404 first (another tenant's id looks like a missing one to
 * every role), then 403 for roles that never import, then 404 for other importers.
 */
export async function getImport(ctx: UseCaseContext, id: string): Promise<Import> {
  const item = await getItem(importKey(ctx.identity.tenantId, id));
  if (!item) throw notFound('import');
  requireRole(ctx.identity, ...IMPORTING_ROLES);
  const record = importFromItem(item);
  if (ctx.identity.role !== 'admin' && record.createdBy !== ctx.identity.userId) throw notFound('import');
  return record;
}

/** Newest first: an admin's list holds the tenant's imports, anyone else's its own. */
export async function listImports(ctx: UseCaseContext, page: PageRequest): Promise<Page<Import>> {
  const who = ctx.identity;
  requireRole(who, ...IMPORTING_ROLES);
  const spec =
    who.role === 'admin'
      ? { index: 'byType' as const, pk: importsOfTenant(who.tenantId), newestFirst: true }
      : { index: 'byOwner' as const, pk: importsOfUser(who.tenantId, who.userId), newestFirst: true };
  return queryPage(spec, page, importFromItem);
}
