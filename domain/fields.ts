/**
 * Field rules shared by every resource (API.md §3): trimmed, non-empty, bounded.
 * Schemas use zod's tree-shakable "mini" build: the classic build put 440 KB into
 * every Lambda bundle (see bench/README.md).
 *
 * Schemas are built on first use. A module's exported schemas are `z.lazy(() => …)` and a field
 * map shared by several of them is `builtOnFirstUse(() => ({ … }))`, so no module outside this one
 * calls a zod constructor at its top level: a cold start builds only the schemas its request
 * needs. Building every schema of every imported module at load was a third of a function's
 * start-up (issue 11 point 6, docs/api-decisions.md "Lean bundles"). This file's bricks are the
 * exception: few, and needed by nearly every request.
 */
import * as z from 'zod/mini';
import { builtOnRead } from '#domain/built-on-first-use.ts';

/**
 * The bounds every string and list keeps (OWASP API4:2023, unrestricted resource consumption):
 * what a client may send, and so at least what an answer may carry. One place, so a body's limit
 * and the answer's limit cannot drift apart.
 */
export const MAX = {
  /** A record's or a user's id (ULIDs are 26; imported and API-key ids are longer). */
  id: 128,
  name: 200,
  shortText: 200,
  /** Notes, descriptions, reasons, comments. */
  freeText: 10_000,
  /** A whole document: an email's HTML or text, an article's Markdown body. */
  document: 100_000,
  /** An email subject (RFC 5322's line limit). */
  subject: 998,
  /** RFC 5321: 64 for the local part + @ + 189 for the domain. */
  email: 254,
  phone: 40,
  /** A DNS name. */
  domain: 253,
  url: 2048,
  /** A presigned S3 address: its query carries the signing role's session token, so it is longer than a plain URL. */
  presignedUrl: 8192,
  /** A machine word: an enum-like code, a currency, a period, a time zone, a key name. */
  code: 64,
  /** An ISO-8601 date or date-time (`toISOString()` gives 24; an offset form up to 35). */
  timestamp: 40,
  tag: 50,
  tags: 100,
  /** A list page's items (`limit`), and a paging cursor's length. */
  page: 100,
  cursor: 2048,
  /**
   * A public route's path token: a signed token of domain/marketing/tokens.ts is well under it
   * (ids of at most 128 characters, base64url, a 16-byte tag); a longer one is a bad link (404).
   */
  token: 1024,
  /** A key of a free-form object (`custom`). */
  customKey: 100,
} as const;

/** A trimmed string of `min`..`max` characters. */
export const text = (min: number, max: number) => z.string().check(z.trim(), z.minLength(min), z.maxLength(max));

export const name = z.lazy(() => text(1, MAX.name));
export const shortText = z.lazy(() => text(1, MAX.shortText));
export const freeText = z.lazy(() => text(0, MAX.freeText));
/** A record's or a user's id; an API key acts as the user `apikey:<id>` (domain/integrations/api-key.ts). */
export const id = z.lazy(() => text(1, MAX.id).check(z.regex(/^(apikey:)?[A-Za-z0-9_.@-]+$/, 'not a valid id')));
export const email = z.lazy(() => z.pipe(z.string().check(z.trim(), z.maxLength(MAX.email), z.email()), z.transform((s: string) => s.toLowerCase())));
export const phone = z.lazy(() => text(3, MAX.phone).check(z.regex(/^[+\d][\d\s().-]*$/, 'not a phone number')));
export const tag = z.lazy(() => text(1, MAX.tag));
export const tags = z.lazy(() => z.pipe(z.array(tag).check(z.maxLength(MAX.tags)), z.transform((t: string[]) => [...new Set(t)])));
export const timestamp = z.lazy(() => z.pipe(z.iso.datetime({ offset: true }).check(z.maxLength(MAX.timestamp)), z.transform((s: string) => new Date(s).toISOString())));
export const date = z.lazy(() => z.iso.date().check(z.maxLength(10)));
/**
 * `custom` of accounts, contacts and leads: an object here; its values are typed against the
 * tenant's field definitions by functions/middleware/custom-fields.ts (domain/marketing/custom-fields.ts).
 */
export const customValues = z.lazy(() => z.optional(z.record(z.string().check(z.maxLength(MAX.customKey)), z.unknown())));

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
export const pageOf = <T extends z.ZodMiniType>(item: T) =>
  z.object({ items: z.array(item).check(z.maxLength(MAX.page)), nextCursor: z.nullable(upTo(MAX.cursor)) });

// ---------------------------------------------------------------------------------------
// Answers (`Operation.response`): what clients get back. Plain `z.object`s, so attributes
// they do not name (keys, internal counters) are dropped; no transforms, so the OpenAPI
// document can describe them as they are sent.

/** An answer's string of at most `max` characters: sent as stored, so no trim and no minimum. */
export const upTo = (max: number) => z.string().check(z.maxLength(max));

/**
 * Answer strings by what they hold. Each bound is at least the bound of what a body may send
 * for it (an answer is parsed with its schema: a stored value over the bound would be a 500).
 */
export const out = builtOnRead({
  id: () => upTo(MAX.id),
  name: () => upTo(MAX.name),
  text: () => upTo(MAX.freeText),
  document: () => upTo(MAX.document),
  subject: () => upTo(MAX.subject),
  email: () => upTo(MAX.email),
  phone: () => upTo(MAX.phone),
  domain: () => upTo(MAX.domain),
  url: () => upTo(MAX.url),
  code: () => upTo(MAX.code),
  timestamp: () => upTo(MAX.timestamp),
  tags: () => z.array(upTo(MAX.tag)).check(z.maxLength(MAX.tags)),
  ids: () => (max: number) => z.array(upTo(MAX.id)).check(z.maxLength(max)),
});

/** The fields every stored resource answers with (API.md §3). */
export const storedFields = builtOnRead({
  id: () => out.id,
  createdAt: () => out.timestamp.check(z.describe('ISO-8601 UTC')),
  updatedAt: () => out.timestamp.check(z.describe('ISO-8601 UTC')),
  version: () => z.int().check(z.minimum(1), z.describe('starts at 1, +1 per change; the ETag')),
});

/** `custom` as answered: the values whose definitions exist now (functions/middleware/custom-fields.ts). */
export const customOut = z.lazy(() => z.optional(z.record(upTo(MAX.customKey), z.unknown())));
