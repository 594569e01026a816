/**
 * A tenant's rate limits (OWASP API4; `GET/PUT /v1/rate-limits`, admin) and the shared counters
 * the limiter (functions/middleware/rate-limit.ts) leases requests from.
 *
 * Items, all in one partition of the tenant:
 * - the settings: `T#t#RATELIMIT` / `SETTINGS` (Put conditioned on the version read);
 * - a counter per policy and fixed window: `T#t#RATELIMIT` / `W#<window start, epoch s>#tenant`
 *   or `…#apikey#<keyId>`, `used` = requests leased out so far in that window (UpdateItem ADD,
 *   conditioned so it never passes the limit), gone by TTL an hour after its window.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole } from '#domain/identity.ts';
import { db, tableName } from '#domain/table/client.ts';
import { t } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { stillAtVersion, UnitOfWork } from '#domain/table/transaction.ts';
import { RATE_LIMIT_WINDOW_SECONDS } from '#domain/integrations/rate-limit-window.ts';

export { RATE_LIMIT_WINDOW_SECONDS };
export const MAX_REQUESTS_PER_MINUTE = 1_000_000;

/** The documented defaults (README, docs/api-decisions.md), in force until an admin changes them. */
export const DEFAULT_RATE_LIMITS = { requestsPerMinute: 1000, apiKeyRequestsPerMinute: 300 } as const;

export interface RateLimits {
  /** Every request of the tenant, whoever makes it (users and API keys). */
  requestsPerMinute: number;
  /** Each API key's own requests (they count toward the tenant's too). */
  apiKeyRequestsPerMinute: number;
}

const envInt = (name: string) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : undefined;
};

/**
 * The defaults in force for a tenant that never set its own: the documented ones, unless the
 * environment raises them (`RATE_LIMIT_REQUESTS_PER_MINUTE`, `RATE_LIMIT_API_KEY_REQUESTS_PER_MINUTE`:
 * the test suite, whose contract tests send thousands of requests per tenant a minute).
 * Read per call, like the table name.
 */
export function defaultRateLimits(): RateLimits {
  return {
    requestsPerMinute: envInt('RATE_LIMIT_REQUESTS_PER_MINUTE') ?? DEFAULT_RATE_LIMITS.requestsPerMinute,
    apiKeyRequestsPerMinute: envInt('RATE_LIMIT_API_KEY_REQUESTS_PER_MINUTE') ?? DEFAULT_RATE_LIMITS.apiKeyRequestsPerMinute,
  };
}

const perMinute = (min: number) => z.int().check(z.minimum(min), z.maximum(MAX_REQUESTS_PER_MINUTE));

/** `PUT /v1/rate-limits`: replaces the limits; an omitted field takes its documented default. */
// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const rateLimitsBody = z.lazy(() =>
  z.strictObject({
    requestsPerMinute: z._default(perMinute(10), DEFAULT_RATE_LIMITS.requestsPerMinute),
    apiKeyRequestsPerMinute: z._default(perMinute(1), DEFAULT_RATE_LIMITS.apiKeyRequestsPerMinute),
  }),
);

/** What `GET` and `PUT /v1/rate-limits` answer: the limits in force. */
export const rateLimitsView = z.lazy(() =>
  z.object({
    requestsPerMinute: z.int().check(z.describe('Requests a minute for the whole tenant (users and API keys together).')),
    apiKeyRequestsPerMinute: z.int().check(z.describe('Requests a minute for each API key (also counted in the tenant\'s).')),
    windowSeconds: z.int().check(z.describe('The length of the fixed window every limit counts over.')),
    version: z.int().check(z.describe('0 while the defaults were never changed; +1 per PUT')),
    updatedAt: z.nullable(z.string().check(z.maxLength(40))),
  }),
);

export interface StoredRateLimits extends RateLimits {
  windowSeconds: number;
  version: number;
  updatedAt: string | null;
}

export const rateLimitPartition = (tenantId: string) => `${t(tenantId)}#RATELIMIT`;
/** The limiter's own items (the benchmark keeps their requests apart from each operation's). */
export const isRateLimitPartition = (pk: string | undefined) => pk?.endsWith('#RATELIMIT') ?? false;
export const rateLimitSettingsKey = (tenantId: string) => ({ PK: rateLimitPartition(tenantId), SK: 'SETTINGS' });
/** `scope` is `tenant` or `apikey#<keyId>`; `windowStart` in epoch seconds. */
export const rateLimitCounterKey = (tenantId: string, scope: string, windowStart: number) => ({
  PK: rateLimitPartition(tenantId),
  SK: `W#${windowStart}#${scope}`,
});

/** The limits in force; `consistent` false for the limiter's per-container cache (half the read). */
export async function loadRateLimits(tenantId: string, consistent = true): Promise<StoredRateLimits> {
  const item = await getItem(rateLimitSettingsKey(tenantId), consistent);
  if (!item) return { ...defaultRateLimits(), windowSeconds: RATE_LIMIT_WINDOW_SECONDS, version: 0, updatedAt: null };
  return {
    requestsPerMinute: Number(item.requestsPerMinute),
    apiKeyRequestsPerMinute: Number(item.apiKeyRequestsPerMinute),
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    version: Number(item.version),
    updatedAt: String(item.updatedAt),
  };
}

/** How long a container trusts the limits it read: a change reaches every container within this. */
export const LIMITS_CACHE_MS = 60_000;
const cache = new Map<string, { limits: StoredRateLimits; readAt: number }>();

/** The limits for the limiter: read once a minute per tenant and container (eventually consistent: 0.5 RCU). */
export async function cachedRateLimits(tenantId: string, now: Date): Promise<StoredRateLimits> {
  const hit = cache.get(tenantId);
  if (hit && now.getTime() - hit.readAt < LIMITS_CACHE_MS && now.getTime() >= hit.readAt) return hit.limits;
  const limits = await loadRateLimits(tenantId, false);
  if (cache.size >= 10_000) cache.clear();
  cache.set(tenantId, { limits, readAt: now.getTime() });
  return limits;
}

export async function getRateLimits(ctx: UseCaseContext): Promise<StoredRateLimits> {
  requireRole(ctx.identity, 'admin');
  return loadRateLimits(ctx.identity.tenantId);
}

/** Admin only; in force at once in this container, within a minute in every other (their cache). */
export async function putRateLimits(ctx: UseCaseContext, body: RateLimits): Promise<StoredRateLimits> {
  requireRole(ctx.identity, 'admin');
  const { tenantId } = ctx.identity;
  const before = await loadRateLimits(tenantId);
  const next: StoredRateLimits = {
    requestsPerMinute: body.requestsPerMinute,
    apiKeyRequestsPerMinute: body.apiKeyRequestsPerMinute,
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    version: before.version + 1,
    updatedAt: ctx.now.toISOString(),
  };
  const { windowSeconds: _fixed, ...stored } = next;
  await new UnitOfWork(ctx)
    .put(
      { ...rateLimitSettingsKey(tenantId), tenantId, entityType: 'RATELIMIT', ...stored },
      stillAtVersion(before.version, 'The rate limits'),
    )
    .commit(next);
  // In force at once here (no stale eventually consistent read); other containers read it when their cache runs out.
  cache.set(tenantId, { limits: next, readAt: ctx.now.getTime() });
  return next;
}

export type Lease = { granted: true; used: number } | { granted: false; used: number };

/**
 * Leases `size` requests of a window from the shared counter: one UpdateItem ADD, conditioned on
 * the counter staying within `limit`. Granted → the counter after the lease; refused → the counter
 * as it was (what is left is `limit - used`, which a smaller lease may still take).
 */
export async function leaseRequests(
  tenantId: string,
  scope: string,
  windowStart: number,
  size: number,
  limit: number,
): Promise<Lease> {
  try {
    const out = await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: rateLimitCounterKey(tenantId, scope, windowStart),
        UpdateExpression: 'ADD #used :size SET expiresAt = if_not_exists(expiresAt, :expires)',
        ConditionExpression: 'attribute_not_exists(#used) OR #used <= :most',
        ExpressionAttributeNames: { '#used': 'used' },
        ExpressionAttributeValues: { ':size': size, ':most': limit - size, ':expires': windowStart + RATE_LIMIT_WINDOW_SECONDS + 3600 },
        ReturnValues: 'UPDATED_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { granted: true, used: Number(out.Attributes?.used ?? size) };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { granted: false, used: Number(err.Item?.used?.N ?? limit) };
    throw err;
  }
}
