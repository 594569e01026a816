/**
 * Who is calling. The Lambda authorizer (functions/auth/authorizer.ts) verifies the bearer
 * value, a Cognito ID token or an API key, and hands every HTTP function one shape of context
 * (`requestContext.authorizer.lambda`: `{tenantId, userId, role, teamId?}`, strings), whichever
 * it was. Before the request runs, the caller is recorded in the users directory, and a key's
 * `lastUsedAt` moves (each at most once per interval and container: nothing on a warm path).
 */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { unauthenticated } from '#domain/errors.ts';
import { ROLES, type Identity } from '#domain/identity.ts';
import { recordUser } from '#domain/directory/users.ts';
import { apiKeyIdOf, touchApiKey } from '#domain/integrations/api-key.ts';

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const segment = builtOnFirstUse(() => z.string().check(z.regex(/^[A-Za-z0-9_.@-]{1,128}$/)));

/** The claims of a Cognito ID token (custom attributes as `custom:<name>`). */
const claimsSchema = z.lazy(() =>
  z.object({
    sub: segment(),
    'custom:tenantId': segment(),
    'custom:role': z.enum(ROLES),
    'custom:teamId': z.optional(segment()),
  }),
);

/** A verified token's claims → the caller; claims without a tenant or a known role → 401. */
export function identityFromClaims(claims: unknown): Identity {
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) throw unauthenticated();
  const c = parsed.data;
  return {
    tenantId: c['custom:tenantId'],
    userId: c.sub,
    role: c['custom:role'],
    ...(c['custom:teamId'] ? { teamId: c['custom:teamId'] } : {}),
  };
}

/** What the authorizer passes on: a user's `sub`, or `apikey:<id>` for a key. */
export type AuthorizerContext = { tenantId: string; userId: string; role: string; teamId?: string };

const contextSchema = z.lazy(() =>
  z.object({
    tenantId: segment(),
    userId: z.string().check(z.regex(/^(apikey:)?[A-Za-z0-9_.@-]{1,128}$/)),
    role: z.enum(ROLES),
    teamId: z.optional(segment()),
  }),
);

export function contextOf(identity: Identity): AuthorizerContext {
  return { tenantId: identity.tenantId, userId: identity.userId, role: identity.role, ...(identity.teamId ? { teamId: identity.teamId } : {}) };
}

export function identityFromContext(context: unknown): Identity {
  const parsed = contextSchema.safeParse(context);
  if (!parsed.success) throw unauthenticated();
  const c = parsed.data;
  return { tenantId: c.tenantId, userId: c.userId, role: c.role, ...(c.teamId ? { teamId: c.teamId } : {}) };
}

/** Records the caller (users directory, a key's lastUsedAt): inside the caller's tenant scope. */
export async function recordCaller(identity: Identity, now: Date): Promise<void> {
  const keyId = apiKeyIdOf(identity.userId);
  await Promise.all([recordUser(identity, now), keyId ? touchApiKey(identity.tenantId, keyId, now) : undefined]);
}
