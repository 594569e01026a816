/** Pure domain rules: visibility, assignment, merge-patch, schedules. */
import { describe, expect, it } from 'vitest';
import { canAssignTo, canRead, canSee, type Identity } from '#domain/identity.ts';
import { mergePatch } from '#domain/records.ts';
import { toAwsCron } from '#events/schedules.ts';
import { accountCreate, accountPatch } from '#domain/accounts/account.ts';

const who = (role: Identity['role'], userId = 'u1', teamId?: string): Identity => ({ tenantId: 't', userId, role, ...(teamId ? { teamId } : {}) });

describe('visibility', () => {
  const record = { ownerId: 'u2', ownerTeamId: 'east' };
  it.each([
    ['admin', undefined, true],
    ['manager', 'east', true],
    ['manager', 'west', false],
    ['manager', undefined, false],
    ['rep', 'east', false],
    ['support', 'east', false],
    ['marketer', 'east', false],
  ] as const)('%s of team %s sees another owner\'s record: %s', (role, team, expected) => {
    expect(canSee(who(role, 'u1', team), record)).toBe(expected);
  });

  it('a rep sees its own records; support and marketers read customers but not others\' personal records', () => {
    expect(canSee(who('rep', 'u2'), record)).toBe(true);
    expect(canRead(who('support'), record, 'customer')).toBe(true);
    expect(canRead(who('marketer'), record, 'customer')).toBe(true);
    expect(canRead(who('support'), record, 'personal')).toBe(false);
    expect(canRead(who('support', 'u2'), record, 'personal')).toBe(true);
  });

  it('assignment: self always, managers within their team, admins anywhere', () => {
    expect(canAssignTo(who('rep'), { userId: 'u1' })).toBe(true);
    expect(canAssignTo(who('rep'), { userId: 'u2', teamId: 'east' })).toBe(false);
    expect(canAssignTo(who('manager', 'u1', 'east'), { userId: 'u2', teamId: 'east' })).toBe(true);
    expect(canAssignTo(who('manager', 'u1', 'east'), { userId: 'u2', teamId: 'west' })).toBe(false);
    expect(canAssignTo(who('admin'), { userId: 'u2', teamId: 'west' })).toBe(true);
  });
});

describe('merge-patch', () => {
  it('replaces present keys, clears nulls, keeps the rest', () => {
    expect(mergePatch({ a: 1, b: 2, c: 3 }, { a: 9, b: null, d: undefined })).toEqual({ a: 9, c: 3 });
  });

  it('the account patch schema lets null clear optional fields only', () => {
    expect(accountPatch.safeParse({ industry: null }).success).toBe(true);
    expect(accountPatch.safeParse({ name: null }).success).toBe(false);
    expect(accountPatch.safeParse({ lifecycleStage: null }).success).toBe(false);
    expect(accountPatch.safeParse({ version: 3 }).success).toBe(false);
  });

  it('the create schema trims, defaults and refuses server-owned fields', () => {
    expect(accountCreate.parse({ name: '  x  ' })).toEqual({ name: 'x', lifecycleStage: 'prospect', tags: [] });
    for (const field of ['id', 'tenantId', 'createdAt', 'updatedAt', 'version', 'poolStatus', 'lastFollowUpAt']) {
      expect(accountCreate.safeParse({ name: 'x', [field]: 'v' }).success, field).toBe(false);
    }
  });
});

describe('toAwsCron', () => {
  it('turns five-field cron into EventBridge Scheduler form', () => {
    expect(toAwsCron('*/5 * * * *')).toBe('cron(*/5 * * * ? *)');
    expect(toAwsCron('0 2 * * 1')).toBe('cron(0 2 ? * 1 *)');
    expect(() => toAwsCron('* *')).toThrow();
  });
});
