/**
 * API keys for integrations (api/integrations.md "API keys"): create, list, read, delete.
 * Admins only (403 for any other role; an id of another tenant is a 404 first, like a missing one).
 * Shape, keys and the authorizer's lookup: api-key.ts.
 *
 * - Create: ONE transaction of the record, the lookup item (both `attribute_not_exists`) and the
 *   `apikey.created` event. The answer is the only place the key ever appears: what the
 *   transaction stores for an Idempotency-Key replay is the answer without it, so a retry gets
 *   the same 201 and id, and no `key` (the table never holds the key, not even for a day).
 * - Delete: ONE transaction deleting both items (the record conditioned on its version: If-Match,
 *   and a racing delete finds it gone: 404) and the `apikey.deleted` event. From then on a cache
 *   miss refuses the key; see docs/api-decisions.md for how soon in the cloud.
 */
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { notFound, validationFailed, versionMismatch } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { requireRole, ROLES } from '#domain/identity.ts';
import { newId } from '#domain/records.ts';
import { stripKeys } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import {
  apiKeyKey,
  apiKeyLookupKey,
  apiKeyPartition,
  hashApiKey,
  lookupItem,
  newApiKeySecret,
  PREFIX_LENGTH,
  type ApiKeyRecord,
} from '#domain/integrations/api-key.ts';

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const createApiKeyBody = z.lazy(() =>
  z.strictObject({
    name: f.name,
    role: z.enum(ROLES),
    /** The team a manager key sees, and the team of what a key owns. */
    teamId: z.optional(f.id),
    expiresAt: z.optional(f.timestamp),
  }),
);
export type CreateApiKeyBody = z.infer<typeof createApiKeyBody>;

/** A key as the API shows it: never the key, never its hash. */
const apiKeyViewObject = builtOnFirstUse(() =>
  z.object({
    id: f.out.id,
    name: f.out.name,
    role: z.enum(ROLES),
    teamId: z.nullable(f.out.id),
    prefix: f.out.code,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
    expiresAt: z.nullable(f.out.timestamp),
    lastUsedAt: z.nullable(f.out.timestamp),
  }),
);
export const apiKeyView = z.lazy(apiKeyViewObject);
export type ApiKeyView = z.infer<typeof apiKeyView>;
/** The create answer: the view and, the first time only, the key (an Idempotency-Key replay has none). */
export const createdApiKeyView = z.lazy(() => z.extend(apiKeyViewObject(), { key: z.optional(f.out.code) }));
export type CreatedApiKey = z.infer<typeof createdApiKeyView>;

export function apiKeyViewOf(key: ApiKeyRecord): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    teamId: key.teamId,
    prefix: key.prefix,
    createdAt: key.createdAt,
    updatedAt: key.updatedAt,
    version: key.version,
    expiresAt: key.keyExpiresAt,
    lastUsedAt: key.lastUsedAt ?? null,
  };
}

function recordItem(tenantId: string, key: ApiKeyRecord): Record<string, unknown> {
  return { ...apiKeyKey(tenantId, key.id), ...key, tenantId, entityType: 'APIKEY', typePk: apiKeyPartition(tenantId), typeSk: key.id };
}

const recordOf = (item: Record<string, unknown>) => stripKeys<ApiKeyRecord>(item);

export async function createApiKey(ctx: UseCaseContext, body: CreateApiKeyBody): Promise<CreatedApiKey> {
  requireRole(ctx.identity, 'admin');
  if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= ctx.now.getTime()) {
    throw validationFailed([{ path: 'body.expiresAt', message: 'must be in the future' }]);
  }
  const tenantId = ctx.identity.tenantId;
  const secret = newApiKeySecret();
  const at = ctx.now.toISOString();
  const key: ApiKeyRecord = {
    id: newId(ctx),
    name: body.name,
    role: body.role,
    teamId: body.teamId ?? null,
    prefix: secret.slice(0, PREFIX_LENGTH),
    keyExpiresAt: body.expiresAt ?? null,
    keyHash: hashApiKey(secret),
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const view = apiKeyViewOf(key);
  // A ULID or a 256-bit secret colliding is not a case to handle, but never an overwrite either.
  const fresh = { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error('API key id or hash already exists') };
  const { id, version, name, role, teamId, prefix, expiresAt } = view;
  await new UnitOfWork(ctx)
    .put(recordItem(tenantId, key), fresh)
    .put(lookupItem(tenantId, key), fresh)
    .emit('apikey.created', { type: 'apikey', id }, { id, version, name, role, teamId, prefix, expiresAt })
    .commit(view);
  return { ...view, key: secret };
}

/** A key of the caller's tenant: 404 before 403, so another tenant's id looks like a missing one to every role. */
async function loadManaged(ctx: UseCaseContext, id: string): Promise<ApiKeyRecord> {
  const item = await getItem(apiKeyKey(ctx.identity.tenantId, id));
  if (!item) throw notFound('API key');
  requireRole(ctx.identity, 'admin');
  return recordOf(item);
}

export async function getApiKey(ctx: UseCaseContext, id: string): Promise<ApiKeyView> {
  return apiKeyViewOf(await loadManaged(ctx, id));
}

export async function listApiKeys(ctx: UseCaseContext, page: PageRequest): Promise<Page<ApiKeyView>> {
  requireRole(ctx.identity, 'admin');
  return queryPage({ index: 'byType', pk: apiKeyPartition(ctx.identity.tenantId) }, page, (item) => apiKeyViewOf(recordOf(item)));
}

export async function deleteApiKey(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  const key = await loadManaged(ctx, id);
  if (ifMatch !== undefined && ifMatch !== key.version) throw versionMismatch();
  await new UnitOfWork(ctx)
    .delete(apiKeyKey(ctx.identity.tenantId, id), {
      condition: '#v = :v',
      names: { '#v': 'version' },
      values: { ':v': key.version },
      // Nothing changes a key's version: a failed condition means a racing delete got there first.
      onConditionFailed: () => notFound('API key'),
    })
    .delete(apiKeyLookupKey(key.keyHash))
    .emit('apikey.deleted', { type: 'apikey', id }, { id })
    .commit(undefined);
}
