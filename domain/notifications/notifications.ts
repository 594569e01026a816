/**
 * Notifications (API.md "Notifications"): a user's own messages, newest first, with an
 * unread filter. `{id, kind, message, entityType?, entityId?, createdAt, readAt}`, plus
 * `version` / `updatedAt` like every stored resource and, for some kinds, `data`.
 *
 * One item per notification, `T#t#NOTIFICATION#<id>` / `NOTIFICATION`:
 *   - `byOwner` `T#t#NOTIFICATION#OWNER#<userId>`, `<inverted createdAt>#<id>`: all of a user's;
 *   - `byParent` `T#t#NOTIFICATION#UNREAD#<userId>`, same sort key: only the unread ones
 *     (marking one read removes those two attributes), so `?unread=true` is a key, not a filter.
 * Notifications expire (TTL) after 400 days.
 *
 * Producers add a notification to their own transaction (`addNotification`). Its id is what
 * makes it exactly-once: an event consumer uses the event's id, a job an id derived from what
 * it notifies about (`derivedId`), and the Put is conditioned on the id being new.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import * as f from '#domain/fields.ts';
import { notFound } from '#domain/errors.ts';
import { db, tableName } from '#domain/table/client.ts';
import { invertedTime, t } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import type { UnitOfWork } from '#domain/table/transaction.ts';

export const NOTIFICATION_KINDS = ['pool.reminder', 'pool.released', 'task.assigned', 'task.due', 'workflow.alert', 'ticket.assigned', 'ticket.sla_warning', 'ticket.sla_breached'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface Notification {
  id: string;
  kind: NotificationKind;
  message: string;
  entityType?: string;
  entityId?: string;
  /** Facts behind the message, by kind (e.g. a reminder's `releaseAt` and `daysBefore`). */
  data?: Record<string, unknown>;
  createdAt: string;
  readAt: string | null;
  updatedAt: string;
  version: number;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** The notification as every route answers it. */
export const notificationView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      kind: z.enum(NOTIFICATION_KINDS),
      message: f.out.text,
      entityType: z.optional(f.out.code.check(z.describe('what it is about: account, task, ticket…'))),
      entityId: z.optional(f.out.id),
      data: z.optional(z.record(f.out.text, z.unknown()).check(z.describe("facts behind the message, by kind (a reminder's releaseAt, daysBefore…)"))),
      readAt: z.nullable(f.out.timestamp),
    })
    .check(z.meta({ id: 'Notification', description: "One of the caller's own notifications." })),
);

/**
 * Kept 400 days: longer than any reminder cycle can look ahead (remindBeforeDays ≤ 365), so the
 * derived id of a reminder still guards against a second one until its cycle is over.
 */
const TTL_SECONDS = 400 * 24 * 60 * 60;

export const notificationKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#NOTIFICATION#${id}`, SK: 'NOTIFICATION' });
const allPartition = (tenantId: string, userId: string) => `${t(tenantId)}#NOTIFICATION#OWNER#${userId}`;
const unreadPartition = (tenantId: string, userId: string) => `${t(tenantId)}#NOTIFICATION#UNREAD#${userId}`;

/** A stable id for a notification about exactly this (e.g. account, cycle and reminder day): the same parts, the same id. */
export function derivedId(...parts: string[]): string {
  return `N${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 26).replace(/[^A-Za-z0-9]/g, 'x')}`;
}

export interface NewNotification {
  /** Default: a new ULID. A derived or event id makes the notification exactly-once. */
  id?: string;
  userId: string;
  kind: NotificationKind;
  message: string;
  entityType?: string;
  entityId?: string;
  data?: Record<string, unknown>;
}

/** Thrown by the commit when a notification with this id already exists. */
export class NotificationExists extends Error {
  constructor(readonly id: string) {
    super(`notification ${id} exists`);
  }
}

/** Adds a notification to a unit of work; the commit fails with `NotificationExists` if its id is taken. */
export function addNotification(ctx: UseCaseContext, uow: UnitOfWork, n: NewNotification): Notification {
  const tenantId = ctx.identity.tenantId;
  const at = ctx.now.toISOString();
  const id = n.id ?? ulid(ctx.now.getTime());
  const record: Notification = {
    id,
    kind: n.kind,
    message: n.message,
    ...(n.entityType ? { entityType: n.entityType } : {}),
    ...(n.entityId ? { entityId: n.entityId } : {}),
    ...(n.data ? { data: n.data } : {}),
    createdAt: at,
    readAt: null,
    updatedAt: at,
    version: 1,
  };
  const sort = `${invertedTime(at)}#${id}`;
  uow.put(
    {
      ...notificationKey(tenantId, id),
      ...record,
      tenantId,
      entityType: 'NOTIFICATION',
      // The record's own `entityType` (what it is about) is stored as `about` (the item's is NOTIFICATION).
      ...(n.entityType ? { about: n.entityType } : {}),
      userId: n.userId,
      ownerPk: allPartition(tenantId, n.userId),
      ownerSk: sort,
      parentPk: unreadPartition(tenantId, n.userId),
      parentSk: sort,
      expiresAt: Math.floor(ctx.now.getTime() / 1000) + TTL_SECONDS,
    },
    { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new NotificationExists(id) },
  );
  return record;
}

function fromItem(item: Record<string, unknown>): Notification {
  return {
    id: item.id as string,
    kind: item.kind as NotificationKind,
    message: item.message as string,
    ...(item.about ? { entityType: item.about as string } : {}),
    ...(item.entityId ? { entityId: item.entityId as string } : {}),
    ...(item.data ? { data: item.data as Record<string, unknown> } : {}),
    createdAt: item.createdAt as string,
    readAt: (item.readAt as string | null | undefined) ?? null,
    updatedAt: item.updatedAt as string,
    version: item.version as number,
  };
}

// ---------------------------------------------------------------------------------------
// Use cases: every role reads and marks its own, and nobody else's (another user's id is a 404).

export async function listNotifications(ctx: UseCaseContext, filters: { unread?: boolean | undefined }, page: PageRequest): Promise<Page<Notification>> {
  const who = ctx.identity;
  const spec = filters.unread
    ? { index: 'byParent' as const, pk: unreadPartition(who.tenantId, who.userId) }
    : { index: 'byOwner' as const, pk: allPartition(who.tenantId, who.userId) };
  return queryPage(spec, page, (item) => (item.userId === who.userId ? fromItem(item) : undefined));
}

async function loadOwn(ctx: UseCaseContext, id: string): Promise<Notification> {
  const item = await getItem(notificationKey(ctx.identity.tenantId, id));
  if (!item || item.userId !== ctx.identity.userId) throw notFound('notification');
  return fromItem(item);
}

export async function getNotification(ctx: UseCaseContext, id: string): Promise<Notification> {
  return loadOwn(ctx, id);
}

/** Marks one read (`readAt`, version + 1); reading it again changes nothing. */
export async function markRead(ctx: UseCaseContext, id: string): Promise<Notification> {
  const who = ctx.identity;
  const at = ctx.now.toISOString();
  try {
    const out = await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: notificationKey(who.tenantId, id),
        UpdateExpression: 'SET readAt = :at, updatedAt = :at, version = version + :one REMOVE parentPk, parentSk',
        ConditionExpression: 'attribute_exists(PK) AND userId = :user AND (attribute_not_exists(readAt) OR attribute_type(readAt, :nullType))',
        ExpressionAttributeValues: { ':at': at, ':one': 1, ':user': who.userId, ':nullType': 'NULL' },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(out.Attributes!);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    // Not the caller's (404), or already read (200, as it is).
    return loadOwn(ctx, id);
  }
}
