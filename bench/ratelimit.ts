/**
 * Rate limits (issue 11 point 7): what the limiter (functions/middleware/rate-limit.ts) costs
 * per request, its own DynamoDB requests only (the meter counts nothing else meanwhile), at the
 * documented limits, in one container (one process), within one window (the limiter's clock is
 * fixed, so no burst straddles a window):
 *
 * - `ratelimit.per_request.wcu`, `.rcu`, `.requests`: 1,000 `GET /v1/tasks?limit=1` of users of a
 *   tenant at its 1,000 a minute: leases of 20 from the shared counter (one UpdateItem each) and
 *   the tenant's limits read once (cached a minute);
 * - `ratelimit.apikey.per_request.wcu`: 300 requests of an API key at its 300 a minute (two
 *   policies: the key's and the tenant's);
 * - `ratelimit.refused.per_request.wcu`: 200 more requests of the first tenant, all refused (429):
 *   one failed conditional lease (1 WCU in DynamoDB, which charges a refused conditional write),
 *   then nothing until the window ends.
 *
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/ratelimit.ts`.
 */
import type { Caller } from '#test/support/api.ts';
import type { PartContext } from './standalone.ts';
import { isEntry, runStandalone } from './standalone.ts';

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

export async function rateLimitScenarios({ call, meter, figures, notes }: PartContext): Promise<void> {
  const { DEFAULT_RATE_LIMITS, isRateLimitPartition } = await import('#domain/integrations/rate-limits.ts');
  const { setRateLimitClock, resetRateLimiter, MAX_LEASE } = await import('#functions/middleware/rate-limit.ts');
  const tenant = `benchrl${Date.now().toString(36)}`;
  const admin: Caller = { tenant, user: 'root', role: 'admin' };
  const users: Caller[] = Array.from({ length: 5 }, (_, i) => ({ tenant, user: `rep${i}`, role: 'rep', team: 'east' }));
  const saved = meter.exclude;
  try {
    // Setup in the real clock's window: the documented limits (the bench raises the defaults), a key, the users known.
    const set = await meter.unmetered(() => call(admin, 'PUT', '/v1/rate-limits', { ...DEFAULT_RATE_LIMITS }));
    if (set.status !== 200) throw new Error(`PUT /v1/rate-limits answered ${set.status} ${set.body.slice(0, 200)}`);
    const created = await meter.unmetered(() => call(admin, 'POST', '/v1/api-keys', { name: 'bench limiter', role: 'rep', teamId: 'east' }));
    if (created.status !== 201) throw new Error(`creating a key answered ${created.status}`);
    const key = (created.json as { key: string }).key;
    for (const u of users) await meter.unmetered(() => call(u, 'GET', '/v1/tasks?limit=1'));

    // A window of its own, far from the setup's; a fresh container (no allowance, no cached limits).
    let now = new Date(Date.UTC(2031, 0, 1, 0, 0, 5));
    setRateLimitClock(() => now);
    resetRateLimiter();
    meter.exclude = (pk) => !isRateLimitPartition(pk);

    const burst = async (n: number, send: (i: number) => Promise<{ status: number }>) => {
      const start = meter.mark();
      const statuses = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const { status } = await send(i);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      return { usage: meter.usageSince(start), statuses };
    };
    const describe = (s: Map<number, number>) => [...s].map(([status, count]) => `${count} × ${status}`).join(', ');

    const allowed = DEFAULT_RATE_LIMITS.requestsPerMinute;
    const tenantBurst = await burst(allowed, (i) => call(users[i % users.length]!, 'GET', '/v1/tasks?limit=1'));
    if (tenantBurst.statuses.get(200) !== allowed) throw new Error(`the tenant's burst: ${describe(tenantBurst.statuses)}`);
    figures['ratelimit.per_request.wcu'] = round4(tenantBurst.usage.wcu / allowed);
    figures['ratelimit.per_request.rcu'] = round4(tenantBurst.usage.rcu / allowed);
    figures['ratelimit.per_request.requests'] = round4(tenantBurst.usage.requests / allowed);

    const refusedBurst = await burst(200, (i) => call(users[i % users.length]!, 'GET', '/v1/tasks?limit=1'));
    if (refusedBurst.statuses.get(429) !== 200) throw new Error(`past the limit: ${describe(refusedBurst.statuses)}`);
    // A refused conditional write costs 1 WCU in DynamoDB (DynamoDB Local reports 0 for it): counted by that rule.
    const failedLeases = refusedBurst.usage.errors.length;
    figures['ratelimit.refused.per_request.wcu'] = round4((refusedBurst.usage.wcu + failedLeases) / 200);

    // The key in the next window: its own policy and the tenant's.
    now = new Date(now.getTime() + 60_000);
    const keyAllowed = DEFAULT_RATE_LIMITS.apiKeyRequestsPerMinute;
    const keyBurst = await burst(keyAllowed, () => call(admin, 'GET', '/v1/tasks?limit=1', undefined, { token: key }));
    if (keyBurst.statuses.get(200) !== keyAllowed) throw new Error(`the key's burst: ${describe(keyBurst.statuses)}`);
    figures['ratelimit.apikey.per_request.wcu'] = round4(keyBurst.usage.wcu / keyAllowed);

    notes.push(
      `ratelimit: ${allowed} requests of a tenant at its ${allowed}/min cost the limiter ${tenantBurst.usage.requests} requests ` +
        `(${Object.entries(tenantBurst.usage.byOperation).map(([op, n]) => `${n} ${op}`).join(', ')}): ${tenantBurst.usage.wcu} WCU, ${tenantBurst.usage.rcu} RCU ` +
        `(leases of ${MAX_LEASE}, the limits read once); 200 more, refused: ${refusedBurst.usage.requests} requests (${failedLeases} refused lease, 1 WCU each in DynamoDB); ` +
        `an API key's ${keyAllowed} at its ${keyAllowed}/min: ${keyBurst.usage.requests} requests, ${keyBurst.usage.wcu} WCU (two policies). ` +
        'One container; N containers of a tenant each lease their own batches (see docs/api-decisions.md).',
    );
  } catch (err) {
    notes.push(`ratelimit: no figure: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    meter.exclude = saved;
    setRateLimitClock();
    resetRateLimiter();
  }
}

/** `npx tsx bench/ratelimit.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('ratelimit', rateLimitScenarios);
