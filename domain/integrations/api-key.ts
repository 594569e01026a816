/**
 * An API key (api/integrations.md "API keys"): its shape, where it is kept, and how a bearer
 * value is checked. Small on purpose: the authorizer (functions/auth/authorizer.ts) bundles
 * this module and nothing of the use cases (api-keys.ts).
 *
 * Two items per key, written together and deleted together (one transaction each):
 * - the record, in the tenant: `T#t#APIKEY#<id>` / `APIKEY`, listed through `byType`
 *   `T#t#APIKEY` (`typeSk` = the id, a ULID: creation order). What the API shows, and the hash.
 * - the lookup item, keyed by the hash of the key: `APIKEY#<sha256(key) base64url>` / `APIKEY`,
 *   holding whom the key acts as. The authorizer knows nothing but the bearer value, so this is
 *   the one record key that cannot start with the tenant: authorizing a key is ONE GetItem.
 *
 * A key is `crm_` + 32 random bytes in base64url (256 bits). Its hash is one SHA-256, not a slow
 * hash: bcrypt or scrypt make guessing a low-entropy, person-chosen password expensive; nobody
 * can guess among 2^256 values, fast hash or not, and the check stays one GetItem plus a
 * microsecond of CPU on every cold authorization.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ROLES, type Identity, type Role } from '#domain/identity.ts';
import { db, tableName } from '#domain/table/client.ts';
import { t } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';

export const API_KEY_PREFIX = 'crm_';
/** `crm_` + base64url of 32 bytes. */
const KEY_PATTERN = /^crm_[A-Za-z0-9_-]{43}$/;
/** How many leading characters of a key its `prefix` shows, for recognising it in a list. */
export const PREFIX_LENGTH = 12;

/** The `userId` a key acts as. Token subjects never hold `:`, so no user can pass for a key. */
export const API_KEY_USER_PREFIX = 'apikey:';
export const apiKeyUserId = (keyId: string) => `${API_KEY_USER_PREFIX}${keyId}`;
/** The key id of an `apikey:<id>` caller, else undefined. */
export const apiKeyIdOf = (userId: string) => (userId.startsWith(API_KEY_USER_PREFIX) ? userId.slice(API_KEY_USER_PREFIX.length) : undefined);

export const newApiKeySecret = () => `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('base64url');
export const isApiKey = (bearer: string) => bearer.startsWith(API_KEY_PREFIX);

export const apiKeyKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#APIKEY#${id}`, SK: 'APIKEY' });
export const apiKeyPartition = (tenantId: string) => `${t(tenantId)}#APIKEY`;
export const apiKeyLookupKey = (hash: string) => ({ PK: `APIKEY#${hash}`, SK: 'APIKEY' });

/** The record as stored (the view in api-keys.ts shows all but `keyHash`). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  teamId: string | null;
  prefix: string;
  /** Stored under this name: `expiresAt` is the table's TTL attribute (epoch seconds). */
  keyExpiresAt: string | null;
  /** Absent until the key is first used. */
  lastUsedAt?: string;
  keyHash: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** What the lookup item holds: enough to act as the key without reading its record. */
interface Lookup {
  tenantId: string;
  keyId: string;
  role: Role;
  teamId: string | null;
  keyExpiresAt: string | null;
}

export function lookupItem(tenantId: string, key: ApiKeyRecord): Record<string, unknown> {
  const lookup: Lookup = { tenantId, keyId: key.id, role: key.role, teamId: key.teamId, keyExpiresAt: key.keyExpiresAt };
  return { ...apiKeyLookupKey(key.keyHash), ...lookup, entityType: 'APIKEY_LOOKUP' };
}

export interface KeyCaller {
  identity: Identity;
  /** When the key stops working, if ever: a cache must not outlive it. */
  expiresAt: Date | null;
}

/**
 * The caller a bearer value stands for, or undefined (malformed, unknown, deleted, expired).
 * One strongly consistent GetItem, none for a value that is not shaped like a key.
 */
export async function callerOfApiKey(key: string, now: Date): Promise<KeyCaller | undefined> {
  if (!KEY_PATTERN.test(key)) return undefined;
  const item = (await getItem(apiKeyLookupKey(hashApiKey(key)))) as Partial<Lookup> | undefined;
  if (!item?.tenantId || !item.keyId || !(ROLES as readonly string[]).includes(item.role ?? '')) return undefined;
  const expiresAt = item.keyExpiresAt ? new Date(item.keyExpiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) return undefined;
  return {
    identity: { tenantId: item.tenantId, userId: apiKeyUserId(item.keyId), role: item.role!, ...(item.teamId ? { teamId: item.teamId } : {}) },
    expiresAt,
  };
}

/** `lastUsedAt` moves at most once a minute. */
export const TOUCH_INTERVAL_MS = 60_000;
const touched = new Map<string, number>();

/**
 * Records that a key was used: a conditional UpdateItem (`lastUsedAt` unset or a minute old),
 * at most once a minute per key and container, so a warm container's requests cost nothing
 * more; several containers may each try once a minute, the condition lets one of them write.
 * Not a change of the resource: `version` and `updatedAt` stay.
 */
export async function touchApiKey(tenantId: string, keyId: string, now: Date): Promise<void> {
  const memo = `${tenantId}|${keyId}`;
  const last = touched.get(memo);
  if (last !== undefined && now.getTime() - last < TOUCH_INTERVAL_MS) return;
  touched.set(memo, now.getTime());
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: apiKeyKey(tenantId, keyId),
        UpdateExpression: 'SET lastUsedAt = :now',
        ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt <= :cutoff)',
        ExpressionAttributeValues: { ':now': now.toISOString(), ':cutoff': new Date(now.getTime() - TOUCH_INTERVAL_MS).toISOString() },
      }),
    );
  } catch (err) {
    // Another container wrote it within the minute, or the key was deleted meanwhile.
    if (err instanceof ConditionalCheckFailedException) return;
    touched.delete(memo); // not written: the next request tries again
    throw err;
  }
}
