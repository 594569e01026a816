/**
 * CSV export (api/integrations.md): `GET /v1/exports/{entity}.csv?<the list's filters>` → the
 * records the caller may see, through the entity's own list use case page by page (so its
 * visibility rules and filters hold as they do for `GET /v1/<entity>`), as UTF-8 with a BOM
 * (Excel then reads Chinese text right), headed by field names: an export imports back as is.
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
import type { ImportEntity } from '#domain/integrations/csv-mapping.ts';
import { MAX_ROWS } from '#domain/integrations/import.ts';

export const EXPORT_ROLES: Role[] = ['admin', 'manager', 'marketer'];
export const EXPORT_FILES = ['accounts.csv', 'contacts.csv', 'leads.csv'] as const;
export const exportParams = z.strictObject({ file: z.enum(EXPORT_FILES) });

/** Each entity's list filters, as its list route takes them. */
export const EXPORT_FILTERS = {
  accounts: z.strictObject({
    ownerId: z.optional(f.id),
    tier: z.optional(z.enum(TIERS)),
    lifecycleStage: z.optional(z.enum(LIFECYCLE_STAGES)),
    tag: z.optional(f.tag),
    q: z.optional(f.text(1, 200)),
  }),
  contacts: z.strictObject({ accountId: z.optional(f.id), tag: z.optional(f.tag), q: z.optional(f.text(1, 200)) }),
  leads: z.strictObject({
    ownerId: z.optional(f.id),
    status: z.optional(z.enum(LEAD_STATUSES)),
    campaignId: z.optional(f.id),
    q: z.optional(f.text(1, 200)),
  }),
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

export async function exportCsv(ctx: UseCaseContext, entity: ImportEntity, filters: Rec): Promise<CsvFile> {
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
  const text = stringify([[...COLUMNS[entity], ...customColumns], ...rows], { record_delimiter: 'windows' });
  return { contentType: 'text/csv; charset=utf-8', text: `\uFEFF${text}`, filename: `${entity}.csv` };
}

/** Lists (tags, multiselect values) as `a;b`, the way an import splits them; nothing as an empty cell. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(';');
  return String(v);
}
