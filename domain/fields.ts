/**
 * Field rules shared by every resource (API.md §3): trimmed, non-empty, bounded.
 * Schemas use zod's tree-shakable "mini" build: the classic build put 440 KB into
 * every Lambda bundle (see bench/README.md).
 */
import * as z from 'zod/mini';

/** A trimmed string of `min`..`max` characters. */
export const text = (min: number, max: number) => z.string().check(z.trim(), z.minLength(min), z.maxLength(max));

export const name = text(1, 200);
export const shortText = text(1, 200);
export const freeText = text(0, 10_000);
/** A record's or a user's id; an API key acts as the user `apikey:<id>` (domain/integrations/api-key.ts). */
export const id = text(1, 128).check(z.regex(/^(apikey:)?[A-Za-z0-9_.@-]+$/, 'not a valid id'));
export const email = z.pipe(z.string().check(z.trim(), z.maxLength(254), z.email()), z.transform((s: string) => s.toLowerCase()));
export const phone = text(3, 40).check(z.regex(/^[+\d][\d\s().-]*$/, 'not a phone number'));
export const tag = text(1, 50);
export const tags = z.pipe(z.array(tag).check(z.maxLength(100)), z.transform((t: string[]) => [...new Set(t)]));
export const timestamp = z.pipe(z.iso.datetime({ offset: true }), z.transform((s: string) => new Date(s).toISOString()));
export const date = z.iso.date();
/**
 * `custom` of accounts, contacts and leads: an object here; its values are typed against the
 * tenant's field definitions by functions/middleware/custom-fields.ts (domain/marketing/custom-fields.ts).
 */
export const customValues = z.optional(z.record(z.string().check(z.maxLength(100)), z.unknown()));

/** Query-string integer, e.g. `limit`. */
export const queryInt = (min: number, max: number) => z.pipe(z.coerce.number(), z.int().check(z.minimum(min), z.maximum(max)));

type Unwrapped<T> = T extends z.ZodMiniOptional<infer I> ? I : T extends z.ZodMiniDefault<infer I> ? I : T;
type PatchShape<S extends Record<string, z.ZodMiniType>, C extends keyof S> = {
  [K in keyof S]: K extends C ? z.ZodMiniOptional<z.ZodMiniNullable<Unwrapped<S[K]>>> : z.ZodMiniOptional<Unwrapped<S[K]>>;
};

/** For PATCH: every field optional, and the optional ones (`clearable`) also accept null, which clears them. */
export function patchOf<S extends Record<string, z.ZodMiniType>, C extends keyof S>(shape: S, clearable: C[]) {
  const out: Record<string, z.ZodMiniType> = {};
  for (const [k, v] of Object.entries(shape)) {
    const base = v instanceof z.ZodMiniOptional || v instanceof z.ZodMiniDefault ? (v.def.innerType as z.ZodMiniType) : v;
    out[k] = clearable.includes(k as C) ? z.optional(z.nullable(base)) : z.optional(base);
  }
  return z.strictObject(out as unknown as PatchShape<S, C>);
}

/** A list's answer (API.md §3 paging): what `Operation.response` names for every list route. */
export const pageOf = <T extends z.ZodMiniType>(item: T) => z.object({ items: z.array(item), nextCursor: z.nullable(z.string()) });

// ---------------------------------------------------------------------------------------
// Answers (`Operation.response`): what clients get back. Plain `z.object`s, so attributes
// they do not name (keys, internal counters) are dropped; no transforms, so the OpenAPI
// document can describe them as they are sent.

/** The fields every stored resource answers with (API.md §3). */
export const storedFields = {
  id: z.string(),
  createdAt: z.string().check(z.describe('ISO-8601 UTC')),
  updatedAt: z.string().check(z.describe('ISO-8601 UTC')),
  version: z.int().check(z.describe('starts at 1, +1 per change; the ETag')),
};

/** `custom` as answered: the values whose definitions exist now (functions/middleware/custom-fields.ts). */
export const customOut = z.optional(z.record(z.string(), z.unknown()));
