/**
 * A CSV import (api/integrations.md "CSV import"): its shape, input rules, keys, and the file
 * turned into rows (decoding, BOM, CSV parsing). The use cases are in imports.ts, the
 * background run in import-runner.ts.
 *
 * Items (docs/access-patterns.md):
 * - the import `T#t#IMPORT#<id>` / `IMPORT`: status, counters, errors, the cursor (`processed`),
 *   the runner's lease; listed by `byType` `T#t#IMPORT` (admins) and `byOwner`
 *   `T#t#IMPORT#OWNER#<user>` (its creator), newest first; while unfinished also in the sparse
 *   `byDue` `DUE#IMPORT`, which the `import-runner` job sweeps;
 * - its rows, `T#t#IMPORT#<id>` / `CHUNK#<nnnnn>`: the mapped cells of consecutive data rows,
 *   at most ~300 KB an item (DynamoDB's item limit is 400 KB).
 */
import { parse } from 'csv-parse/sync';
import * as z from 'zod/mini';
import { validationFailed, DomainError } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { Identity } from '#domain/identity.ts';
import { t } from '#domain/table/keys.ts';
import { CUSTOM_ENTITIES } from '#domain/marketing/custom-fields.ts';
import type { ColumnMap, ImportEntity } from '#domain/integrations/csv-mapping.ts';

export const IMPORT_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];
export const ON_DUPLICATE = ['skip', 'update', 'fail'] as const;
export type OnDuplicate = (typeof ON_DUPLICATE)[number];
export const ENCODINGS = ['utf-8', 'gb18030'] as const;
export type CsvEncoding = (typeof ENCODINGS)[number];

/** The CSV's limits: 5 MB of bytes (as sent, in its encoding), 50,000 data rows. */
export const MAX_CSV_BYTES = 5 * 1024 * 1024;
export const MAX_ROWS = 50_000;
/** The first 1,000 row errors are kept. */
export const MAX_ERRORS = 1_000;
/** A CSV's header: at most this many columns, each of at most `f.MAX.name` characters. */
export const MAX_COLUMNS = 200;
/** A JSON body carries the CSV escaped: room for its quotes and newlines beyond the CSV's own 5 MB. */
export const MAX_JSON_IMPORT_BODY_BYTES = MAX_CSV_BYTES + 1024 * 1024;

/** Who may import which entity: admins and managers everything, marketers leads and contacts. */
export const IMPORT_ROLES: Record<ImportEntity, readonly Identity['role'][]> = {
  accounts: ['admin', 'manager'],
  contacts: ['admin', 'manager', 'marketer'],
  leads: ['admin', 'manager', 'marketer'],
};
/** Roles that may name another owner in an `ownerId` column. */
export const OWNER_COLUMN_ROLES: readonly Identity['role'][] = ['admin', 'manager'];

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const importEntity = z.lazy(() => z.enum(CUSTOM_ENTITIES));
const options = builtOnFirstUse(() => ({
  entity: importEntity,
  encoding: z.optional(z.enum(ENCODINGS)),
  onDuplicate: z._default(z.enum(ON_DUPLICATE), 'skip'),
}));

/**
 * `POST /v1/imports` with a JSON body: the CSV itself (`csv`) or the `uploadId` of a file uploaded
 * through `POST /v1/imports/uploads`, exactly one of them. `encoding` decodes an upload's bytes; a
 * `csv` string has nothing to decode (JSON text is Unicode) and the encoding is accepted as given.
 */
export const importBody = z.lazy(() =>
  z.strictObject({
    ...options(),
    // Bounded by the body's own limit (413 first); over MAX_CSV_BYTES of UTF-8 it is a 413 too (csvTooLarge).
    csv: z.optional(z.string().check(z.maxLength(MAX_JSON_IMPORT_BODY_BYTES), z.describe('the CSV text, at most 5 MiB of UTF-8 (413 beyond)'))),
    uploadId: z.optional(f.id),
    mapping: z.optional(z.record(f.text(1, 200), f.text(1, 200))),
  }),
);
export type ImportBody = z.infer<typeof importBody>;

/** `POST /v1/imports?entity=&encoding=&onDuplicate=` with the CSV as the raw body. */
export const importQuery = z.lazy(() => z.strictObject(options()));
export type ImportQuery = z.infer<typeof importQuery>;

export interface RowError {
  row: number;
  code: string;
  message: string;
}

export interface ImportCounts {
  processed: number;
  created: number;
  updated: number;
  skipped: number;
  failed: number;
}

export interface Import extends ImportCounts {
  id: string;
  entity: ImportEntity;
  status: ImportStatus;
  total: number;
  errors: RowError[];
  onDuplicate: OnDuplicate;
  encoding: CsvEncoding;
  /** The columns as they were mapped: header, field. */
  columns: ColumnMap;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  version: number;
  /** Internal: the importer as it was when it imported (every row runs as it), the row chunks, the lease. */
  importer: Identity;
  chunks: { first: number; count: number }[];
  leaseOwner?: string;
  leaseUntil?: string;
}

export const importView = z.lazy(() =>
  z.object({
    id: f.out.id,
    entity: importEntity,
    status: z.enum(IMPORT_STATUSES),
    total: z.int(),
    processed: z.int(),
    created: z.int(),
    updated: z.int(),
    skipped: z.int(),
    failed: z.int(),
    errors: z.array(z.object({ row: z.int().check(z.minimum(1), z.maximum(MAX_ROWS + 1)), code: f.out.code, message: f.out.text })).check(z.maxLength(MAX_ERRORS)),
    onDuplicate: z.enum(ON_DUPLICATE),
    encoding: z.enum(ENCODINGS),
    columns: z.array(z.object({ header: f.out.name, field: f.out.name })).check(z.maxLength(MAX_COLUMNS)),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    finishedAt: z.nullable(f.out.timestamp),
    version: z.int(),
  }),
);

// ---------------------------------------------------------------------------------------
// Keys

export const importPartition = (tenantId: string, id: string) => `${t(tenantId)}#IMPORT#${id}`;
export const importKey = (tenantId: string, id: string) => ({ PK: importPartition(tenantId, id), SK: 'IMPORT' });
export const chunkKey = (tenantId: string, id: string, n: number) => ({ PK: importPartition(tenantId, id), SK: `CHUNK#${String(n).padStart(5, '0')}` });
export const importsOfTenant = (tenantId: string) => `${t(tenantId)}#IMPORT`;
export const importsOfUser = (tenantId: string, userId: string) => `${t(tenantId)}#IMPORT#OWNER#${userId}`;
/** Unfinished imports, all tenants: what the `import-runner` job resumes. */
export const IMPORTS_DUE = 'DUE#IMPORT';

// ---------------------------------------------------------------------------------------
// The file

/**
 * Bytes → text, strictly, with the platform's WHATWG TextDecoder (Node's ICU: GB18030 and UTF-8;
 * iconv-lite would add ~700 KB of code pages to the function for one of them): bytes that are not
 * in the encoding are a 400, whose message names `encoding=gb18030` when UTF-8 was assumed (a file
 * saved by a Chinese Excel). A leading BOM is dropped.
 */
export function decodeCsv(bytes: Buffer, encoding: CsvEncoding): string {
  if (bytes.length > MAX_CSV_BYTES) throw csvTooLarge();
  try {
    return stripBom(new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    const hint = encoding === 'utf-8' ? '; a file saved by a Chinese Excel is encoding=gb18030' : '';
    throw validationFailed([{ path: 'body', message: `the CSV is not ${encoding}${hint}` }], 'The CSV cannot be decoded.');
  }
}

export const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

export const csvTooLarge = () => new DomainError(413, 'payload_too_large', `The CSV is larger than ${MAX_CSV_BYTES / 1024 / 1024} MB.`);

/** The header and the data rows (rows whose every cell is blank are no rows). 400 on a CSV that does not parse, has no header, or too many rows. */
export function parseCsv(text: string): { headers: string[]; rows: string[][] } {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, skip_empty_lines: true, bom: true }) as string[][];
  } catch (err) {
    throw validationFailed([{ path: 'body.csv', message: `not valid CSV: ${(err as Error).message}` }], 'The CSV cannot be read.');
  }
  const [headers, ...data] = records;
  if (!headers || headers.every((h) => h.trim() === '')) {
    throw validationFailed([{ path: 'body.csv', message: 'the first row must be the header' }], 'The CSV has no header.');
  }
  if (headers.length > MAX_COLUMNS || headers.some((h) => h.length > f.MAX.name)) {
    const message = `at most ${MAX_COLUMNS} columns, each header of at most ${f.MAX.name} characters`;
    throw validationFailed([{ path: 'body.csv', message }], 'The CSV header is too large.');
  }
  const rows = data.filter((cells) => cells.some((c) => c.trim() !== ''));
  if (rows.length > MAX_ROWS) {
    throw validationFailed([{ path: 'body.csv', message: `at most ${MAX_ROWS} data rows, got ${rows.length}` }], 'The CSV has too many rows.');
  }
  return { headers, rows };
}

/** Rows → chunks of at most ~300 KB of cells each (the item must stay under DynamoDB's 400 KB). */
export function chunkRows(rows: string[][], maxBytes = 300_000): string[][][] {
  const chunks: string[][][] = [];
  let current: string[][] = [];
  let size = 0;
  rows.forEach((row, i) => {
    const bytes = row.reduce((n, c) => n + Buffer.byteLength(c) + 4, 4);
    if (bytes > maxBytes) throw validationFailed([{ path: 'body.csv', message: `row ${i + 1} is larger than ${maxBytes} bytes` }], 'The CSV cannot be read.');
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += bytes;
  });
  if (current.length) chunks.push(current);
  return chunks;
}
