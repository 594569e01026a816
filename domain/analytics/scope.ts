/**
 * Whose figures a request asks for (api/analytics.md "Time and scope"), decided once for
 * every analytics page: the caller's default scope, or `userId` / `teamId` within what its
 * role may see (otherwise 404, like a record it may not open).
 */
import type { UseCaseContext } from '#domain/context.ts';
import { notFound, validationFailed } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import type { Scope } from '#domain/analytics/aggregates.ts';

export interface ScopeQuery {
  userId?: string | undefined;
  teamId?: string | undefined;
}

export async function resolveScope(ctx: UseCaseContext, q: ScopeQuery): Promise<Scope> {
  const who = ctx.identity;
  requireRole(who, 'admin', 'manager', 'rep');
  if (q.userId !== undefined && q.teamId !== undefined) {
    throw validationFailed([{ path: 'query.teamId', message: 'name userId or teamId, not both' }]);
  }
  const userId = q.userId === 'me' ? who.userId : q.userId;
  if (userId !== undefined) {
    if (userId === who.userId || who.role === 'admin') return { kind: 'user', id: userId };
    if (who.role === 'manager' && who.teamId) {
      // A member of the manager's team, as the directory knows it now.
      const user = await getItem(entityKey(who.tenantId, 'USER', userId));
      if (user && user.teamId === who.teamId) return { kind: 'user', id: userId };
    }
    throw notFound('user');
  }
  if (q.teamId !== undefined) {
    if (who.role === 'admin' || (who.role === 'manager' && q.teamId === who.teamId)) return { kind: 'team', id: q.teamId };
    throw notFound('team');
  }
  if (who.role === 'admin') return { kind: 'tenant', id: who.tenantId };
  if (who.role === 'manager' && who.teamId) return { kind: 'team', id: who.teamId };
  return { kind: 'user', id: who.userId };
}
