/**
 * The caller, as the verified token says. Nothing in a request body, path or query
 * can change it. Visibility (API.md §4) is decided here, once, for every context.
 */
import { forbidden } from '#domain/errors.ts';

export const ROLES = ['admin', 'manager', 'rep', 'support', 'marketer'] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  tenantId: string;
  userId: string;
  role: Role;
  teamId?: string;
}

/** What a record carries for visibility decisions. */
export interface Owned {
  ownerId: string | null;
  ownerTeamId?: string | null;
}

export function requireRole(who: Identity, ...allowed: Role[]): void {
  if (!allowed.includes(who.role)) throw forbidden();
}

/** Sales records (accounts, contacts, activities, tasks): may the caller open this one? */
export function canSee(who: Identity, record: Owned): boolean {
  switch (who.role) {
    case 'admin':
      return true;
    case 'manager':
      return record.ownerId === who.userId || (!!who.teamId && record.ownerTeamId === who.teamId);
    case 'rep':
      return record.ownerId === who.userId;
    case 'support':
    case 'marketer':
      return false;
  }
}

/** Support and marketers read accounts and contacts tenant-wide but change none of them. */
export function canRead(who: Identity, record: Owned, kind: 'customer' | 'personal'): boolean {
  if (kind === 'customer' && (who.role === 'support' || who.role === 'marketer')) return true;
  if (kind === 'personal' && record.ownerId === who.userId) return true;
  return canSee(who, record);
}

/** May the caller make `ownerId` the owner of a record? */
export function canAssignTo(who: Identity, owner: { userId: string; teamId?: string | null }): boolean {
  if (owner.userId === who.userId) return true;
  if (who.role === 'admin') return true;
  if (who.role === 'manager') return !!who.teamId && owner.teamId === who.teamId;
  return false;
}
