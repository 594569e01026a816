/**
 * Webhook deliveries: the fan-out of an event to its subscribers (the `webhooks` consumer), the
 * retries (`webhook-retry` job) and a manual retry, all through the same claim → send → record.
 *
 * FAN-OUT, per event: ONE strongly consistent Query of the tenant's webhooks; for the enabled ones
 * subscribed to the type (or `*`), ONE TransactWriteItems of their delivery items, each
 * `attribute_not_exists` (a redelivered event writes nothing twice; on a refusal each is Put
 * alone and only the new ones go on). Each item is written already claimed for attempt 1 (lease:
 * `nextAttemptAt` = timeout + 60 s, in the due index), so a sender that dies mid-attempt leaves
 * it for the job. Then every attempt at once, each with its own deadline, and ONE UpdateItem
 * each for its outcome: a slow receiver never holds up the others.
 *
 * CLAIMS. An attempt is claimed by incrementing `attempts` under a condition on the value read
 * (and, for the job, `status = pending AND nextAttemptAt <= now`); an outcome is recorded only
 * if `attempts` is still the claimed one. Two job runs never send one attempt twice at once; a
 * sender whose lease ran out and a newer claim can both send (at-least-once), and only the
 * newer one's outcome is kept.
 *
 * SCHEDULE (api/integrations.md): after a failed attempt the next is 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h later, then every 12 h ± 10 %, never past 72 h from the window's first attempt; the
 * 12th attempt of a window, or a failure at or after 72 h, fails the delivery. `410` fails it at
 * once and disables the webhook.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, notFound } from '#domain/errors.ts';
import { egressConfig, type EgressConfig } from '#domain/integrations/egress-policy.ts';
import { postJson, type AttemptResult } from '#domain/integrations/http-egress.ts';
import { signedHeaders, validSecrets } from '#domain/integrations/standard-webhooks.ts';
import {
  DELIVERY_TTL_SECONDS,
  deliveryFromItem,
  deliveryIndexKeys,
  deliveryKey,
  WEBHOOK_DUE_SHARDS,
  webhookDuePartition,
  webhookFromItem,
  webhookViewOfItem,
  webhookKey,
  webhooksPartition,
  type DeliveryStatus,
  type StoredDelivery,
  type StoredWebhook,
} from '#domain/integrations/webhook.ts';
import { db, tableName } from '#domain/table/client.ts';
import { sweepDue } from '#domain/table/due-sweep.ts';
import { getItem, queryAll } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import type { DomainEvent } from '#events/catalog.ts';

type Item = Record<string, unknown>;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** Delay after the 1st, 2nd … 6th failed attempt of a window; later ones wait LATER_DELAY_MS. */
export const RETRY_DELAYS_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR];
export const LATER_DELAY_MS = 12 * HOUR;
export const MAX_ATTEMPTS = 12;
export const RETRY_WINDOW_MS = 72 * HOUR;
/** How long past its deadline an attempt in flight keeps its claim before the job may take it over. */
const LEASE_MARGIN_MS = 60 * SECOND;

/** When to try again after an attempt of a window failed at `failedAt`; null: the delivery has failed. */
export function nextAttemptAt(failedAt: Date, windowStart: Date, windowAttempts: number, random: () => number = Math.random): Date | null {
  const end = windowStart.getTime() + RETRY_WINDOW_MS;
  if (windowAttempts >= MAX_ATTEMPTS || failedAt.getTime() >= end) return null;
  const delay = RETRY_DELAYS_MS[windowAttempts - 1] ?? LATER_DELAY_MS * (0.9 + 0.2 * random());
  return new Date(Math.min(failedAt.getTime() + delay, end));
}

export interface DeliveryOptions {
  now?: Date;
  /** Jitter of the 12-hourly retries (tests pin it). */
  random?: () => number;
  egress?: EgressConfig;
}

const leaseUntil = (now: Date, cfg: EgressConfig) => new Date(now.getTime() + cfg.timeoutMs + LEASE_MARGIN_MS).toISOString();

// ---------------------------------------------------------------------------------------
// Fan-out (the `webhooks` consumer)

export interface FanOutReport {
  /** Subscribed webhooks (enabled, listening to the type). */
  subscribed: number;
  /** Deliveries this call created and attempted (a redelivered event finds them made). */
  attempted: number;
  outcomes: Record<string, DeliveryStatus | 'superseded'>;
}

export async function fanOutEvent(event: DomainEvent, opts: DeliveryOptions = {}): Promise<FanOutReport> {
  const now = opts.now ?? new Date();
  const cfg = opts.egress ?? egressConfig();
  const items = await queryAll({ pk: webhooksPartition(event.tenantId), sk: { beginsWith: 'WEBHOOK#' }, consistent: true }, () => false);
  // Only the subscribers' secrets are opened (one KMS Decrypt each).
  const wanted = items.filter((item) => {
    const w = webhookViewOfItem(item);
    return w.enabled && (w.events.includes('*') || w.events.includes(event.type));
  });
  const subscribed = await Promise.all(wanted.map(webhookFromItem));
  const report: FanOutReport = { subscribed: subscribed.length, attempted: 0, outcomes: {} };
  if (subscribed.length === 0) return report;

  // The body every attempt of every subscriber sends, byte for byte (what the signature covers).
  const payload = JSON.stringify({ id: event.id, type: event.type, occurredAt: event.occurredAt, data: event.data });
  const fresh = subscribed.map((w) => ({ webhook: w, delivery: firstClaim(event, w.id, payload, now, cfg) }));
  const written = await putNew(fresh);
  report.attempted = written.length;
  await Promise.all(
    written.map(async ({ webhook, delivery }) => {
      const recorded = await attemptAndRecord(webhook, delivery, now, opts.random ?? Math.random, cfg);
      report.outcomes[webhook.id] = recorded?.status ?? 'superseded';
    }),
  );
  return report;
}

function firstClaim(event: DomainEvent, webhookId: string, payload: string, now: Date, cfg: EgressConfig): StoredDelivery {
  const at = now.toISOString();
  return {
    tenantId: event.tenantId,
    id: event.id,
    webhookId,
    eventId: event.id,
    eventType: event.type,
    status: 'pending',
    attempts: 1,
    createdAt: at,
    lastAttemptAt: at,
    nextAttemptAt: leaseUntil(now, cfg),
    lastStatusCode: null,
    lastError: null,
    payload,
    windowStart: at,
    windowAttempts: 1,
  };
}

function deliveryItem(d: StoredDelivery): Item {
  return {
    ...deliveryKey(d.tenantId, d.webhookId, d.eventId),
    ...d,
    entityType: 'WEBHOOK_DELIVERY',
    ...deliveryIndexKeys(d),
    expiresAt: Math.floor(Date.parse(d.createdAt) / 1000) + DELIVERY_TTL_SECONDS,
  };
}

/** Writes the deliveries that do not exist yet (one transaction; one Put each when some do) and answers those. */
async function putNew<T extends { delivery: StoredDelivery }>(fresh: T[]): Promise<T[]> {
  const condition = { ConditionExpression: 'attribute_not_exists(PK)' };
  if (fresh.length <= 100) {
    try {
      await db.send(new TransactWriteCommand({ TransactItems: fresh.map(({ delivery }) => ({ Put: { TableName: tableName(), Item: deliveryItem(delivery), ...condition } })) }));
      return fresh;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      // Some exist (a redelivered event) or the items are contended: each on its own.
    }
  }
  const made: T[] = [];
  await Promise.all(
    fresh.map(async (f) => {
      try {
        await db.send(new PutCommand({ TableName: tableName(), Item: deliveryItem(f.delivery), ...condition }));
        made.push(f);
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }),
  );
  return made;
}

// ---------------------------------------------------------------------------------------
// Send and record

/** Sends the claimed attempt `d.attempts` and records its outcome; undefined when a newer claim took the delivery over. */
async function attemptAndRecord(
  webhook: StoredWebhook,
  d: StoredDelivery,
  now: Date,
  random: () => number,
  cfg: EgressConfig,
  ctx?: UseCaseContext,
): Promise<StoredDelivery | undefined> {
  const headers = signedHeaders(validSecrets(webhook.secret, now), d.eventId, now, d.payload);
  const result = await postJson(webhook.url, headers, d.payload, cfg);
  const outcome = outcomeOf(d, result, now, random);
  const recorded = await record(outcome, ctx);
  if (recorded && result.error === 'gone') await disable(d.tenantId, webhook.id, now);
  return recorded;
}

function outcomeOf(d: StoredDelivery, result: AttemptResult, now: Date, random: () => number): StoredDelivery {
  const base = { ...d, lastStatusCode: result.statusCode, lastError: result.error };
  if (result.ok) return { ...base, status: 'succeeded', nextAttemptAt: null };
  const next = result.error === 'gone' ? null : nextAttemptAt(now, new Date(d.windowStart), d.windowAttempts, random);
  return next ? { ...base, status: 'pending', nextAttemptAt: next.toISOString() } : { ...base, status: 'failed', nextAttemptAt: null };
}

class Superseded extends Error {}

/** Writes an attempt's outcome if `attempts` is still the one claimed. */
async function record(after: StoredDelivery, ctx?: UseCaseContext): Promise<StoredDelivery | undefined> {
  const keys = deliveryIndexKeys(after);
  const due = 'duePk' in keys;
  const update = {
    expression:
      'SET #status = :status, nextAttemptAt = :next, lastStatusCode = :code, lastError = :error, parentPk = :ppk' +
      (due ? ', duePk = :dpk, dueSk = :dsk' : ' REMOVE duePk, dueSk'),
    names: { '#status': 'status', '#attempts': 'attempts' },
    values: {
      ':status': after.status,
      ':next': after.nextAttemptAt,
      ':code': after.lastStatusCode,
      ':error': after.lastError,
      ':ppk': keys.parentPk,
      ':claimed': after.attempts,
      ...(due ? { ':dpk': keys.duePk, ':dsk': keys.dueSk } : {}),
    },
  };
  const key = deliveryKey(after.tenantId, after.webhookId, after.eventId);
  try {
    if (ctx) {
      // A manual retry: through a unit of work, so an Idempotency-Key stores its answer with it.
      await new UnitOfWork(ctx)
        .update(key, { expression: update.expression, names: update.names, values: update.values }, {
          condition: '#attempts = :claimed',
          onConditionFailed: () => new Superseded(),
        })
        .commit(after);
    } else {
      await db.send(
        new UpdateCommand({
          TableName: tableName(),
          Key: key,
          UpdateExpression: update.expression,
          ConditionExpression: '#attempts = :claimed',
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
        }),
      );
    }
    return after;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException || err instanceof Superseded) return undefined;
    throw err;
  }
}

/** `410 Gone`: the receiver asks us to stop. */
async function disable(tenantId: string, webhookId: string, now: Date): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: webhookKey(tenantId, webhookId),
        UpdateExpression: 'SET enabled = :off, updatedAt = :at, version = version + :one',
        ConditionExpression: 'attribute_exists(PK) AND enabled = :on',
        ExpressionAttributeValues: { ':off': false, ':on': true, ':at': now.toISOString(), ':one': 1 },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Claims

/**
 * Claims the next attempt of `d` at `now` (attempts + 1). `due`: only if still pending and due
 * (the job); otherwise whatever its state (a manual retry, which opens a new window for a
 * finished delivery). Undefined when `d` changed since it was read.
 */
async function claim(d: StoredDelivery, now: Date, cfg: EgressConfig, due: boolean): Promise<StoredDelivery | undefined> {
  const newWindow = d.status !== 'pending';
  const claimed: StoredDelivery = {
    ...d,
    status: 'pending',
    attempts: d.attempts + 1,
    lastAttemptAt: now.toISOString(),
    nextAttemptAt: leaseUntil(now, cfg),
    windowStart: newWindow ? now.toISOString() : d.windowStart,
    windowAttempts: newWindow ? 1 : d.windowAttempts + 1,
  };
  const keys = deliveryIndexKeys(claimed);
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: deliveryKey(d.tenantId, d.webhookId, d.eventId),
        UpdateExpression:
          'SET #status = :pending, #attempts = :claimed, lastAttemptAt = :at, nextAttemptAt = :lease, windowStart = :ws, windowAttempts = :wa, parentPk = :ppk, duePk = :dpk, dueSk = :dsk',
        ConditionExpression: due ? '#attempts = :seen AND #status = :pending AND nextAttemptAt <= :at' : '#attempts = :seen',
        ExpressionAttributeNames: { '#status': 'status', '#attempts': 'attempts' },
        ExpressionAttributeValues: {
          ':pending': 'pending',
          ':claimed': claimed.attempts,
          ':seen': d.attempts,
          ':at': claimed.lastAttemptAt,
          ':lease': claimed.nextAttemptAt,
          ':ws': claimed.windowStart,
          ':wa': claimed.windowAttempts,
          ':ppk': keys.parentPk,
          ':dpk': keys.duePk,
          ':dsk': keys.dueSk,
        },
      }),
    );
    return claimed;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Manual retry (`POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry`)

export async function retryDeliveryNow(ctx: UseCaseContext, webhook: StoredWebhook, deliveryId: string, opts: DeliveryOptions = {}): Promise<StoredDelivery> {
  const cfg = opts.egress ?? egressConfig();
  const tenantId = ctx.identity.tenantId;
  for (let round = 0; round < 5; round++) {
    const item = await getItem(deliveryKey(tenantId, webhook.id, deliveryId));
    if (!item) throw notFound('delivery');
    const claimed = await claim(deliveryFromItem(item), ctx.now, cfg, false);
    if (!claimed) continue;
    const recorded = await attemptAndRecord(webhook, claimed, ctx.now, opts.random ?? Math.random, cfg, ctx);
    if (recorded) return recorded;
    // Another claim recorded first: answer the delivery as it now is.
    const now = await db.send(new GetCommand({ TableName: tableName(), Key: deliveryKey(tenantId, webhook.id, deliveryId), ConsistentRead: true }));
    if (!now.Item) throw notFound('delivery');
    return deliveryFromItem(now.Item);
  }
  throw conflict('concurrent_update', 'The delivery is being attempted by another request; retry it.');
}

// ---------------------------------------------------------------------------------------
// The `webhook-retry` job

export interface WebhookRetryOptions extends DeliveryOptions {
  timeLeftMs?: () => number;
  /** Due deliveries read, and attempted at once, per page. */
  pageSize?: number;
}

export type WebhookRetryReport = {
  job: 'webhook-retry';
  now: string;
  /** Due deliveries acted on: attempted, or failed because their webhook is gone or disabled. */
  processed: number;
  succeeded: number;
  /** Deliveries that became `failed` in this run. */
  failed: number;
  /** Attempted, failed, and due again later. */
  retried: number;
  /** Due items another run (or a manual retry) claimed first. */
  dropped: number;
  complete: boolean;
};

export async function runWebhookRetry(opts: WebhookRetryOptions = {}): Promise<WebhookRetryReport> {
  const now = opts.now ?? new Date();
  const cfg = opts.egress ?? egressConfig();
  const random = opts.random ?? Math.random;
  const report: WebhookRetryReport = { job: 'webhook-retry', now: now.toISOString(), processed: 0, succeeded: 0, failed: 0, retried: 0, dropped: 0, complete: true };
  const webhooks = new Map<string, Promise<StoredWebhook | undefined>>();
  const webhookOf = (tenantId: string, id: string) => {
    const k = `${tenantId}\u0000${id}`;
    let p = webhooks.get(k);
    if (!p) webhooks.set(k, (p = getItem(webhookKey(tenantId, id)).then(async (item) => (item ? webhookFromItem(item) : undefined))));
    return p;
  };
  const partitions = Array.from({ length: WEBHOOK_DUE_SHARDS }, (_, shard) => webhookDuePartition(shard));
  report.complete = await sweepDue(
    { partitions, before: now.toISOString(), pageSize: opts.pageSize ?? 25, ...(opts.timeLeftMs ? { timeLeftMs: opts.timeLeftMs } : {}) },
    async (items) => {
      // A page's attempts run at once, each with its own deadline: one slow receiver holds up nothing.
      const outcomes = await Promise.all(items.map(async (item) => retryDue(deliveryFromItem(item), await webhookOf(item.tenantId as string, item.webhookId as string), now, random, cfg)));
      for (const o of outcomes) {
        if (o === 'dropped') report.dropped++;
        else {
          report.processed++;
          report[o]++;
        }
      }
    },
  );
  return report;
}

async function retryDue(d: StoredDelivery, webhook: StoredWebhook | undefined, now: Date, random: () => number, cfg: EgressConfig): Promise<'succeeded' | 'failed' | 'retried' | 'dropped'> {
  if (!webhook || !webhook.enabled) {
    // Nothing to send to: the delivery ends here, visibly, without an attempt (conditioned on `attempts` as read).
    const ended = await record({ ...d, status: 'failed', nextAttemptAt: null, lastError: webhook ? 'webhook_disabled' : 'webhook_deleted' });
    return ended ? 'failed' : 'dropped';
  }
  const claimed = await claim(d, now, cfg, true);
  if (!claimed) return 'dropped';
  const recorded = await attemptAndRecord(webhook, claimed, now, random, cfg);
  if (!recorded) return 'dropped';
  return recorded.status === 'pending' ? 'retried' : recorded.status;
}
