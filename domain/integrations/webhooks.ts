/**
 * Outbound webhooks, the use cases behind `/v1/webhooks` (api/integrations.md): admins only.
 *
 * - Create and patch check the URL against the egress policy, resolving its name now (a name
 *   that resolves to a blocked address → `400 invalid_url`; one that does not resolve yet is
 *   accepted: every attempt resolves and checks again before it connects).
 * - The secret (`whsec_…`) is shown in the answers of create and rotate-secret only; a rotation
 *   keeps the old secret signing beside the new one for 24 hours (standard-webhooks.ts).
 * - A webhook id of another tenant is a 404 for every role, before the role's 403 (as every record).
 * - Writes are one conditional Put each (version-checked), so If-Match and races behave as for
 *   every record; webhooks emit no domain events of their own.
 */
import { sealResult } from '#domain/secrets/envelope.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, DomainError, notFound, versionMismatch } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { checkUrl, egressConfig, InvalidWebhookUrl, resolveTarget } from '#domain/integrations/egress-policy.ts';
import { newSecret, rotate } from '#domain/integrations/standard-webhooks.ts';
import {
  deliveriesPartition,
  deliveryFromItem,
  deliveryStatusPartition,
  publicWebhook,
  webhookFromItem,
  webhookViewOfItem,
  webhookKey,
  webhooksPartition,
  webhookToItem,
  type Delivery,
  type DeliveryStatus,
  type StoredWebhook,
  type Webhook,
  type WebhookBody,
  type WebhookPatch,
} from '#domain/integrations/webhook.ts';
import { retryDeliveryNow } from '#domain/integrations/webhook-deliveries.ts';
import { mergePatch, newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { encodeCursor, decodeCursor } from '#domain/table/cursor.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { eventTypes, type EventTypeInfo } from '#events/descriptions.ts';

export type WithSecret = Webhook & { secret: string };

/** How long create and patch wait for DNS before accepting a name they could not resolve. */
const CREATE_RESOLVE_TIMEOUT_MS = 3_000;

export const invalidUrl = (detail: string) => new DomainError(400, 'invalid_url', detail, {}, [{ path: 'body.url', message: detail }]);

/** The URL rules at create and patch: static, then the name's addresses as DNS answers now. */
async function assertDeliverable(url: string): Promise<void> {
  const cfg = egressConfig();
  let target;
  try {
    target = checkUrl(url, cfg);
  } catch (err) {
    if (err instanceof InvalidWebhookUrl) throw invalidUrl(err.message);
    throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  const resolution = await Promise.race([
    resolveTarget(target, cfg),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), CREATE_RESOLVE_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
  if (resolution && !resolution.ok && resolution.problem === 'blocked_address') throw invalidUrl(resolution.detail);
}

/** A webhook, 404 first (another tenant's id looks like a missing one to every role), then 403 for all but admins. */
async function load(ctx: UseCaseContext, id: string): Promise<StoredWebhook> {
  const item = await getItem(webhookKey(ctx.identity.tenantId, id));
  if (!item) throw notFound('webhook');
  requireRole(ctx.identity, 'admin');
  return await webhookFromItem(item);
}

const withSecret = (w: StoredWebhook): WithSecret => ({ ...publicWebhook(w), secret: w.secret.current });

async function putVersioned(ctx: UseCaseContext, before: StoredWebhook | undefined, after: StoredWebhook): Promise<UnitOfWork> {
  return new UnitOfWork(ctx).put(
    await webhookToItem(ctx.identity.tenantId, after),
    before
      ? { condition: 'version = :v', values: { ':v': before.version }, onConditionFailed: () => new VersionRace() }
      : { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error('webhook id collision') },
  );
}

export async function createWebhook(ctx: UseCaseContext, body: WebhookBody): Promise<WithSecret> {
  requireRole(ctx.identity, 'admin');
  await assertDeliverable(body.url);
  const at = ctx.now.toISOString();
  const webhook: StoredWebhook = {
    id: newId(ctx),
    url: body.url,
    events: body.events,
    ...(body.description ? { description: body.description } : {}),
    enabled: body.enabled ?? true,
    createdAt: at,
    updatedAt: at,
    version: 1,
    secret: { current: newSecret() },
  };
  return (await putVersioned(ctx, undefined, webhook)).commit(withSecret(webhook), { sealResult });
}

export async function getWebhook(ctx: UseCaseContext, id: string): Promise<Webhook> {
  return publicWebhook(await load(ctx, id));
}

export async function listWebhooks(ctx: UseCaseContext, page: PageRequest): Promise<Page<Webhook>> {
  requireRole(ctx.identity, 'admin');
  return queryPage({ pk: webhooksPartition(ctx.identity.tenantId), sk: { beginsWith: 'WEBHOOK#' } }, page, webhookViewOfItem);
}

export async function updateWebhook(ctx: UseCaseContext, id: string, patch: WebhookPatch, ifMatch: number | undefined): Promise<Webhook> {
  if (patch.url !== undefined) {
    // Visibility and role before the URL is even looked at.
    await load(ctx, id);
    await assertDeliverable(patch.url);
  }
  return retryOnVersionRace(ifMatch, async () => {
    const before = await load(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    const merged = mergePatch(before, patch as Record<string, unknown>);
    // Re-sending what is there changes nothing: same version (API.md: +1 per change). mergePatch keeps key order.
    if (JSON.stringify(merged) === JSON.stringify(before)) return publicWebhook(before);
    const after: StoredWebhook = { ...merged, updatedAt: ctx.now.toISOString(), version: before.version + 1 };
    return (await putVersioned(ctx, before, after)).commit(publicWebhook(after));
  });
}

export async function deleteWebhook(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const before = await load(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    await new UnitOfWork(ctx)
      .delete(webhookKey(ctx.identity.tenantId, id), { condition: 'version = :v', values: { ':v': before.version }, onConditionFailed: () => new VersionRace() })
      .commit(undefined);
  });
}

/** A new secret; the one it replaces keeps signing for 24 hours. */
export async function rotateWebhookSecret(ctx: UseCaseContext, id: string): Promise<WithSecret> {
  return retryOnVersionRace(undefined, async () => {
    const before = await load(ctx, id);
    const after: StoredWebhook = { ...before, secret: rotate(before.secret, ctx.now), updatedAt: ctx.now.toISOString(), version: before.version + 1 };
    return (await putVersioned(ctx, before, after)).commit(withSecret(after), { sealResult });
  });
}

/** The catalog's event types, paged like every list (the cursor holds the last type answered). */
export function listEventTypes(ctx: UseCaseContext, page: PageRequest): Page<EventTypeInfo> {
  requireRole(ctx.identity, 'admin');
  const after = page.cursor ? decodeCursor(page.scope, page.cursor).type : undefined;
  const rest = typeof after === 'string' ? eventTypes().filter((e) => e.type > after) : eventTypes();
  const items = rest.slice(0, page.limit);
  const more = rest.length > items.length;
  return { items, nextCursor: more ? encodeCursor(page.scope, { type: items.at(-1)!.type }) : null };
}

/** A webhook's deliveries, newest first, all or of one status. */
export async function listDeliveries(ctx: UseCaseContext, id: string, status: DeliveryStatus | undefined, page: PageRequest): Promise<Page<Delivery>> {
  await load(ctx, id);
  const tenantId = ctx.identity.tenantId;
  const spec = status
    ? { index: 'byParent' as const, pk: deliveryStatusPartition(tenantId, id, status), newestFirst: true }
    : { pk: deliveriesPartition(tenantId, id), newestFirst: true };
  return queryPage(spec, page, (item) => deliveryFromItem(item));
}

/** Attempts the delivery now, whatever its state; a finished one is pending again, with a new retry window. */
export async function retryDelivery(ctx: UseCaseContext, id: string, deliveryId: string): Promise<Delivery> {
  const webhook = await load(ctx, id);
  if (!webhook.enabled) throw conflict('webhook_disabled', 'The webhook is disabled; enable it (PATCH {"enabled": true}) to retry its deliveries.');
  return retryDeliveryNow(ctx, webhook, deliveryId);
}
