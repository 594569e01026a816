/**
 * Custom field values (api/marketing.md "Custom fields"), once for every route that takes or
 * answers accounts, contacts or leads: the body's `custom` is typed against the tenant's
 * definitions of the moment (after the route's strict schema), and every record in the result
 * shows only the values whose definitions exist now.
 */
import {
  checkCustomInput,
  fieldDefinitions,
  presentCustom,
  type CustomEntity,
} from '#domain/marketing/custom-fields.ts';

export interface CustomFieldsUse {
  /** The body creates a record (required fields must be there) or patches one (`null` clears a key). */
  input?: 'create' | 'patch';
  /** Which entity the result's records are: the result itself or its page `items`; or, by result key, its parts (Customer 360). */
  shows: CustomEntity | Record<string, CustomEntity>;
}

const inputEntity = (use: CustomFieldsUse) => (typeof use.shows === 'string' ? use.shows : undefined);

export async function applyCustomInput<B>(tenantId: string, use: CustomFieldsUse, body: B): Promise<B> {
  const entity = inputEntity(use);
  if (!use.input || !entity || !body || typeof body !== 'object') return body;
  const given = (body as { custom?: Record<string, unknown> }).custom;
  if (use.input === 'patch' && given === undefined) return body;
  const defs = await fieldDefinitions(tenantId, entity);
  const custom = checkCustomInput(defs, given, use.input === 'patch') ?? {};
  return { ...body, custom };
}

type Rec = Record<string, unknown>;

/** One record, a page of them, or an array of them. */
async function presentPart(tenantId: string, entity: CustomEntity, part: unknown): Promise<unknown> {
  if (Array.isArray(part)) return presentCustom(tenantId, entity, part as Rec[]);
  if (!part || typeof part !== 'object') return part;
  const items = (part as { items?: unknown }).items;
  if (Array.isArray(items)) return { ...part, items: await presentCustom(tenantId, entity, items as Rec[]) };
  return (await presentCustom(tenantId, entity, [part as Rec]))[0];
}

export async function presentCustomIn(tenantId: string, use: CustomFieldsUse, result: unknown): Promise<unknown> {
  if (result === undefined || result === null) return result;
  if (typeof use.shows === 'string') return presentPart(tenantId, use.shows, result);
  const out: Rec = { ...(result as Rec) };
  for (const [key, entity] of Object.entries(use.shows)) {
    if (key in out) out[key] = await presentPart(tenantId, entity, out[key]);
  }
  return out;
}
