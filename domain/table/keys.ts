/**
 * Key builders. Every key starts with the tenant (`T#<tenantId>`), and every segment
 * is labelled, so an item's key says what it is. The one exception is the sparse
 * `byDue` index: jobs sweep it across tenants, so its partitions are `DUE#<kind>#<shard>`
 * and the tenant is an attribute of the item.
 */
import { createHash } from 'node:crypto';

export type EntityType = 'ACCOUNT' | 'CONTACT' | 'ACTIVITY' | 'TASK' | 'USER' | 'LEAD' | 'QUOTE' | 'ORDER' | 'TARGET' | 'OPPORTUNITY' | 'PIPELINE' | 'TICKET';

export const t = (tenantId: string) => `T#${tenantId}`;

/** The main item of a record: its own partition, so get-by-id is one GetItem. */
export const entityKey = (tenantId: string, type: EntityType, id: string) => ({
  PK: `${t(tenantId)}#${type}#${id}`,
  SK: type,
});

/**
 * A uniqueness guard (domain/accounts/duplicates.ts): one item per normalized value a record
 * holds, e.g. `T#t#UNIQUE#ACCOUNT#NAME#星辰科技` / `UNIQUE`, Put with `attribute_not_exists`
 * in the record's own transaction. `namespace` is the holder's kind (ACCOUNT, CONTACT, LEAD).
 */
export const uniqueKey = (tenantId: string, namespace: string, kind: string, value: string) => ({
  PK: `${t(tenantId)}#UNIQUE#${namespace}#${kind}#${value}`,
  SK: 'UNIQUE',
});

/** An account's merge lock, beside the account in its partition (domain/accounts/merge.ts). */
export const mergeLockKey = (tenantId: string, accountId: string) => ({
  PK: `${t(tenantId)}#ACCOUNT#${accountId}`,
  SK: 'MERGE',
});

/** An account's collection in `byParent`: the account and all its children, for Customer 360. */
export const accountCollection = (tenantId: string, accountId: string) => `${t(tenantId)}#ACCOUNT#${accountId}`;
/** A contact's own collection, for activities of a contact that has no account. */
export const contactCollection = (tenantId: string, contactId: string) => `${t(tenantId)}#CONTACT#${contactId}`;
/** A lead's own collection in `byParent`: the activities logged on the lead. */
export const leadCollection = (tenantId: string, leadId: string) => `${t(tenantId)}#LEAD#${leadId}`;
/**
 * The open leads naming one company, in `byDue` (a tenant-first partition no job sweeps), by
 * the normalized company (normalize.ts `normalizeCompanyName`): several leads may share one, so
 * it is an index, not a guard; the duplicate search reads it.
 */
export const leadCompanyPartition = (tenantId: string, normalizedCompany: string) => `${t(tenantId)}#LEAD#COMPANY#${normalizedCompany}`;

/**
 * Sort-key ranks inside an account collection. Customer 360 reads the collection up to
 * (not including) `CLOSED`, so done tasks and other history never cost it a read.
 * Activities sort newest first inside their rank through an inverted timestamp.
 */
export const rank = {
  ACCOUNT: '0',
  CONTACT: '1',
  OPPORTUNITY: '2',
  QUOTE: '3',
  ORDER: '4',
  TICKET: '5',
  OPEN_TASK: '6',
  ACTIVITY: '7',
  CLOSED: '8',
} as const;

export const ownerPartition = (tenantId: string, type: EntityType, ownerId: string) =>
  `${t(tenantId)}#${type}#OWNER#${ownerId}`;
export const teamPartition = (tenantId: string, type: EntityType, teamId: string) =>
  `${t(tenantId)}#${type}#TEAM#${teamId}`;
export const typePartition = (tenantId: string, type: EntityType) => `${t(tenantId)}#${type}`;

export const idempotencyKey = (tenantId: string, userId: string, key: string) => ({
  PK: `${t(tenantId)}#IDEMPOTENCY#${userId}#${createHash('sha256').update(key).digest('base64url')}`,
  SK: 'IDEMPOTENCY',
});

export const OUTBOX_SHARDS = 4;
export const outboxKey = (tenantId: string, eventId: string) => ({ PK: `${t(tenantId)}#OUTBOX#${eventId}`, SK: 'OUTBOX' });
export const outboxDuePartition = (shard: number) => `DUE#OUTBOX#${shard}`;
/** A ULID ends in random characters: its last one spreads events evenly over the shards. */
export const outboxShard = (eventId: string) => eventId.charCodeAt(eventId.length - 1) % OUTBOX_SHARDS;

/** One consumer's record that it has applied an event: the guard that makes redelivery harmless. */
export const consumedKey = (tenantId: string, consumer: string, eventId: string) => ({
  PK: `${t(tenantId)}#CONSUMED#${consumer}#${eventId}`,
  SK: 'CONSUMED',
});

export const auditKey = (tenantId: string, entityType: string, entityId: string, eventId: string) => ({
  PK: `${t(tenantId)}#AUDIT#${entityType}#${entityId}`,
  SK: `EVENT#${eventId}`,
});

/** Case- and width-insensitive sort/search form of a name: NFKC, lower case, collapsed spaces. */
export function nameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** Newest-first ordering inside an ascending sort key: 9999... minus the epoch millis, zero padded. */
export function invertedTime(iso: string): string {
  return String(9_999_999_999_999 - Date.parse(iso)).padStart(13, '0');
}

/** Attributes that are keys, not data: stripped before a record leaves the table layer. */
export const KEY_ATTRIBUTES = [
  'PK', 'SK', 'parentPk', 'parentSk', 'ownerPk', 'ownerSk', 'teamPk', 'teamSk', 'typePk', 'typeSk', 'duePk', 'dueSk',
  'entityType', 'tenantId', 'expiresAt', 'nameKey', 'ownerTeamId',
] as const;

export function stripKeys<T>(item: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...item };
  for (const k of KEY_ATTRIBUTES) delete out[k];
  return out as T;
}
