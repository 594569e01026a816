/**
 * The suppression list (api/marketing.md): a tenant's addresses that no campaign, survey or
 * workflow email may reach, compared normalized (trimmed, lower-cased).
 *
 * One item per address, `T#t#SUPP#<normalized email>` / `SUPP`, listed through the tenant's
 * `byType` partition `T#t#SUPP` in address order. An entry is a stored resource like any other
 * (API.md §3): its `id` is the normalized address, with `createdAt`, `updatedAt`, `version`.
 *
 * - Adding is idempotent: a Put conditioned on the item's absence; an existing entry is left as
 *   it is (`created: false`)…
 * - …except that `complained` wins: a complaint about an address already suppressed for another
 *   reason turns the entry into `complained` (version + 1, `campaignId` of the complaint), so it
 *   can never be deleted afterwards. A complaint is the strongest signal a recipient can give
 *   (and mail providers act on it); the entry keeps its `createdAt`.
 * - Deleting is conditioned on the entry not being `complained` (`409 suppression_locked`), in
 *   the same request, so a complaint that lands between our read and our delete still wins.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, notFound, versionMismatch } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { requireRole } from '#domain/identity.ts';
import { retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { db, tableName } from '#domain/table/client.ts';
import { stripKeys, t } from '#domain/table/keys.ts';
import { getItem, getItems, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';

/** A suppression's id: its normalized address (RFC 5321 allows 64 + 1 + 255 characters). */
export const MAX_SUPPRESSION_ID = 320;

export const SUPPRESSION_REASONS = ['unsubscribed', 'bounced', 'complained', 'manual'] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface Suppression {
  /** The normalized address. */
  id: string;
  email: string;
  reason: SuppressionReason;
  campaignId?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** An entry as clients see it (get, list, add). */
export const suppressionView = z.lazy(() =>
  z.object({
    id: f.upTo(MAX_SUPPRESSION_ID).check(z.describe('the normalized address: the `{id}` of /v1/suppressions/{id}')),
    email: f.out.email,
    reason: z.enum(SUPPRESSION_REASONS),
    campaignId: z.optional(f.out.id).check(z.describe('the campaign whose email led to it (unsubscribes, bounces, complaints)')),
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);

/** Who manages the list. */
export const MARKETING_ROLES = ['admin', 'marketer'] as const;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const suppressionKey = (tenantId: string, email: string) => ({ PK: `${t(tenantId)}#SUPP#${normalizeEmail(email)}`, SK: 'SUPP' });
export const suppressionPartition = (tenantId: string) => `${t(tenantId)}#SUPP`;

export const suppressionBody = z.lazy(() => z.strictObject({ email: f.email }));
export type SuppressionBody = z.infer<typeof suppressionBody>;
/**
 * The `{id}` of `/v1/suppressions/{id}` is the address itself (an entry's id is its normalized
 * email): any segment of up to 320 characters passes, and one that names no entry is a 404 like
 * any missing id. The local router percent-decodes path segments; should a gateway hand one over
 * still encoded (`a%40b.com`), it is decoded here: no stored address holds a `%`.
 */
export const suppressionParams = z.lazy(() => z.strictObject({ id: f.text(1, MAX_SUPPRESSION_ID) }));

export function emailFromPath(id: string): string {
  if (!id.includes('%')) return id;
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

function newSuppression(email: string, entry: { reason: SuppressionReason; campaignId?: string | undefined; now: Date }): Suppression {
  const at = entry.now.toISOString();
  const id = normalizeEmail(email);
  return { id, email: id, reason: entry.reason, ...(entry.campaignId ? { campaignId: entry.campaignId } : {}), createdAt: at, updatedAt: at, version: 1 };
}

function toItem(tenantId: string, s: Suppression): Record<string, unknown> {
  return { ...suppressionKey(tenantId, s.email), ...s, tenantId, entityType: 'SUPPRESSION', typePk: suppressionPartition(tenantId), typeSk: s.email };
}

const fromItem = (item: Record<string, unknown>) => stripKeys<Suppression>(item);

/** The normalized addresses among `emails` that are suppressed (BatchGetItem, ≤100 keys per call). */
export async function suppressedAmong(tenantId: string, emails: string[]): Promise<Set<string>> {
  const wanted = [...new Set(emails.map(normalizeEmail))].filter((e) => e.length > 0);
  const found = new Set<string>();
  for (let i = 0; i < wanted.length; i += 100) {
    const chunk = wanted.slice(i, i + 100);
    const items = await getItems(chunk.map((e) => suppressionKey(tenantId, e)));
    items.forEach((item, j) => {
      if (item) found.add(chunk[j]!);
    });
  }
  return found;
}

/**
 * Adds (idempotently; an existing entry is left unchanged, except that `complained` replaces
 * any other reason) — `created` tells whether it was new. For jobs and consumers (unsubscribes,
 * bounces, complaints); the API's POST is `addSuppression`.
 */
export async function suppress(
  tenantId: string,
  email: string,
  entry: { reason: SuppressionReason; campaignId?: string; now: Date },
): Promise<{ created: boolean }> {
  const s = newSuppression(email, entry);
  try {
    await db.send(new PutCommand({ TableName: tableName(), Item: toItem(tenantId, s), ConditionExpression: 'attribute_not_exists(PK)' }));
    return { created: true };
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  if (entry.reason === 'complained') await escalateToComplained(tenantId, s);
  return { created: false };
}

/** An existing entry of another reason becomes `complained`; a complained one stays as it is. */
async function escalateToComplained(tenantId: string, s: Suppression): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: suppressionKey(tenantId, s.email),
        UpdateExpression: s.campaignId
          ? 'SET #r = :c, updatedAt = :at, #v = #v + :one, campaignId = :cid'
          : 'SET #r = :c, updatedAt = :at, #v = #v + :one REMOVE campaignId',
        ConditionExpression: 'attribute_exists(PK) AND #r <> :c',
        ExpressionAttributeNames: { '#r': 'reason', '#v': 'version' },
        ExpressionAttributeValues: { ':c': 'complained', ':at': s.updatedAt, ':one': 1, ...(s.campaignId ? { ':cid': s.campaignId } : {}) },
      }),
    );
  } catch (err) {
    // Already complained (or deleted meanwhile, by a manual delete that came first: then the
    // complaint is recorded anew).
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    const now = await getItem(suppressionKey(tenantId, s.email));
    if (!now) await suppress(tenantId, s.email, { reason: 'complained', ...(s.campaignId ? { campaignId: s.campaignId } : {}), now: new Date(s.createdAt) });
  }
}

/**
 * Lists `email` within the caller's transaction, for a use case whose other writes must land with
 * it or not at all (an unsubscribe: the suppression, the recipient's mark, its count and event).
 * Absent now: a Put conditioned on its absence joins `uow`; listed already: nothing joins (the
 * entry stays as it is). An entry written between this read and the commit fails the condition
 * with `VersionRace`, so `retryOnVersionRace` around the use case reads again. Not for
 * complaints, which change an existing entry (`suppress`).
 */
export async function suppressWithin(
  uow: UnitOfWork,
  tenantId: string,
  email: string,
  entry: { reason: Exclude<SuppressionReason, 'complained'>; campaignId?: string; now: Date },
): Promise<{ created: boolean }> {
  if (await getItem(suppressionKey(tenantId, email))) return { created: false };
  uow.put(toItem(tenantId, newSuppression(email, entry)), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new VersionRace() });
  return { created: true };
}

// ---------------------------------------------------------------------------------------
// Use cases (HTTP)

class AlreadySuppressed extends Error {}

/** `POST /v1/suppressions {email}`: `manual`; `created: false` (200) when the address is already listed, unchanged. */
export interface Added {
  created: boolean;
  suppression: Suppression;
}

export async function addSuppression(ctx: UseCaseContext, body: SuppressionBody): Promise<Added> {
  requireRole(ctx.identity, ...MARKETING_ROLES);
  const tenantId = ctx.identity.tenantId;
  const s = newSuppression(body.email, { reason: 'manual', now: ctx.now });
  const uow = new UnitOfWork(ctx).put(toItem(tenantId, s), {
    condition: 'attribute_not_exists(PK)',
    onConditionFailed: () => new AlreadySuppressed(),
  });
  try {
    return await uow.commit({ created: true, suppression: s });
  } catch (err) {
    if (!(err instanceof AlreadySuppressed)) throw err;
    // Strongly consistent: the entry that refused our Put is there (a delete since is a retry's business).
    const existing = await getItem(suppressionKey(tenantId, s.email));
    if (!existing) return addSuppression(ctx, body);
    return { created: false, suppression: fromItem(existing) };
  }
}

/** An entry, 404 first (another tenant's address looks like a missing one to every role), then 403 outside marketing. */
async function loadManaged(ctx: UseCaseContext, email: string): Promise<Suppression> {
  const item = await getItem(suppressionKey(ctx.identity.tenantId, email));
  if (!item) throw notFound('suppression');
  requireRole(ctx.identity, ...MARKETING_ROLES);
  return fromItem(item);
}

export async function getSuppression(ctx: UseCaseContext, email: string): Promise<Suppression> {
  return loadManaged(ctx, email);
}

export const suppressionLocked = () =>
  conflict('suppression_locked', 'A complaint suppressed this address; it can never be removed from the list.');

class Complained extends Error {}

export async function deleteSuppression(ctx: UseCaseContext, email: string, ifMatch: number | undefined): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  await retryOnVersionRace(ifMatch, async () => {
    const s = await loadManaged(ctx, email);
    if (ifMatch !== undefined && ifMatch !== s.version) throw versionMismatch();
    if (s.reason === 'complained') throw suppressionLocked();
    const uow = new UnitOfWork(ctx).delete(suppressionKey(tenantId, email), {
      condition: '#v = :v AND #r <> :c',
      names: { '#v': 'version', '#r': 'reason' },
      values: { ':v': s.version, ':c': 'complained' },
      onConditionFailed: (current) => (current?.reason === 'complained' ? new Complained() : new VersionRace()),
    });
    try {
      await uow.commit(undefined);
    } catch (err) {
      if (err instanceof Complained) throw suppressionLocked();
      throw err;
    }
  });
}

export async function listSuppressions(ctx: UseCaseContext, page: PageRequest): Promise<Page<Suppression>> {
  requireRole(ctx.identity, ...MARKETING_ROLES);
  return queryPage({ index: 'byType', pk: suppressionPartition(ctx.identity.tenantId) }, page, fromItem);
}
