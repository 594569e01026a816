/**
 * Custom fields (客户画像, api/marketing.md): per tenant and entity, a set of typed field
 * definitions, and the `custom: {key: value}` values that accounts, contacts and leads carry.
 *
 * One item per tenant and entity, `T#t#FIELDS#<entity>` / `FIELDS`, holds the whole set and its
 * `version` (0 = never set). A PUT replaces the set, conditioned on the version it read, so two
 * PUTs racing each land whole, one after the other (never a mix of the two).
 *
 * Reads for validation and display go through a per-container cache (`FIELDS_CACHE_SECONDS`,
 * default 60): other containers see a change within that time; the container that wrote it sees
 * it at once (the PUT refreshes the cache, never replacing a newer version by an older one).
 *
 * Stored values are never deleted when a definition goes: a value is shown only while a
 * definition of its key exists and the value fits it (so re-adding the field with the same type
 * shows it again, and with another type keeps it hidden).
 */
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { validationFailed, versionMismatch, type FieldError } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { requireRole } from '#domain/identity.ts';
import { t } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';

export const CUSTOM_ENTITIES = ['accounts', 'contacts', 'leads'] as const;
export type CustomEntity = (typeof CUSTOM_ENTITIES)[number];
export const FIELD_TYPES = ['text', 'number', 'date', 'boolean', 'select', 'multiselect'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const MAX_FIELDS = 50;
export const MAX_TEXT_VALUE = 1000;
/** A select or multiselect field's options. */
export const MAX_OPTIONS = 100;
const KEY_PATTERN = /^[a-z][A-Za-z0-9]{0,39}$/;

export interface FieldDefinition {
  key: string;
  label: string;
  type: FieldType;
  options?: string[];
  required: boolean;
}

export interface FieldSet {
  fields: FieldDefinition[];
  /** 0 while the tenant never set this entity's fields; +1 per PUT. */
  version: number;
  updatedAt: string | null;
}

export const fieldsKey = (tenantId: string, entity: CustomEntity) => ({ PK: `${t(tenantId)}#FIELDS#${entity}`, SK: 'FIELDS' });

const distinct = (xs: string[]) => new Set(xs).size === xs.length;
const hasOptions = (type: FieldType) => type === 'select' || type === 'multiselect';

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const definition = builtOnFirstUse(() =>
  z
    .strictObject({
      key: z.string().check(z.maxLength(40), z.regex(KEY_PATTERN, 'a key starts with a lower-case letter, then up to 39 letters or digits')),
      label: f.name,
      type: z.enum(FIELD_TYPES),
      options: z.optional(
        z.array(f.text(1, f.MAX.name)).check(z.minLength(1), z.maxLength(MAX_OPTIONS), z.refine(distinct, 'options must be distinct')),
      ),
      required: z._default(z.boolean(), false),
    })
    .check(
      z.refine((d) => hasOptions(d.type) === (d.options !== undefined), {
        message: 'options are given exactly for select and multiselect fields',
        path: ['options'],
      }),
    ),
);

/** The PUT body: the whole set, replacing the one in force. */
export const fieldSetBody = z.lazy(() =>
  z.strictObject({
    fields: z.array(definition()).check(
      z.maxLength(MAX_FIELDS, `at most ${MAX_FIELDS} fields`),
      z.refine((ds: { key: string }[]) => distinct(ds.map((d) => d.key)), 'keys must be unique'),
    ),
  }),
);
export type FieldSetBody = z.infer<typeof fieldSetBody>;

export const entityParam = z.lazy(() => z.enum(CUSTOM_ENTITIES));

/** What `GET` and `PUT /v1/fields/{entity}` answer: the set in force. */
export const fieldSetView = z.lazy(() =>
  z.object({
    fields: z.array(
      z.object({
        key: f.out.code,
        label: f.out.name,
        type: z.enum(FIELD_TYPES),
        options: z.optional(z.array(f.out.name).check(z.maxLength(MAX_OPTIONS))).check(z.describe('exactly for select and multiselect')),
        required: z.boolean(),
      }),
    ).check(z.maxLength(MAX_FIELDS)),
    version: z.int().check(z.describe('0 while the tenant never set this entity\'s fields; +1 per PUT')),
    updatedAt: z.nullable(f.out.timestamp),
  }),
);

// ---------------------------------------------------------------------------------------
// Reading, with the per-container cache

const cache = new Map<string, { set: FieldSet; at: number }>();
const cacheMs = () => Number(process.env.FIELDS_CACHE_SECONDS ?? 60) * 1000;
const cacheKey = (tenantId: string, entity: CustomEntity) => `${tenantId}\u0000${entity}`;

function remember(tenantId: string, entity: CustomEntity, set: FieldSet): void {
  const k = cacheKey(tenantId, entity);
  const held = cache.get(k);
  // Two writers in one container may finish out of order: the newer version stays.
  if (held && held.set.version > set.version) return;
  cache.set(k, { set, at: Date.now() });
}

function setFromItem(item: Record<string, unknown> | undefined): FieldSet {
  return {
    fields: (item?.fields as FieldDefinition[] | undefined) ?? [],
    version: typeof item?.version === 'number' ? item.version : 0,
    updatedAt: (item?.updatedAt as string | undefined) ?? null,
  };
}

async function loadFieldSet(tenantId: string, entity: CustomEntity): Promise<FieldSet> {
  const set = setFromItem(await getItem(fieldsKey(tenantId, entity)));
  remember(tenantId, entity, set);
  return set;
}

async function cachedFieldSet(tenantId: string, entity: CustomEntity): Promise<FieldSet> {
  const hit = cache.get(cacheKey(tenantId, entity));
  if (hit && Date.now() - hit.at < cacheMs()) return hit.set;
  return loadFieldSet(tenantId, entity);
}

/** The tenant's definitions for an entity (cached ≤ 60 s per container; the writer's container sees its change at once). */
export async function fieldDefinitions(tenantId: string, entity: CustomEntity): Promise<FieldDefinition[]> {
  return (await cachedFieldSet(tenantId, entity)).fields;
}

// ---------------------------------------------------------------------------------------
// Use cases

/** Every role reads the definitions: they say what the records it reads carry. */
export async function getFieldSet(ctx: UseCaseContext, entity: CustomEntity): Promise<FieldSet> {
  return loadFieldSet(ctx.identity.tenantId, entity);
}

/** Replaces the set (admin). With If-Match, a stale version → 412. */
export async function putFieldSet(ctx: UseCaseContext, entity: CustomEntity, body: FieldSetBody, ifMatch: number | undefined): Promise<FieldSet> {
  requireRole(ctx.identity, 'admin');
  const tenantId = ctx.identity.tenantId;
  for (let attempt = 0; ; attempt++) {
    const before = await loadFieldSet(tenantId, entity);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    const next: FieldSet = {
      fields: body.fields.map((d) => ({ key: d.key, label: d.label, type: d.type, ...(d.options ? { options: d.options } : {}), required: d.required })),
      version: before.version + 1,
      updatedAt: ctx.now.toISOString(),
    };
    const uow = new UnitOfWork(ctx).put(
      { ...fieldsKey(tenantId, entity), tenantId, entityType: 'FIELDS', entity, ...next, updatedBy: ctx.identity.userId },
      {
        condition: 'attribute_not_exists(PK) OR #v = :v',
        names: { '#v': 'version' },
        values: { ':v': before.version },
        onConditionFailed: () => new FieldSetChanged(),
      },
    );
    try {
      await uow.commit(next);
      remember(tenantId, entity, next);
      return next;
    } catch (err) {
      if (!(err instanceof FieldSetChanged)) throw err;
      // Another PUT landed between our read and our write: with If-Match the client's version is stale.
      if (ifMatch !== undefined) throw versionMismatch();
      if (attempt >= 20) throw err;
    }
  }
}

class FieldSetChanged extends Error {}

// ---------------------------------------------------------------------------------------
// Values

const dateValue = f.date;

/** Why `value` does not fit `d`, or undefined when it does. */
export function valueProblem(d: FieldDefinition, value: unknown): string | undefined {
  switch (d.type) {
    case 'text':
      return typeof value === 'string' && [...value].length <= MAX_TEXT_VALUE ? undefined : `a text of at most ${MAX_TEXT_VALUE} characters`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'a finite number';
    case 'date':
      return typeof value === 'string' && dateValue.safeParse(value).success ? undefined : 'a date (YYYY-MM-DD)';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false';
    case 'select':
      return typeof value === 'string' && d.options!.includes(value) ? undefined : `one of: ${d.options!.join(', ')}`;
    case 'multiselect':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && d.options!.includes(v)) && distinct(value as string[])
        ? undefined
        : `distinct values among: ${d.options!.join(', ')}`;
  }
}

/** The stored form of a valid value: text trimmed like every string of the API. */
function stored(d: FieldDefinition, value: unknown): unknown {
  return d.type === 'text' ? (value as string).trim() : value;
}

/**
 * Validates `custom` of a create (`patch: false`: required fields must be present) or of a
 * patch (`null` clears a key, but never a required one). Errors name `body.custom.<key>`.
 * Returns the values as they will be stored (null kept for a patch: the merge clears them).
 */
export function checkCustomInput(defs: FieldDefinition[], input: Record<string, unknown> | undefined, patch: boolean): Record<string, unknown> | undefined {
  const errors: FieldError[] = [];
  const byKey = new Map(defs.map((d) => [d.key, d]));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input ?? {})) {
    const path = `body.custom.${key}`;
    const d = byKey.get(key);
    if (!d) {
      errors.push({ path, message: 'no such custom field' });
    } else if (value === null) {
      if (!patch) errors.push({ path, message: 'omit a field to leave it empty' });
      else if (d.required) errors.push({ path, message: 'a required field cannot be cleared' });
      else out[key] = null;
    } else {
      const problem = valueProblem(d, value);
      if (problem) errors.push({ path, message: `expected ${problem}` });
      else out[key] = stored(d, value);
    }
  }
  if (!patch) {
    for (const d of defs) if (d.required && !(d.key in out)) errors.push({ path: `body.custom.${d.key}`, message: 'required' });
  }
  if (errors.length) throw validationFailed(errors);
  return input === undefined ? undefined : out;
}

/** The values to show: those whose definition exists now and which fit it. */
export function visibleCustom(defs: FieldDefinition[], stored: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!stored) return out;
  for (const d of defs) {
    const v = stored[d.key];
    if (v !== undefined && valueProblem(d, v) === undefined) out[d.key] = v;
  }
  return out;
}

/**
 * What a converted lead's custom values become on the account or contact it turns into: each
 * value the lead shows (`leadDefs`) whose key the target entity also defines (`targetDefs`), with
 * a type the value fits (a field mapping by key, as CRMs map lead fields on conversion).
 */
export function carriedCustom(leadDefs: FieldDefinition[], targetDefs: FieldDefinition[], leadValues: Record<string, unknown> | undefined): Record<string, unknown> {
  const shown = visibleCustom(leadDefs, leadValues);
  const out: Record<string, unknown> = {};
  for (const d of targetDefs) {
    const v = shown[d.key];
    if (v !== undefined && valueProblem(d, v) === undefined) out[d.key] = v;
  }
  return out;
}

/** A patch's custom values merged into the stored ones, key by key (`null` clears a key; hidden values are kept). */
export function mergeCustom(before: Record<string, unknown> | undefined, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...before };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Records as clients see them: `custom` with only the visible values (default `{}`). */
export async function presentCustom<T>(tenantId: string, entity: CustomEntity, records: T[]): Promise<T[]> {
  const defs = await fieldDefinitions(tenantId, entity);
  return records.map((r) => ({ ...r, custom: visibleCustom(defs, (r as { custom?: Record<string, unknown> }).custom) }));
}
