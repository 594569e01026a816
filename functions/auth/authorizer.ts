/**
 * The HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses, identity source
 * `$request.header.Authorization`). `Authorization: Bearer <value>` is either
 * - a Cognito ID token: verified with aws-jwt-verify against the user pool's JWKS (fetched once
 *   per container, then cached by the verifier), then read as functions/middleware/identity.ts
 *   reads claims; or
 * - an API key (`crm_…`): ONE GetItem of its lookup item (domain/integrations/api-key.ts).
 * Either way the answer's context is one shape, `{tenantId, userId, role, teamId?}`; a key acts
 * as `apikey:<id>`. Anything else is thrown as `Unauthorized`, which API Gateway answers 401
 * (`isAuthorized: false` would be a 403).
 *
 * Two caches: API Gateway's, keyed by the Authorization header, and behind it this container's
 * for keys (`cacheTtlSeconds`, never past the key's expiry), so a key repeated on a warm container
 * costs no DynamoDB request. A deleted key works at most as long as both together
 * (functions/auth/cache-ttl.ts).
 *
 * The same module runs in Lambda (`handler`, configured from its environment) and in the local
 * runtime (`createAuthorizer` with the local JWKS and no cache: local/router.ts).
 */
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { JwtWithoutValidKidError, KidNotFoundInJwksError } from 'aws-jwt-verify/error';
import { findJwkInJwks, type Jwks, type JwksCache } from 'aws-jwt-verify/jwk';
import type { Identity } from '#domain/identity.ts';
import { callerOfApiKey, hashApiKey, isApiKey } from '#domain/integrations/api-key.ts';
import { CONTAINER_CACHE_TTL_SECONDS } from '#functions/auth/cache-ttl.ts';
import { contextOf, identityFromClaims, type AuthorizerContext } from '#functions/middleware/identity.ts';

export interface AuthorizerConfig {
  /** The Cognito user pool whose ID tokens are accepted, and its app client (the tokens' `aud`). */
  userPoolId: string;
  clientId: string;
  /** A fixed key set instead of the pool's published one (the local runtime's keys): never fetched. */
  jwks?: Jwks;
  /** How long this container remembers a key's caller; 0: not at all. */
  cacheTtlSeconds: number;
  /** The clock, for tests. */
  now?: () => Date;
  /** At most this many keys remembered; the oldest goes first. */
  cacheSize?: number;
}

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>;
export type Authorizer = (event: APIGatewayRequestAuthorizerEventV2) => Promise<AuthorizerResult>;

/** The error API Gateway turns into a 401 (the message must be exactly this). */
export const unauthorized = () => new Error('Unauthorized');


export function createAuthorizer(config: AuthorizerConfig): Authorizer {
  const now = config.now ?? (() => new Date());
  const verifier = CognitoJwtVerifier.create(
    { userPoolId: config.userPoolId, clientId: config.clientId, tokenUse: 'id' },
    config.jwks ? { jwksCache: fixedJwks(config.jwks) } : undefined,
  );
  const cacheSize = config.cacheSize ?? 10_000;
  /** By the key's hash (the key itself is not kept): the caller and until when it may be reused. */
  const remembered = new Map<string, { identity: Identity; until: number }>();

  async function keyCaller(key: string): Promise<Identity | undefined> {
    const at = now();
    const hash = hashApiKey(key);
    const hit = remembered.get(hash);
    if (hit && at.getTime() < hit.until) return hit.identity;
    remembered.delete(hash);
    const found = await callerOfApiKey(key, at);
    if (!found) return undefined;
    if (config.cacheTtlSeconds > 0) {
      const until = Math.min(at.getTime() + config.cacheTtlSeconds * 1000, found.expiresAt?.getTime() ?? Infinity);
      if (remembered.size >= cacheSize) remembered.delete(remembered.keys().next().value!);
      remembered.set(hash, { identity: found.identity, until });
    }
    return found.identity;
  }

  async function tokenCaller(token: string): Promise<Identity | undefined> {
    try {
      const claims = await verifier.verify(token);
      // Cognito always sets `exp`; a token without one is not Cognito's.
      if (typeof claims.exp !== 'number') return undefined;
      return identityFromClaims(claims);
    } catch {
      return undefined;
    }
  }

  return async (event) => {
    const bearer = bearerOf(event.identitySource?.[0] ?? event.headers?.authorization);
    if (!bearer) throw unauthorized();
    const identity = isApiKey(bearer) ? await keyCaller(bearer) : await tokenCaller(bearer);
    if (!identity) throw unauthorized();
    return { isAuthorized: true, context: contextOf(identity) };
  };
}

function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** A key set given by configuration: looked up by `kid`, never fetched (an unknown `kid` is simply refused). */
function fixedJwks(jwks: Jwks): JwksCache {
  const find = (jwt: Parameters<JwksCache['getCachedJwk']>[1]) => {
    const kid = jwt.header.kid;
    if (typeof kid !== 'string') throw new JwtWithoutValidKidError('JWT header does not have valid kid claim');
    const jwk = findJwkInJwks(jwks, kid);
    if (!jwk) throw new KidNotFoundInJwksError(`JWK for kid ${kid} not found in the JWKS`);
    return jwk;
  };
  return {
    getJwk: async (_uri, jwt) => find(jwt),
    getCachedJwk: (_uri, jwt) => find(jwt),
    addJwks: () => undefined,
    getJwks: async () => jwks,
  };
}

/** Lambda's configuration: `USER_POOL_ID`, `USER_POOL_CLIENT_ID`, `AUTH_CACHE_TTL_SECONDS` (set by infra/api-stack.ts). */
export function configFromEnv(env: NodeJS.ProcessEnv): AuthorizerConfig {
  const userPoolId = env.USER_POOL_ID;
  const clientId = env.USER_POOL_CLIENT_ID;
  if (!userPoolId || !clientId) throw new Error('USER_POOL_ID and USER_POOL_CLIENT_ID must be set');
  const ttl = env.AUTH_CACHE_TTL_SECONDS === undefined ? CONTAINER_CACHE_TTL_SECONDS : Number(env.AUTH_CACHE_TTL_SECONDS);
  return { userPoolId, clientId, cacheTtlSeconds: Number.isFinite(ttl) && ttl >= 0 ? ttl : CONTAINER_CACHE_TTL_SECONDS };
}

let fromEnv: Authorizer | undefined;
/** The Lambda entry: configured from the environment on the first invocation, then kept for the container's life. */
export const handler: Authorizer = (event) => (fromEnv ??= createAuthorizer(configFromEnv(process.env)))(event);
