/**
 * CSV export (api/integrations.md): `GET /v1/exports/{entity}.csv?<the list's filters>` → the
 * records the caller may see, through the entity's own list use case page by page (so its
 * visibility rules and filters hold as they do for `GET /v1/<entity>`), as UTF-8 with a BOM
 * (Excel then reads Chinese text right), headed by field names: an export imports back as is.
 *
 * A large file does not fit in an answer (Lambda's response limit is 6 MB, and 50,000 rows can pass
 * it): it is stored (upload-store.ts: S3 in the cloud, a local folder otherwise) and answered as a
 * link, a URL that downloads it for 15 minutes. Also when the caller asks for the link (`link`).
 */
import { stringify } from 'csv-stringify/sync';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { requireRole, type Role } from '#domain/identity.ts';
import type { Page, PageRequest } from '#domain/table/query.ts';
import { LIFECYCLE_STAGES, TIERS } from '#domain/accounts/account.ts';
import { listAccounts } from '#domain/accounts/accounts.ts';
import { listContacts } from '#domain/accounts/contacts.ts';
import { LEAD_STATUSES } from '#domain/sales/lead.ts';
import { listLeads } from '#domain/sales/leads.ts';
import { presentCustom, fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { newId } from '#domain/records.ts';
import type { ImportEntity } from '#domain/integrations/csv-mapping.ts';
import { MAX_ROWS } from '#domain/integrations/import.ts';
import { EXPORT_CONTENT_TYPE, uploadStore } from '#domain/integrations/upload-store.ts';

export const EXPORT_ROLES: Role[] = ['admin', 'manager', 'marketer'];
export const EXPORT_FILES = ['accounts.csv', 'contacts.csv', 'leads.csv'] as const;
// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const exportParams = z.lazy(() => z.strictObject({ file: z.enum(EXPORT_FILES) }));

/** Each entity's list filters, as its list route takes them. */
export const EXPORT_FILTERS = {
  accounts: z.lazy(() =>
    z.strictObject({
      ownerId: z.optional(f.id),
      tier: z.optional(z.enum(TIERS)),
      lifecycleStage: z.optional(z.enum(LIFECYCLE_STAGES)),
      tag: z.optional(f.tag),
      q: z.optional(f.text(1, 200)),
    }),
  ),
  contacts: z.lazy(() => z.strictObject({ accountId: z.optional(f.id), tag: z.optional(f.tag), q: z.optional(f.text(1, 200)) })),
  leads: z.lazy(() =>
    z.strictObject({
      ownerId: z.optional(f.id),
      status: z.optional(z.enum(LEAD_STATUSES)),
      campaignId: z.optional(f.id),
      q: z.optional(f.text(1, 200)),
    }),
  ),
} satisfies Record<ImportEntity, z.ZodMiniType>;

/** The columns, in order: the record's id, the fields an import takes (so it imports back), then its times. */
const COLUMNS: Record<ImportEntity, string[]> = {
  accounts: ['id', 'name', 'domain', 'email', 'phone', 'industry', 'tier', 'lifecycleStage', 'tags', 'address', 'description', 'ownerId', 'poolStatus', 'createdAt', 'updatedAt'],
  contacts: ['id', 'accountId', 'name', 'email', 'phone', 'title', 'tags', 'ownerId', 'createdAt', 'updatedAt'],
  leads: ['id', 'name', 'company', 'title', 'email', 'phone', 'source', 'status', 'disqualifiedReason', 'description', 'tags', 'campaignId', 'ownerId', 'createdAt', 'updatedAt'],
};

type Rec = Record<string, unknown>;
type Lister = (ctx: UseCaseContext, filters: never, page: PageRequest) => Promise<Page<unknown>>;
const LISTS: Record<ImportEntity, Lister> = { accounts: listAccounts, contacts: listContacts, leads: listLeads };

export const tooManyRows = () => new DomainError(413, 'payload_too_large', `An export holds at most ${MAX_ROWS} rows; narrow it with the list's filters.`);

export interface CsvFile {
  contentType: string;
  text: string;
  filename: string;
}

/** How long an export's link downloads it. */
export const EXPORT_URL_SECONDS = 15 * 60;
/**
 * The largest file answered inline, measured as Lambda returns it (the body JSON-escaped in its
 * result): 5 MB leaves room for the envelope under the 6 MB limit. `EXPORT_INLINE_MAX_BYTES` lowers
 * it (to try the link locally without 50,000 rows).
 */
export const inlineExportLimit = () => Number(process.env.EXPORT_INLINE_MAX_BYTES ?? 5 * 1024 * 1024);

/** A stored export: where to download it, until when, and what it holds. */
export const exportLinkView = z.lazy(() =>
  z
    .object({
      url: f.upTo(f.MAX.presignedUrl).check(z.describe('Downloads the CSV (UTF-8 with a BOM) with a GET and no other credential, until expiresAt.')),
      expiresAt: f.out.timestamp,
      filename: f.out.name,
      rows: z.int().check(z.minimum(0), z.maximum(MAX_ROWS)),
      bytes: z.int().check(z.minimum(0)),
    })
    .check(z.meta({ id: 'ExportLink' })),
);
export type ExportLink = z.infer<typeof exportLinkView>;

export type ExportAnswer = { file: CsvFile } | { link: ExportLink };

/** `link`: store the file and answer its link whatever its size (the caller asked for JSON). */
export async function exportCsv(ctx: UseCaseContext, entity: ImportEntity, filters: Rec, opts: { link?: boolean } = {}): Promise<ExportAnswer> {
  requireRole(ctx.identity, ...EXPORT_ROLES);
  const records: Rec[] = [];
  const scope = { tenantId: ctx.identity.tenantId, userId: ctx.identity.userId, query: `export:${entity}` };
  let cursor: string | undefined;
  do {
    const page = await LISTS[entity](ctx, filters as never, { scope, limit: 100, cursor });
    records.push(...(page.items as Rec[]));
    if (records.length > MAX_ROWS) throw tooManyRows();
    cursor = page.nextCursor ?? undefined;
  } while (cursor);

  const defs = await fieldDefinitions(ctx.identity.tenantId, entity);
  const shown = await presentCustom(ctx.identity.tenantId, entity, records);
  const customColumns = defs.map((d) => `custom.${d.key}`);
  const rows = shown.map((r) => [
    ...COLUMNS[entity].map((c) => cell(r[c])),
    ...defs.map((d) => cell((r.custom as Rec | undefined)?.[d.key])),
  ]);
  const text = `\uFEFF${stringify([[...COLUMNS[entity], ...customColumns], ...rows], { record_delimiter: 'windows' })}`;
  const filename = `${entity}.csv`;
  if (!opts.link && Buffer.byteLength(JSON.stringify(text)) <= inlineExportLimit()) return { file: { contentType: EXPORT_CONTENT_TYPE, text, filename } };

  const store = uploadStore();
  const exportId = newId(ctx);
  const bytes = Buffer.from(text);
  await store.putExport(ctx.identity.tenantId, exportId, bytes, filename);
  const url = await store.presignGet(ctx.identity.tenantId, exportId, filename, ctx.now, EXPORT_URL_SECONDS);
  const expiresAt = new Date(ctx.now.getTime() + EXPORT_URL_SECONDS * 1000).toISOString();
  return { link: { url, expiresAt, filename, rows: rows.length, bytes: bytes.length } };
}

/** Lists (tags, multiselect values) as `a;b`, the way an import splits them; nothing as an empty cell. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(';');
  return String(v);
}
