/**
 * CSV header → record field (api/integrations.md "CSV import"). A header maps when it is a
 * field's name (any case), `custom.<key>`, or one of the field's aliases (English and Chinese:
 * what a Chinese Excel export of another CRM tends to call it). An explicit `mapping`
 * `{header: field}` wins over the guess; columns that map to nothing are ignored.
 */
import { validationFailed, type FieldError } from '#domain/errors.ts';
import type { CustomEntity } from '#domain/marketing/custom-fields.ts';

export type ImportEntity = CustomEntity;

/** The fields a row may set, per entity: those of the create route (domain/accounts/account.ts, contact.ts, domain/sales/lead.ts). */
export const IMPORT_FIELDS: Record<ImportEntity, readonly string[]> = {
  accounts: ['name', 'domain', 'email', 'phone', 'industry', 'tier', 'lifecycleStage', 'tags', 'address', 'description', 'ownerId'],
  contacts: ['accountId', 'name', 'email', 'phone', 'title', 'tags', 'ownerId'],
  leads: ['name', 'company', 'title', 'email', 'phone', 'source', 'status', 'disqualifiedReason', 'description', 'tags', 'campaignId', 'ownerId'],
};

/** Aliases, compared after `headerKey`. Where a word means different fields per entity (公司), the entity's table decides. */
const COMMON_ALIASES: Record<string, string> = {
  名称: 'name', 名字: 'name', 姓名: 'name',
  邮箱: 'email', 电子邮件: 'email', 电子邮箱: 'email', 邮件: 'email', 'e-mail': 'email', mail: 'email',
  电话: 'phone', 手机: 'phone', 手机号: 'phone', 手机号码: 'phone', 联系电话: 'phone', 电话号码: 'phone', mobile: 'phone', tel: 'phone', telephone: 'phone',
  标签: 'tags', tag: 'tags',
  负责人: 'ownerId', 所有者: 'ownerId', 归属人: 'ownerId', owner: 'ownerId',
  描述: 'description', 备注: 'description', 说明: 'description',
};

const ENTITY_ALIASES: Record<ImportEntity, Record<string, string>> = {
  accounts: {
    客户名称: 'name', 公司: 'name', 公司名称: 'name', 企业名称: 'name', 客户: 'name', company: 'name',
    网址: 'domain', 网站: 'domain', 官网: 'domain', 域名: 'domain', website: 'domain', url: 'domain',
    行业: 'industry', 所属行业: 'industry',
    等级: 'tier', 级别: 'tier', 客户等级: 'tier', 客户级别: 'tier',
    阶段: 'lifecycleStage', 生命周期: 'lifecycleStage', 客户阶段: 'lifecycleStage', lifecycle: 'lifecycleStage',
    地址: 'address', 公司地址: 'address',
  },
  contacts: {
    联系人: 'name', 联系人姓名: 'name',
    职位: 'title', 职务: 'title', 头衔: 'title',
    客户id: 'accountId', 客户编号: 'accountId', account: 'accountId',
  },
  leads: {
    线索名称: 'name',
    公司: 'company', 公司名称: 'company', 企业名称: 'company', 单位: 'company',
    职位: 'title', 职务: 'title', 头衔: 'title',
    来源: 'source', 线索来源: 'source', 渠道: 'source',
    状态: 'status', 线索状态: 'status',
    活动id: 'campaignId', campaign: 'campaignId',
  },
};

/** A header as compared: BOM and spaces gone, full-width folded (NFKC), lower case. */
export function headerKey(header: string): string {
  return header.replace(/^\uFEFF/, '').normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

const CUSTOM_PREFIX = 'custom.';

/** The field a header names by itself, or undefined. */
export function guessField(entity: ImportEntity, header: string): string | undefined {
  const key = headerKey(header);
  if (key.startsWith(CUSTOM_PREFIX)) {
    const custom = header.replace(/^\uFEFF/, '').trim().slice(CUSTOM_PREFIX.length);
    return custom ? `${CUSTOM_PREFIX}${custom}` : undefined;
  }
  const field = IMPORT_FIELDS[entity].find((f) => f.toLowerCase() === key);
  return field ?? ENTITY_ALIASES[entity][key] ?? COMMON_ALIASES[key];
}

/** Column index → field, as the import will apply it. */
export type ColumnMap = { column: number; header: string; field: string }[];

/**
 * Maps the header row: the explicit mapping first (by header, exactly or by `headerKey`), then
 * the guess. Refuses (400) a mapping to an unknown field, two columns for one field, no `name`
 * column, and custom fields the tenant has not defined when named explicitly (a guessed one is
 * simply ignored, as an unmapped column).
 */
export function mapColumns(
  entity: ImportEntity,
  headers: string[],
  explicit: Record<string, string> | undefined,
  customKeys: ReadonlySet<string>,
): ColumnMap {
  const errors: FieldError[] = [];
  const known = new Set(IMPORT_FIELDS[entity]);
  const explicitByKey = new Map(Object.entries(explicit ?? {}).map(([h, f]) => [headerKey(h), f]));
  for (const [header, field] of Object.entries(explicit ?? {})) {
    const custom = field.startsWith(CUSTOM_PREFIX) ? field.slice(CUSTOM_PREFIX.length) : undefined;
    if (custom !== undefined ? !customKeys.has(custom) : !known.has(field)) {
      errors.push({ path: `body.mapping.${header}`, message: `not a field of ${entity}: ${field}` });
    }
    if (!headers.some((h) => headerKey(h) === headerKey(header))) {
      errors.push({ path: `body.mapping.${header}`, message: 'no column has this header' });
    }
  }
  const out: ColumnMap = [];
  const taken = new Map<string, string>();
  headers.forEach((header, column) => {
    const named = explicitByKey.get(headerKey(header));
    let field = named ?? guessField(entity, header);
    if (field === undefined) return;
    if (named === undefined && field.startsWith(CUSTOM_PREFIX) && !customKeys.has(field.slice(CUSTOM_PREFIX.length))) return;
    if (named === undefined && !field.startsWith(CUSTOM_PREFIX) && !known.has(field)) field = undefined;
    if (field === undefined) return;
    const before = taken.get(field);
    if (before !== undefined) {
      errors.push({ path: 'body.csv', message: `columns "${before}" and "${header}" both map to ${field}` });
      return;
    }
    taken.set(field, header);
    out.push({ column, header, field });
  });
  if (!taken.has('name')) errors.push({ path: 'body.csv', message: 'no column maps to name (a header "name" or "名称", or a mapping)' });
  if (errors.length) throw validationFailed(errors, 'The CSV header cannot be mapped.');
  return out;
}

/** `tags` cells: separated by `;` or the full-width `；`, blanks dropped. */
export const splitList = (cell: string) => cell.split(/[;；]/).map((s) => s.trim()).filter(Boolean);
