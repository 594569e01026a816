/**
 * How long an authorization may be reused (docs/api-decisions.md "API keys"). A deleted key is
 * refused by the first authorizer run that reads the table; until then a cached answer stands:
 * API Gateway's (keyed by the Authorization header) for up to GATEWAY seconds, filled from a
 * container's memory that is itself up to CONTAINER seconds old. Both together stay under the
 * contract's 60 seconds: 30 + 20 = 50, with room for clocks and API Gateway's own timing.
 */
export const GATEWAY_CACHE_TTL_SECONDS = 30;
export const CONTAINER_CACHE_TTL_SECONDS = 20;
