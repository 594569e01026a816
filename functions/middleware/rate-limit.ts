/**
 * Rate limits (OWASP API4), in the middleware of every HTTP function: per tenant, and per API key
 * for `apikey:<id>` callers, over fixed 60-second windows; over the limit → `429 rate_limited`
 * with `Retry-After`. Every answer carries the IETF headers (draft-ietf-httpapi-ratelimit-headers-11):
 * `RateLimit-Policy: "tenant";q=1000;w=60` and `RateLimit: "tenant";r=<remaining>;t=<seconds to reset>`.
 *
 * Cost: a container does not count each request in DynamoDB. It leases a batch of requests from
 * the tenant's shared counter of the window (one UpdateItem ADD, conditioned on staying within
 * the limit: domain/integrations/rate-limits.ts) and spends the batch locally; the batch shrinks
 * to 1 as the window fills, so the shared counter never passes the limit. At the default limits
 * that is one write per 20 requests of a tenant (per 12 of an API key). The tenant's limits are
 * read once a minute per container (cached). Locally, one process is one container.
 *
 * Public routes (links, forms: functions/middleware/public-function.ts; the docs) have no tenant before
 * their token is checked: they are limited per client IP, in memory per container, at no cost
 * (functions/middleware/public-rate-limit.ts).
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Identity } from '#domain/identity.ts';
import { apiKeyIdOf } from '#domain/integrations/api-key.ts';
import { cachedRateLimits, leaseRequests } from '#domain/integrations/rate-limits.ts';
import {
  clock,
  pruneBefore,
  rateLimited,
  resetPublicLimiter,
  windowOf,
  withRateLimitHeaders,
  type PolicyState,
  type RateDecision,
} from '#functions/middleware/public-rate-limit.ts';

// What every limiter shares, and the public routes' limiter: a module of their own, free of the table layer.
export {
  DEFAULT_PUBLIC_REQUESTS_PER_MINUTE,
  limitPublicRequest,
  rateLimited,
  rateLimitHeaders,
  setRateLimitClock,
  withRateLimitHeaders,
  type PolicyState,
  type RateDecision,
} from '#functions/middleware/public-rate-limit.ts';

/** A batch never holds more than this many requests (what one container may strand unused). */
export const MAX_LEASE = 20;
/** …nor more than this fraction of the limit, so small limits lease one request at a time (exact). */
const LEASE_FRACTION = 1 / 25;
/** A container's allowance of one policy in one window. */
interface Allowance {
  windowStart: number;
  /** Leased and not yet spent here. */
  left: number;
  /** The shared counter as last seen (every container's leases). */
  used: number;
  /** The shared counter is at the limit: refuse without asking again until the window ends. */
  exhausted: boolean;
  /** The lease in flight, which requests arriving meanwhile wait for instead of leasing too. */
  leasing?: PendingLease;
}

/** A lease in flight: `size` requests, one for its own request; `promised` to requests waiting on it. */
interface PendingLease {
  size: number;
  promised: number;
  done: Promise<unknown>;
}

const allowances = new Map<string, Allowance>();

/** Forgets every allowance (tests that start over). */
export function resetRateLimiter(): void {
  allowances.clear();
  resetPublicLimiter();
}

export const leaseSize = (limit: number, used: number) =>
  Math.max(1, Math.min(MAX_LEASE, Math.floor(limit * LEASE_FRACTION), limit - used));

function allowanceOf(key: string, windowStart: number): Allowance {
  let a = allowances.get(key);
  if (!a || a.windowStart !== windowStart) {
    if (!a && allowances.size >= 10_000) pruneBefore(allowances, windowStart);
    a = { windowStart, left: 0, used: 0, exhausted: false };
    allowances.set(key, a);
  }
  return a;
}

/** Spends one request of a policy: from the local batch, else from a new lease. */
async function take(tenantId: string, scope: string, limit: number, windowStart: number): Promise<{ allowed: boolean; remaining: number }> {
  // The limit is part of the key: a changed limit starts a fresh allowance (the shared counter stays the truth).
  const a = allowanceOf(`${tenantId}|${scope}|${limit}`, windowStart);
  const remaining = () => Math.max(0, limit - a.used) + a.left;
  for (let attempt = 0, waits = 0; attempt < 4; ) {
    if (a.left > 0) {
      a.left--;
      return { allowed: true, remaining: remaining() };
    }
    if (a.exhausted) break;
    // A lease in flight with room for this request: wait for it rather than lease too. Without
    // this, every request arriving while a lease is in flight leases its own: when a window
    // starts, a herd of writes to one counter item per tenant that queues every other write.
    const pending = a.leasing;
    if (pending && pending.promised < pending.size - 1 && waits < 4) {
      pending.promised++;
      waits++;
      await pending.done;
      continue;
    }
    attempt++;
    const size = leaseSize(limit, a.used);
    const call = leaseRequests(tenantId, scope, windowStart, size, limit);
    const mine: PendingLease = { size, promised: 0, done: call.catch(() => undefined) };
    a.leasing = mine;
    let lease: Awaited<typeof call>;
    try {
      lease = await call;
    } finally {
      if (a.leasing === mine) delete a.leasing;
    }
    // Concurrent requests of this container (one process, locally) may have leased meanwhile.
    a.used = Math.max(a.used, lease.used);
    if (lease.granted) {
      // This request takes one of its own lease. What is left is counted from this lease's own
      // count, not the container's highest: leases answered out of order then still tell each
      // request a different `r`.
      a.left += size - 1;
      return { allowed: true, remaining: Math.max(0, limit - lease.used) + a.left };
    }
    if (lease.used >= limit) a.exhausted = true;
  }
  return { allowed: false, remaining: 0 };
}

/**
 * The decision for one authenticated request: its API key's policy first (a runaway key is
 * stopped before it spends the tenant's requests), then the tenant's.
 */
export async function limitRequest(identity: Identity): Promise<RateDecision> {
  const now = clock();
  const { windowStart, resetSeconds } = windowOf(now);
  const limits = await cachedRateLimits(identity.tenantId, now);
  const keyId = apiKeyIdOf(identity.userId);
  const checks: { name: 'tenant' | 'apikey'; scope: string; quota: number }[] = [
    ...(keyId ? [{ name: 'apikey' as const, scope: `apikey#${keyId}`, quota: limits.apiKeyRequestsPerMinute }] : []),
    { name: 'tenant', scope: 'tenant', quota: limits.requestsPerMinute },
  ];
  const policies: PolicyState[] = [];
  for (const check of checks) {
    const { allowed, remaining } = await take(identity.tenantId, check.scope, check.quota, windowStart);
    policies.push({ name: check.name, quota: check.quota, remaining, resetSeconds });
    if (!allowed) return { allowed: false, policies, retryAfter: resetSeconds };
  }
  return { allowed: true, policies };
}

const decisions = new WeakMap<object, RateDecision>();

/** Called by the handler once it knows the caller: remembers the decision for the headers, throws the 429. */
export async function enforceRateLimit(event: object, identity: Identity): Promise<void> {
  const decision = await limitRequest(identity);
  decisions.set(event, decision);
  if (!decision.allowed) throw rateLimited(decision.retryAfter!);
}

/**
 * Puts the headers on every answer of the request, success or problem. Used before problemJson(),
 * so its onError runs after problemJson's has made the answer. A request refused before its caller
 * is known (401) has no decision and no headers.
 */
export function rateLimitHeadersMiddleware(): middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const apply = (request: middy.Request<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>) => {
    if (request.response) request.response = withRateLimitHeaders(request.response, decisions.get(request.event));
  };
  return { after: apply, onError: apply };
}
