/**
 * The public routes' rate limit (links, forms: functions/middleware/public-function.ts; the docs
 * function): per client IP, over the same 60-second windows, in memory per container, at no cost;
 * and what every limiter shares (the clock, the windows, the 429 and the IETF headers). Apart from
 * functions/middleware/rate-limit.ts (which re-exports it) so that a function with public routes
 * only carries no table layer for it: the docs function's bundle (issue 11 point 6).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '#domain/errors.ts';
import { RATE_LIMIT_WINDOW_SECONDS } from '#domain/integrations/rate-limit-window.ts';

/** Public routes: requests a minute per client IP and container. */
export const DEFAULT_PUBLIC_REQUESTS_PER_MINUTE = 600;

let now: () => Date = () => new Date();
/** The limiters' time. */
export const clock = () => now();
/** Tests fix the limiter's time (windows, Retry-After) instead of waiting for it. */
export function setRateLimitClock(next?: () => Date): void {
  now = next ?? (() => new Date());
}

/** One policy's state for the headers. */
export interface PolicyState {
  name: 'tenant' | 'apikey' | 'ip';
  quota: number;
  remaining: number;
  resetSeconds: number;
}

export interface RateDecision {
  allowed: boolean;
  policies: PolicyState[];
  /** Seconds until the refusing policy's window ends. */
  retryAfter?: number;
}

export function windowOf(at: Date) {
  const seconds = at.getTime() / 1000;
  const windowStart = Math.floor(seconds / RATE_LIMIT_WINDOW_SECONDS) * RATE_LIMIT_WINDOW_SECONDS;
  return { windowStart, resetSeconds: Math.max(1, Math.ceil(windowStart + RATE_LIMIT_WINDOW_SECONDS - seconds)) };
}

export function pruneBefore(map: Map<string, { windowStart: number }>, windowStart: number) {
  for (const [k, v] of map) if (v.windowStart < windowStart) map.delete(k);
}

// ---------------------------------------------------------------------------------------
// Public routes: per client IP, per container

const publicCounts = new Map<string, { windowStart: number; count: number }>();

/** Forgets every client's count (tests that start over: functions/middleware/rate-limit.ts resetRateLimiter). */
export function resetPublicLimiter(): void {
  publicCounts.clear();
}

function publicLimit(): number {
  const v = Number(process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_PUBLIC_REQUESTS_PER_MINUTE;
}

export function limitPublicRequest(event: APIGatewayProxyEventV2): RateDecision {
  const { windowStart, resetSeconds } = windowOf(clock());
  const quota = publicLimit();
  const ip = event.requestContext?.http?.sourceIp ?? 'unknown';
  let entry = publicCounts.get(ip);
  if (!entry || entry.windowStart !== windowStart) {
    if (!entry && publicCounts.size >= 10_000) pruneBefore(publicCounts, windowStart);
    entry = { windowStart, count: 0 };
    publicCounts.set(ip, entry);
  }
  const allowed = entry.count < quota;
  if (allowed) entry.count++;
  const policies: PolicyState[] = [{ name: 'ip', quota, remaining: quota - entry.count, resetSeconds }];
  return allowed ? { allowed, policies } : { allowed, policies, retryAfter: resetSeconds };
}

// ---------------------------------------------------------------------------------------
// Answers

export const rateLimited = (retryAfter: number) =>
  new DomainError(429, 'rate_limited', `Too many requests; retry in ${retryAfter} s.`, { retryAfter });

/** The IETF headers of a decision (and `Retry-After` when it refused). */
export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-policy': decision.policies.map((p) => `"${p.name}";q=${p.quota};w=${RATE_LIMIT_WINDOW_SECONDS}`).join(', '),
    ratelimit: decision.policies.map((p) => `"${p.name}";r=${p.remaining};t=${p.resetSeconds}`).join(', '),
  };
  if (decision.retryAfter !== undefined) headers['retry-after'] = String(decision.retryAfter);
  return headers;
}

export function withRateLimitHeaders(response: APIGatewayProxyStructuredResultV2, decision: RateDecision | undefined): APIGatewayProxyStructuredResultV2 {
  if (!decision) return response;
  return { ...response, headers: { ...response.headers, ...rateLimitHeaders(decision) } };
}
