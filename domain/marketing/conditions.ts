/**
 * The condition language of segments (api/marketing.md "Segments"): which fields a segment of
 * contacts or leads may test, with which ops and values; validation with errors naming
 * `body.conditions.<i>.field|op|value`; evaluation against one record (and its account).
 *
 * Ops per custom field type (the contract's table, made precise):
 *   text        eq, in, contains (substring, case-insensitive), exists, notExists
 *   number      eq, in, gt, lt, exists, notExists
 *   date        eq, in, before, after, exists, notExists
 *   boolean     eq, exists, notExists
 *   select      eq, in (options), exists, notExists
 *   multiselect eq (the same set of options), in (holds any of them), contains (holds this one), exists, notExists
 * A custom value counts only while its definition exists and the value fits it (as in responses):
 * a removed field `notExists` on every record.
 */
import * as z from 'zod/mini';
import { validationFailed, type FieldError } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { LIFECYCLE_STAGES, TIERS } from '#domain/accounts/account.ts';
import { LEAD_STATUSES } from '#domain/sales/lead.ts';
import { valueProblem, visibleCustom, type FieldDefinition } from '#domain/marketing/custom-fields.ts';

export const SEGMENT_ENTITIES = ['contacts', 'leads'] as const;
export type SegmentEntity = (typeof SEGMENT_ENTITIES)[number];
export const OPS = ['eq', 'in', 'contains', 'notContains', 'exists', 'notExists', 'gt', 'lt', 'before', 'after'] as const;
export type Op = (typeof OPS)[number];
export const MAX_CONDITIONS = 20;

export interface Condition {
  field: string;
  op: Op;
  value?: unknown;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** The body shape of one condition; `value` is typed by field and op in `checkConditions`. */
export const conditionInput = z.lazy(() =>
  z.strictObject({
    field: f.text(1, 100),
    op: z.enum(OPS),
    value: z.optional(z.unknown()),
  }),
);
export const conditionsInput = z.lazy(() => z.array(conditionInput).check(z.minLength(1), z.maxLength(MAX_CONDITIONS)));

/** A value schema; `undefined` means the op takes no value. */
type ValueRule = z.ZodMiniType | undefined;
const many = (one: z.ZodMiniType) => z.array(one).check(z.minLength(1), z.maxLength(100));
const enumOf = (values: readonly string[]) => z.enum(values as [string, ...string[]]);
const presence = { exists: undefined, notExists: undefined } as const;

/** Built-in fields: op → value rule. */
function builtinFields(entity: SegmentEntity): Record<string, Partial<Record<Op, ValueRule>>> {
  const common = {
    tags: { contains: f.tag, notContains: f.tag },
    ownerId: { eq: f.id, in: many(f.id) },
    email: presence,
    phone: presence,
    createdAt: { before: f.timestamp, after: f.timestamp },
  };
  if (entity === 'contacts') {
    const accountEnum = (values: readonly string[]) => ({ eq: enumOf(values), in: many(enumOf(values)), ...presence });
    return {
      ...common,
      'account.tier': accountEnum(TIERS),
      'account.lifecycleStage': accountEnum(LIFECYCLE_STAGES),
      'account.industry': { eq: f.shortText, in: many(f.shortText), ...presence },
      'account.tags': { contains: f.tag, notContains: f.tag },
    };
  }
  return {
    ...common,
    status: { eq: enumOf(LEAD_STATUSES), in: many(enumOf(LEAD_STATUSES)) },
    source: { eq: f.shortText, in: many(f.shortText) },
    campaignId: { eq: f.id },
  };
}

// Built once per entity, not on every segment write.
const builtinFieldsOf = { contacts: builtOnFirstUse(() => builtinFields('contacts')), leads: builtOnFirstUse(() => builtinFields('leads')) } satisfies Record<SegmentEntity, unknown>;

/** Ops of a custom field by its type; a value rule `'field'` takes one value the field itself accepts. */
const CUSTOM_OPS: Record<FieldDefinition['type'], Op[]> = {
  text: ['eq', 'in', 'contains', 'exists', 'notExists'],
  number: ['eq', 'in', 'gt', 'lt', 'exists', 'notExists'],
  date: ['eq', 'in', 'before', 'after', 'exists', 'notExists'],
  boolean: ['eq', 'exists', 'notExists'],
  select: ['eq', 'in', 'exists', 'notExists'],
  multiselect: ['eq', 'in', 'contains', 'exists', 'notExists'],
};

/** The definition a multiselect's single option (`contains`, `in`) is checked against. */
const oneOptionOf = (d: FieldDefinition): FieldDefinition => (d.type === 'multiselect' ? { ...d, type: 'select' } : d);

function customValueProblem(d: FieldDefinition, op: Op, value: unknown): string | undefined {
  if (op === 'exists' || op === 'notExists') return value === undefined ? undefined : 'this op takes no value';
  if (value === undefined) return 'a value is required';
  if (op === 'in') {
    if (!Array.isArray(value) || value.length < 1 || value.length > 100) return 'a list of 1 to 100 values';
    const one = oneOptionOf(d);
    const bad = value.map((v) => valueProblem(one, v)).find(Boolean);
    return bad ? `each value: ${bad}` : undefined;
  }
  if (op === 'contains') {
    if (d.type === 'text') return typeof value === 'string' && value.length > 0 && value.length <= 1000 ? undefined : 'a text';
    return valueProblem(oneOptionOf(d), value);
  }
  return valueProblem(d, value);
}

/**
 * Validates conditions for a segment of `entity` against the custom definitions in force;
 * returns them normalized (values parsed: timestamps as ISO UTC, strings trimmed).
 */
export function checkConditions(entity: SegmentEntity, defs: FieldDefinition[], conditions: Condition[]): Condition[] {
  const errors: FieldError[] = [];
  const builtins = builtinFieldsOf[entity]();
  const byKey = new Map(defs.map((d) => [d.key, d]));
  const out: Condition[] = [];
  conditions.forEach((c, i) => {
    const at = (part: string) => `body.conditions.${i}.${part}`;
    if (c.field.startsWith('custom.')) {
      const d = byKey.get(c.field.slice('custom.'.length));
      if (!d) return void errors.push({ path: at('field'), message: `no custom field ${c.field.slice(7)} on ${entity}` });
      if (!CUSTOM_OPS[d.type].includes(c.op)) {
        return void errors.push({ path: at('op'), message: `a ${d.type} field takes ${CUSTOM_OPS[d.type].join(', ')}` });
      }
      const problem = customValueProblem(d, c.op, c.value);
      if (problem) return void errors.push({ path: at('value'), message: problem });
      const value = d.type === 'text' && typeof c.value === 'string' ? c.value.trim() : c.value;
      return void out.push(value === undefined ? { field: c.field, op: c.op } : { field: c.field, op: c.op, value });
    }
    const ops = builtins[c.field];
    if (!ops) return void errors.push({ path: at('field'), message: `not a field a segment of ${entity} can test` });
    if (!(c.op in ops)) return void errors.push({ path: at('op'), message: `${c.field} takes ${Object.keys(ops).join(', ')}` });
    const rule = ops[c.op];
    if (rule === undefined) {
      if (c.value !== undefined) return void errors.push({ path: at('value'), message: 'this op takes no value' });
      return void out.push({ field: c.field, op: c.op });
    }
    const parsed = rule.safeParse(c.value);
    if (!parsed.success) return void errors.push({ path: at('value'), message: parsed.error.issues[0]?.message ?? 'not a valid value' });
    out.push({ field: c.field, op: c.op, value: parsed.data });
  });
  if (errors.length) throw validationFailed(errors);
  return out;
}

export const usesAccount = (conditions: Condition[]) => conditions.some((c) => c.field.startsWith('account.'));

type Item = Record<string, unknown>;

/** The value a condition's field has on a record (its account for `account.*`; visible custom values only). */
function fieldValue(field: string, record: Item, account: Item | undefined, custom: Record<string, unknown>): unknown {
  if (field.startsWith('custom.')) return custom[field.slice(7)];
  if (field.startsWith('account.')) return account?.[field.slice(8)];
  return record[field];
}

const present = (v: unknown) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
const sameSet = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((x) => b.includes(x));

function holds(c: Condition, v: unknown): boolean {
  switch (c.op) {
    case 'exists':
      return present(v);
    case 'notExists':
      return !present(v);
    case 'eq':
      return Array.isArray(v) && Array.isArray(c.value) ? sameSet(v, c.value) : v === c.value;
    case 'in': {
      const options = c.value as unknown[];
      return Array.isArray(v) ? v.some((x) => options.includes(x)) : v !== undefined && options.includes(v);
    }
    case 'contains':
      if (Array.isArray(v)) return v.includes(c.value);
      return typeof v === 'string' && v.toLowerCase().includes(String(c.value).toLowerCase());
    case 'notContains':
      return !(Array.isArray(v) && v.includes(c.value));
    case 'gt':
      return typeof v === 'number' && v > (c.value as number);
    case 'lt':
      return typeof v === 'number' && v < (c.value as number);
    case 'before':
      return typeof v === 'string' && v < (c.value as string);
    case 'after':
      return typeof v === 'string' && v > (c.value as string);
  }
}

/** Does the record match? `defs`: the entity's custom definitions now; `account`: a contact's account, if any. */
export function matches(
  rule: { match: 'all' | 'any'; conditions: Condition[] },
  defs: FieldDefinition[],
  record: Item,
  account: Item | undefined,
): boolean {
  const custom = visibleCustom(defs, record.custom as Record<string, unknown> | undefined);
  const test = (c: Condition) => holds(c, fieldValue(c.field, record, account, custom));
  return rule.match === 'all' ? rule.conditions.every(test) : rule.conditions.some(test);
}
