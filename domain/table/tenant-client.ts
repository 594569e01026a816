/**
 * Which DynamoDB client a tenant's request uses, and `runAsTenant`, which runs a request in
 * that tenant's scope (domain/table/tenant-scope.ts).
 *
 * In the cloud (`TENANT_TABLE_ROLE_ARN` set by infra/api-stack.ts) the client signs with
 * credentials of that role assumed through STS with the session tag `tenant=<tenantId>`; the
 * role's policy allows the function's table actions only on partition keys
 * `T#${aws:PrincipalTag/tenant}#*`. Credentials and clients are kept per tenant per container
 * until shortly before the credentials expire, so a warm container pays STS once an hour per
 * tenant. Locally (no STS) the base client is the tenant's client; the key guard still refuses
 * any other tenant's key.
 */
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { stsApi, type AssumeRoleInput, type StsApi } from '#domain/aws/sts.ts';
import { createDocumentClient, db } from '#domain/table/client.ts';
import { TENANT_TAG, withTenantScope } from '#domain/table/tenant-scope.ts';

export { TENANT_TAG };

/** One hour: the role's default maximum session. */
export const TENANT_SESSION_SECONDS = 3600;
/** Credentials are renewed this long before they expire (a request in flight must not outlive them). */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;
/** Tenants remembered per container; the oldest goes first. */
const MAX_TENANTS = 500;

export interface TenantClientProvider {
  clientFor(tenantId: string): Promise<DynamoDBDocumentClient>;
}

/** Local: no STS; the base client, guarded by the tenant key guard. */
export const baseClientProvider: TenantClientProvider = { clientFor: async () => db };

/** The part of STS we use: one AssumeRole (domain/aws/sts.ts; a stand-in in tests). */
export type StsPort = Pick<StsApi, 'assumeRole'>;

/** The AssumeRole request for one tenant: the role, the tenant as a session tag, an hour. */
export function assumeRoleInput(roleArn: string, tenantId: string): AssumeRoleInput {
  return {
    RoleArn: roleArn,
    // 2–64 characters of [\w+=,.@-]: a tenant id fits after the prefix (it is [A-Za-z0-9_.@-]), cut to length.
    RoleSessionName: `tenant-${tenantId}`.slice(0, 64),
    DurationSeconds: TENANT_SESSION_SECONDS,
    // Not transitive: the session assumes no further role.
    Tags: [{ Key: TENANT_TAG, Value: tenantId }],
  };
}

export interface StsProviderOptions {
  roleArn: string;
  sts: StsPort;
  /** Builds the tenant's client from its credentials (default: a document client like `db`). */
  clientOf?: (credentials: AwsCredentialIdentity) => DynamoDBDocumentClient;
  now?: () => Date;
}

/** Cloud: a client per tenant with credentials of the tenant role, cached until shortly before they expire. */
export function stsClientProvider(options: StsProviderOptions): TenantClientProvider {
  const now = options.now ?? (() => new Date());
  const clientOf = options.clientOf ?? ((credentials) => createDocumentClient({ credentials }));
  const cache = new Map<string, { client: Promise<DynamoDBDocumentClient>; renewAt: number }>();

  async function assume(tenantId: string, entry: { renewAt: number }): Promise<DynamoDBDocumentClient> {
    const out = await options.sts.assumeRole(assumeRoleInput(options.roleArn, tenantId));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('AssumeRole answered no credentials');
    entry.renewAt = c.Expiration.getTime() - RENEW_BEFORE_MS;
    return clientOf({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration });
  }

  return {
    clientFor(tenantId) {
      const at = now().getTime();
      const hit = cache.get(tenantId);
      if (hit && at < hit.renewAt) return hit.client;
      cache.delete(tenantId);
      if (cache.size >= MAX_TENANTS) cache.delete(cache.keys().next().value!);
      // Until STS answers, concurrent requests of the tenant share the one call.
      const entry = { renewAt: Infinity } as { client: Promise<DynamoDBDocumentClient>; renewAt: number };
      entry.client = assume(tenantId, entry).catch((err: unknown) => {
        cache.delete(tenantId);
        throw err;
      });
      cache.set(tenantId, entry);
      return entry.client;
    },
  };
}

let provider: TenantClientProvider | undefined;

/** The container's provider: STS when the function has a tenant role, else the base client. */
export function tenantClientProvider(): TenantClientProvider {
  if (provider) return provider;
  const roleArn = process.env.TENANT_TABLE_ROLE_ARN;
  if (!roleArn) return (provider = baseClientProvider);
  // Built at the first AssumeRole (it reads the region and credentials then).
  let sts: StsApi | undefined;
  const lazySts: StsPort = { assumeRole: (input) => (sts ??= stsApi()).assumeRole(input) };
  return (provider = stsClientProvider({ roleArn, sts: lazySts }));
}

/** Tests: another provider (undefined: back to the environment's). */
export function setTenantClientProvider(p: TenantClientProvider | undefined): void {
  provider = p;
}

/**
 * Runs `fn` as `tenantId`: every table request inside reaches only that tenant's keys (and the
 * shared prefixes given, SHARED_KEY_PREFIXES), through the tenant's credentials.
 */
export async function runAsTenant<T>(tenantId: string, fn: () => Promise<T>, shared: readonly string[] = []): Promise<T> {
  const client = await tenantClientProvider().clientFor(tenantId);
  return withTenantScope({ tenantId, client, shared }, fn);
}
