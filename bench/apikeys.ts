/**
 * API keys (issue 10 point 2): what authorizing a key costs the table.
 *
 * - `apikey.auth.requests.cold`: the authorizer handler (functions/auth/authorizer.ts) called
 *   directly, as API Gateway calls it on a cache miss, on a fresh instance (a cold container)
 *   configured as in the cloud: ONE GetItem of the key's lookup item. Target ≤ 1.
 * - `apikey.auth.requests.warm`: the same key again on that instance within its cache TTL: 0.
 * - `apikey.auth.jwt.requests`: an ID token on the same instance: 0 (signature and claims only).
 * - `apikey.http.first.requests`, `apikey.http.repeat.requests`: `GET /v1/accounts?limit=1` with
 *   the key through the local router (whose authorizer has no cache: one GetItem each time); the
 *   HTTP function's identity step adds the directory write and the `lastUsedAt` update on the
 *   key's first request in a container, and nothing on a repeat within the minute.
 *
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/apikeys.ts`.
 */
import type { Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface ApiKeyBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

export async function apiKeyScenarios({ call, meter, figures, notes }: ApiKeyBenchInput): Promise<void> {
  const tenant = `benchkeys${Date.now().toString(36)}`;
  const root: Caller = { tenant, user: 'root', role: 'admin' };
  try {
    const { createAuthorizer } = await import('#functions/auth/authorizer.ts');
    const { CONTAINER_CACHE_TTL_SECONDS } = await import('#functions/auth/cache-ttl.ts');
    const { authorizerEvent, buildEvent } = await import('#local/api-gateway-event.ts');
    const { localAuthorizerConfig, mintToken } = await import('#local/auth.ts');

    const created = await meter.unmetered(() => call(root, 'POST', '/v1/api-keys', { name: 'bench integration', role: 'rep', teamId: 'east' }));
    if (created.status !== 201) throw new Error(`creating a key answered ${created.status} ${created.body.slice(0, 200)}`);
    const key = (created.json as { key: string }).key;

    const event = (header: string) =>
      authorizerEvent(buildEvent({ method: 'GET', url: '/v1/accounts', headers: { authorization: header } }, { routeKey: 'GET /v1/accounts', pathParameters: undefined }, undefined), [header]);
    // A fresh instance is a cold container: the cloud's container cache, the local key set.
    const authorize = createAuthorizer({ ...(await localAuthorizerConfig()), cacheTtlSeconds: CONTAINER_CACHE_TTL_SECONDS });
    const measureAuth = async (header: string) => {
      const { result, usage } = await meter.measure(() => authorize(event(header)));
      if (!result.isAuthorized) throw new Error('the authorizer refused the bench key');
      return usage;
    };
    const cold = await measureAuth(`Bearer ${key}`);
    const warm = await measureAuth(`Bearer ${key}`);
    const jwt = await measureAuth(`Bearer ${await mintToken({ tenant, user: 'alice', role: 'rep' })}`);
    figures['apikey.auth.requests.cold'] = cold.requests;
    figures['apikey.auth.requests.warm'] = warm.requests;
    figures['apikey.auth.jwt.requests'] = jwt.requests;
    notes.push(
      `apikey.auth: a key on a cold authorizer ${cold.requests} request (${cold.calls.join(', ')}), ${cold.rcu} RCU; ` +
        `again within the ${CONTAINER_CACHE_TTL_SECONDS} s container cache ${warm.requests}; an ID token ${jwt.requests}. ` +
        'In the cloud API Gateway\'s own cache (30 s) answers most repeats before the authorizer runs at all.',
    );

    const viaRouter = async () => {
      const start = meter.mark();
      const res = await call(root, 'GET', '/v1/accounts?limit=1', undefined, { token: key });
      if (res.status !== 200) throw new Error(`GET /v1/accounts with the key answered ${res.status}`);
      return meter.usageSince(start);
    };
    const first = await viaRouter();
    const repeat = await viaRouter();
    figures['apikey.http.first.requests'] = first.requests;
    figures['apikey.http.repeat.requests'] = repeat.requests;
    notes.push(
      `apikey.http: GET /v1/accounts?limit=1 with the key through the local router (authorizer without cache): first ${first.requests} ` +
        `(${first.calls.join(', ')}: the lookup, the directory write, lastUsedAt, then the route's own reads), repeat ${repeat.requests} (${repeat.calls.join(', ')}). ` +
        'lastUsedAt costs one conditional UpdateItem per key, container and minute, never more.',
    );
  } catch (err) {
    notes.push(`apikey.auth: no figure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `npx tsx bench/apikeys.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('apikeys', apiKeyScenarios);
