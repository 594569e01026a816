/**
 * The caller's identity from the claims the JWT authorizer verified
 * (`requestContext.authorizer.jwt.claims`, string values, Cognito custom attributes as
 * `custom:<name>`). Records the caller in the users directory before the request runs.
 */
import * as z from 'zod/mini';
import { unauthenticated } from '#domain/errors.ts';
import { ROLES, type Identity } from '#domain/identity.ts';
import { recordUser } from '#domain/directory/users.ts';

const segment = z.string().check(z.regex(/^[A-Za-z0-9_.@-]{1,128}$/));

const claimsSchema = z.object({
  sub: segment,
  'custom:tenantId': segment,
  'custom:role': z.enum(ROLES),
  'custom:teamId': z.optional(segment),
});

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

export async function authenticate(claims: unknown, now: Date): Promise<Identity> {
  const identity = identityFromClaims(claims);
  await recordUser(identity, now);
  return identity;
}
