/** Who a new or reassigned record belongs to, and whether the caller may give it to them. */
import type { UseCaseContext } from '#domain/context.ts';
import { forbidden } from '#domain/errors.ts';
import { canAssignTo } from '#domain/identity.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';

export interface Owner {
  ownerId: string;
  ownerTeamId: string | null;
}

export async function resolveOwner(ctx: UseCaseContext, requested: string | undefined, path = 'ownerId'): Promise<Owner> {
  const who = ctx.identity;
  if (requested === undefined || requested === who.userId) return { ownerId: who.userId, ownerTeamId: who.teamId ?? null };
  const user = await requireDirectoryUser(who.tenantId, requested, `body.${path}`);
  if (!canAssignTo(who, { userId: user.userId, teamId: user.teamId })) {
    throw forbidden('You may assign records only to yourself, or as a manager to your team.');
  }
  return { ownerId: user.userId, ownerTeamId: user.teamId };
}
