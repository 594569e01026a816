/**
 * The tenant a request runs as, and the guard that keeps its table requests inside that tenant.
 *
 * An HTTP function runs each request inside `runInTenantScope` (domain/table/tenant-client.ts):
 * an AsyncLocalStorage scope holding the tenant and the DynamoDB client to use. In the cloud that
 * client signs with credentials of a role assumed with the session tag `tenant=<tenantId>`, whose
 * policy allows only partition keys `T#${aws:PrincipalTag/tenant}#*` (dynamodb:LeadingKeys).
 * `tenantKeyGuard` enforces the same rule in process, on every request made inside a scope:
 * locally (no STS) it is the only enforcement, and in the cloud a refused request never leaves.
 * A request whose partition keys cannot be told (a Scan, an unknown command) is refused.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { indexes, type IndexName } from '#domain/table/definition.ts';

/**
 * Partition-key prefixes outside any tenant that HTTP functions touch inside a tenant scope:
 * an API key's lookup item (api-keys: created and deleted with the key) and a form's public
 * pointer (forms: created and deleted with the form). Their item keys are a hash of a secret key
 * and an unguessable form id; infra/api-stack.ts allows them only to the functions that need them.
 */
export const SHARED_KEY_PREFIXES = { apiKeyLookup: 'APIKEY#', formPointer: 'FORM#' } as const;

export interface TenantScope {
  tenantId: string;
  /** The client whose credentials are scoped to the tenant (locally the base client itself). */
  client: DynamoDBDocumentClient;
  /** Extra partition-key prefixes this scope may reach (SHARED_KEY_PREFIXES). */
  shared: readonly string[];
}

const storage = new AsyncLocalStorage<TenantScope>();

export const activeTenantScope = (): TenantScope | undefined => storage.getStore();

export function withTenantScope<T>(scope: TenantScope, fn: () => Promise<T>): Promise<T> {
  return storage.run(scope, fn);
}

/** The session tag the tenant role's policy reads as `${aws:PrincipalTag/tenant}`. */
export const TENANT_TAG = 'tenant';

/** Every key of one tenant starts with this (domain/table/keys.ts). */
export const tenantKeyPrefix = (tenantId: string) => `T#${tenantId}#`;

/** What DynamoDB would answer a scoped role reaching another tenant's key. */
export class TenantKeyRefused extends Error {
  override readonly name = 'AccessDeniedException';
  constructor(tenantId: string, what: string) {
    super(`Table request refused: ${what} is outside tenant ${tenantId}`);
  }
}

type Bag = Record<string, unknown>;
const isBag = (v: unknown): v is Bag => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key value before (a string) or after (`{S}`) the document client's marshalling. */
function stringOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isBag(v) && typeof v.S === 'string') return v.S;
  return undefined;
}

const pkOf = (keyOrItem: unknown) => (isBag(keyOrItem) ? stringOf(keyOrItem.PK) : undefined);

/** The partition-key value a Query names (`#pk = :pk` on the table's or the index's partition attribute). */
function queryPartition(input: Bag): string | undefined {
  const index = input.IndexName as IndexName | undefined;
  const attribute = index === undefined ? 'PK' : indexes[index]?.pk;
  const expression = input.KeyConditionExpression;
  if (!attribute || typeof expression !== 'string') return undefined;
  const names = isBag(input.ExpressionAttributeNames) ? input.ExpressionAttributeNames : {};
  const values = isBag(input.ExpressionAttributeValues) ? input.ExpressionAttributeValues : {};
  for (const [, name, value] of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const resolved = name!.startsWith('#') ? names[name!] : name;
    if (resolved === attribute) return stringOf(values[value!]);
  }
  return undefined;
}

/**
 * The partition keys one request reaches (what dynamodb:LeadingKeys sees), or undefined when they
 * cannot be told: such a request is refused inside a scope.
 */
export function leadingKeysOf(commandName: string, input: Bag): (string | undefined)[] | undefined {
  const command = commandName.replace(/Command$/, '');
  switch (command) {
    case 'Get':
    case 'GetItem':
    case 'Update':
    case 'UpdateItem':
    case 'Delete':
    case 'DeleteItem':
      return [pkOf(input.Key)];
    case 'Put':
    case 'PutItem':
      return [pkOf(input.Item)];
    case 'Query':
      return [queryPartition(input)];
    case 'BatchGet':
    case 'BatchGetItem':
      return Object.values(isBag(input.RequestItems) ? input.RequestItems : {}).flatMap((r) =>
        (isBag(r) && Array.isArray(r.Keys) ? r.Keys : [undefined]).map(pkOf),
      );
    case 'BatchWrite':
    case 'BatchWriteItem':
      return Object.values(isBag(input.RequestItems) ? input.RequestItems : {}).flatMap((requests) =>
        (Array.isArray(requests) ? requests : [undefined]).map((r: unknown) =>
          isBag(r) ? pkOf(isBag(r.PutRequest) ? r.PutRequest.Item : isBag(r.DeleteRequest) ? r.DeleteRequest.Key : undefined) : undefined,
        ),
      );
    case 'TransactWrite':
    case 'TransactWriteItems':
    case 'TransactGet':
    case 'TransactGetItems':
      return (Array.isArray(input.TransactItems) ? input.TransactItems : [undefined]).map((t: unknown) => {
        if (!isBag(t)) return undefined;
        const op = (t.Put ?? t.Update ?? t.Delete ?? t.ConditionCheck ?? t.Get) as Bag | undefined;
        return isBag(op) ? pkOf(op.Key ?? op.Item) : undefined;
      });
    default:
      return undefined;
  }
}

/** Throws unless every partition key of the request belongs to the scope's tenant (or a prefix it shares). */
export function assertWithinTenant(scope: Pick<TenantScope, 'tenantId' | 'shared'>, commandName: string, input: Bag): void {
  const keys = leadingKeysOf(commandName, input);
  if (!keys || keys.length === 0) throw new TenantKeyRefused(scope.tenantId, `a ${commandName} with no partition key it names`);
  const allowed = [tenantKeyPrefix(scope.tenantId), ...scope.shared];
  for (const key of keys) {
    if (key === undefined) throw new TenantKeyRefused(scope.tenantId, `a ${commandName} item without a partition key`);
    if (!allowed.some((prefix) => key.startsWith(prefix))) throw new TenantKeyRefused(scope.tenantId, `partition key ${JSON.stringify(key)}`);
  }
}

/**
 * Installs the guard on a client's middleware stack (initialize step: before any request is
 * signed or sent). Outside a scope (jobs, consumers, the authorizer) it lets everything through.
 */
export function installTenantKeyGuard(client: DynamoDBDocumentClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const scope = storage.getStore();
      if (scope) assertWithinTenant(scope, String(context.commandName ?? ''), args.input as Bag);
      return next(args);
    },
    { step: 'initialize', name: 'tenantKeyGuard', priority: 'high' },
  );
}
