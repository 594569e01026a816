/**
 * Outbound webhooks (api/integrations.md "Outbound webhooks"): the subscription, its delivery
 * records, their keys and their API shapes.
 *
 * Keys:
 *   - webhook    `T#t#WEBHOOKS` / `WEBHOOK#<id>`: every webhook of a tenant in ONE partition, so
 *                the delivery consumer finds an event's subscribers with one strongly consistent
 *                Query (a tenant has a handful; see docs/api-decisions.md), and the list is the same Query.
 *   - delivery   `T#t#WEBHOOK#<webhookId>#DELIVERY` / `<eventId>`: one per (webhook, event), Put
 *                `attribute_not_exists` (idempotent however often the event arrives); its id IS
 *                the event id (unique within its webhook, time-sorted: newest first is a descending Query).
 *                byParent `T#t#WEBHOOK#<webhookId>#DELIVERY#<status>` / `<eventId>`: the `?status=` lists.
 *                byDue, while pending, `DUE#WEBHOOK#<shard>` / `<nextAttemptAt>#<tenant>#<webhookId>#<eventId>`:
 *                what the `webhook-retry` job sweeps. TTL `expiresAt`: 30 days after creation.
 */
import { isSealed, open, seal, type SealContext } from '#domain/secrets/envelope.ts';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { RotatingSecret } from '#domain/integrations/standard-webhooks.ts';
import { stripKeys, t } from '#domain/table/keys.ts';
import { isEventType } from '#events/descriptions.ts';

type Item = Record<string, unknown>;

/** A webhook's event types (or patterns). */
export const MAX_EVENTS = 100;

export interface Webhook {
  id: string;
  url: string;
  /** Event types, or `["*"]` for every one. */
  events: string[];
  description?: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** A webhook as stored: with its signing secret (never in an answer but for create and rotate). */
export interface StoredWebhook extends Webhook {
  secret: RotatingSecret;
}

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

/** A delivery as stored: the exact body it sends, and where it is in its retry window. */
export interface StoredDelivery extends Delivery {
  tenantId: string;
  payload: string;
  /** Start of the current retry window (the first attempt; a manual retry of a finished delivery opens a new one). */
  windowStart: string;
  /** Attempts made in the current window. */
  windowAttempts: number;
}

export const WEBHOOK_DUE_SHARDS = 4;
export const DELIVERY_TTL_SECONDS = 30 * 24 * 60 * 60;

export const webhooksPartition = (tenantId: string) => `${t(tenantId)}#WEBHOOKS`;
export const webhookKey = (tenantId: string, id: string) => ({ PK: webhooksPartition(tenantId), SK: `WEBHOOK#${id}` });
export const deliveriesPartition = (tenantId: string, webhookId: string) => `${t(tenantId)}#WEBHOOK#${webhookId}#DELIVERY`;
export const deliveryKey = (tenantId: string, webhookId: string, eventId: string) => ({ PK: deliveriesPartition(tenantId, webhookId), SK: eventId });
export const deliveryStatusPartition = (tenantId: string, webhookId: string, status: DeliveryStatus) => `${deliveriesPartition(tenantId, webhookId)}#${status}`;
export const webhookDuePartition = (shard: number) => `DUE#WEBHOOK#${shard}`;
const dueShard = (eventId: string) => eventId.charCodeAt(eventId.length - 1) % WEBHOOK_DUE_SHARDS;

/** The index attributes of a delivery in `status`, due at `nextAttemptAt` while pending. */
export function deliveryIndexKeys(d: Pick<StoredDelivery, 'tenantId' | 'webhookId' | 'eventId' | 'status' | 'nextAttemptAt'>) {
  return {
    parentPk: deliveryStatusPartition(d.tenantId, d.webhookId, d.status),
    parentSk: d.eventId,
    ...(d.status === 'pending' && d.nextAttemptAt
      ? { duePk: webhookDuePartition(dueShard(d.eventId)), dueSk: `${d.nextAttemptAt}#${d.tenantId}#${d.webhookId}#${d.eventId}` }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------
// The secret: read and written here only. Sealed under the CRM secrets key (domain/secrets/envelope.ts:
// a data key per item, bound to the tenant and `webhook/<id>`); the item holds no plaintext. An item
// written before sealing (a plain `{current}`) still reads, and is sealed on its next write.

const secretContext = (tenantId: string, id: string): SealContext => ({ tenant: tenantId, resource: `webhook/${id}` });
export const sealSecret = async (tenantId: string, id: string, secret: RotatingSecret): Promise<Item> => ({ signing: await seal(secret, secretContext(tenantId, id)) });
export const openSecret = async (item: Item): Promise<RotatingSecret> =>
  isSealed(item.signing) ? open<RotatingSecret>(item.signing, secretContext(String(item.tenantId), String(item.id))) : (item.signing as RotatingSecret);

export async function webhookToItem(tenantId: string, w: StoredWebhook): Promise<Item> {
  const { secret, ...rest } = w;
  return { ...webhookKey(tenantId, w.id), ...rest, ...(await sealSecret(tenantId, w.id, secret)), tenantId, entityType: 'WEBHOOK' };
}

/** A webhook without its secret (nothing is decrypted): what lists and answers show. */
export function webhookViewOfItem(item: Item): Webhook {
  const { signing: _s, ...rest } = stripKeys<Webhook & { signing?: unknown }>(item);
  return rest;
}

export async function webhookFromItem(item: Item): Promise<StoredWebhook> {
  return { ...webhookViewOfItem(item), secret: await openSecret(item) };
}

export const publicWebhook = (w: StoredWebhook): Webhook => {
  const { secret: _s, ...rest } = w;
  return rest;
};

export function deliveryFromItem(item: Item): StoredDelivery {
  return { ...stripKeys<StoredDelivery>(item), tenantId: item.tenantId as string };
}

// ---------------------------------------------------------------------------------------
// API shapes, built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.

/** `["*"]`, or event types of the catalog (each at most once). */
const events = builtOnFirstUse(() =>
  z.pipe(
    z.array(z.string().check(z.trim(), z.minLength(1), z.maxLength(f.MAX.code))).check(
      z.minLength(1),
      z.maxLength(MAX_EVENTS),
      z.refine((types: string[]) => types.every((type) => type === '*' || isEventType(type)), {
        message: 'unknown event type (GET /v1/webhooks/event-types lists them)',
      }),
      z.refine((types: string[]) => !types.includes('*') || types.length === 1, { message: '"*" stands alone: it already means every event type' }),
    ),
    z.transform((types: string[]) => [...new Set(types)]),
  ),
);

/** The URL's rules are the egress policy's (`400 invalid_url`); the schema only bounds it. */
const url = builtOnFirstUse(() => f.text(1, 2048));

const webhookShape = builtOnFirstUse(() => ({
  url: url(),
  events: events(),
  description: z.optional(f.text(0, 1000)),
  enabled: z.optional(z.boolean()),
}));

export const webhookBody = z.lazy(() => z.strictObject(webhookShape()));
export type WebhookBody = z.infer<typeof webhookBody>;
export const webhookPatch = z.lazy(() => f.patchOf(webhookShape(), ['description']));
export type WebhookPatch = z.infer<typeof webhookPatch>;

const webhookViewObject = builtOnFirstUse(() =>
  z.object({
    id: f.out.id,
    url: f.out.url,
    events: z.array(f.out.code).check(z.maxLength(MAX_EVENTS)),
    description: z.optional(f.out.text),
    enabled: z.boolean(),
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);
export const webhookView = z.lazy(webhookViewObject);
/** Create and rotate-secret: the webhook and its (new) secret, shown this once. */
export const webhookWithSecretView = z.lazy(() => z.extend(webhookViewObject(), { secret: f.out.code }));

export const deliveryView = z.lazy(() =>
  z.object({
    id: f.out.id,
    eventId: f.out.id,
    eventType: f.out.code,
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.int(),
    createdAt: f.out.timestamp,
    lastAttemptAt: z.nullable(f.out.timestamp),
    nextAttemptAt: z.nullable(f.out.timestamp),
    lastStatusCode: z.nullable(z.int()),
    lastError: z.nullable(f.out.text),
  }),
);

export const eventTypeView = z.lazy(() => z.object({ type: f.out.code, version: z.int().check(z.minimum(1), z.maximum(1_000)), description: f.out.text }));

/** `{deliveryId}` of the retry route: an event id. */
export const deliveryParams = z.lazy(() => z.strictObject({ id: f.id, deliveryId: f.id }));
