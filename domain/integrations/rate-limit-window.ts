/**
 * The rate limiters' window (domain/integrations/rate-limits.ts, functions/middleware/rate-limit.ts),
 * in a module of its own: the public routes' limiter needs it without the table layer
 * (functions/middleware/public-rate-limit.ts, in the docs function's bundle).
 */

/** Every policy counts requests over fixed windows of this many seconds, aligned to the epoch minute. */
export const RATE_LIMIT_WINDOW_SECONDS = 60;
