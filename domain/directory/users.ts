/**
 * The users directory (API.md §5 "users"): one item per user, written from verified
 * tokens. A container remembers whom it has recorded, so a warm request costs nothing;
 * a new user or a changed role or team is written before the request is answered.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { validationFailed } from '#domain/errors.ts';
import { requireRole, ROLES, type Identity } from '#domain/identity.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey, stripKeys, typePartition } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';

export interface DirectoryUser {
  userId: string;
  role: string;
  teamId: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** A directory entry as `GET /v1/users` lists it. */
export const userView = z.lazy(() =>
  z
    .object({
      userId: f.out.id,
      role: z.enum(ROLES),
      teamId: z.nullable(f.out.id),
      firstSeenAt: f.out.timestamp,
      lastSeenAt: f.out.timestamp,
    })
    .check(z.meta({ id: 'User', description: "A user of the tenant, as its verified tokens last said." })),
);

/** How stale `lastSeenAt` may get before a warm container refreshes it. */
const REFRESH_MS = 60 * 60 * 1000;
const recorded = new Map<string, number>();

export async function recordUser(who: Identity, now: Date): Promise<void> {
  const memo = `${who.tenantId}|${who.userId}|${who.role}|${who.teamId ?? ''}`;
  const last = recorded.get(memo);
  if (last !== undefined && now.getTime() - last < REFRESH_MS) return;
  const at = now.toISOString();
  await db.send(
    new UpdateCommand({
      TableName: tableName(),
      Key: entityKey(who.tenantId, 'USER', who.userId),
      UpdateExpression:
        'SET #role = :role, teamId = :team, lastSeenAt = :at, firstSeenAt = if_not_exists(firstSeenAt, :at), ' +
        'userId = :user, tenantId = :tenant, entityType = :type, typePk = :typePk, typeSk = :user',
      ExpressionAttributeNames: { '#role': 'role' },
      ExpressionAttributeValues: {
        ':role': who.role,
        ':team': who.teamId ?? null,
        ':at': at,
        ':user': who.userId,
        ':tenant': who.tenantId,
        ':type': 'USER',
        ':typePk': typePartition(who.tenantId, 'USER'),
      },
    }),
  );
  recorded.set(memo, now.getTime());
}

/** The directory entry of a user someone wants to assign something to; 400 if unknown. */
export async function requireDirectoryUser(tenantId: string, userId: string, path: string): Promise<DirectoryUser> {
  const item = await getItem(entityKey(tenantId, 'USER', userId));
  if (!item) throw validationFailed([{ path, message: `no user ${userId} in this tenant's directory` }]);
  return stripKeys<DirectoryUser>(item);
}

export async function listUsers(
  ctx: UseCaseContext,
  filters: { teamId?: string | undefined; role?: string | undefined },
  page: PageRequest,
): Promise<Page<DirectoryUser>> {
  const who = ctx.identity;
  requireRole(who, 'admin', 'manager');
  // A manager sees its own team (and itself); an admin the whole tenant.
  const teamId = who.role === 'manager' ? who.teamId : filters.teamId;
  return queryPage({ index: 'byType', pk: typePartition(who.tenantId, 'USER') }, page, (item) => {
    const user = stripKeys<DirectoryUser>(item);
    if (who.role === 'manager' && user.userId !== who.userId && (!teamId || user.teamId !== teamId)) return undefined;
    if (teamId !== undefined && who.role === 'admin' && user.teamId !== teamId) return undefined;
    if (filters.role && user.role !== filters.role) return undefined;
    return user;
  });
}
