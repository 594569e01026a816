/**
 * The sales target (目标): an amount a user or a team should sign in orders in one month
 * (`period`, `YYYY-MM`). One target per (period, user) and per (period, team): the item's
 * key is that pair, so `PUT` is an upsert that can never create two.
 *
 * Keys: `T#t#TARGET#<period>` / `USER#<userId>` or `TEAM#<teamId>` (a period's targets
 * are one partition, for admins); `byOwner` `T#t#TARGET#OWNER#<userId>` / `<period>` (a
 * user's own); `byTeam` `T#t#TARGET#TEAM#<teamId>` / `<period>#<SK>` (a team's target and
 * its members' targets, for its manager; a user target is filed under the team the user
 * was in when it was set).
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { ownerPartition, stripKeys, t, teamPartition } from '#domain/table/keys.ts';
import * as money from '#domain/sales/money.ts';
import type { Minor } from '#domain/sales/money.ts';

/** `YYYY-MM`, months 01..12. */
export const period = z.lazy(() => z.string().check(z.maxLength(7), z.regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM')));

export const targetPut = z.lazy(() =>
  z.strictObject({
    userId: z.optional(f.id),
    teamId: z.optional(f.id),
    amount: money.amount(0),
    currency: z.optional(money.currency),
  }),
);
export type TargetPut = z.infer<typeof targetPut>;

export interface Target {
  id: string;
  period: string;
  userId?: string;
  teamId?: string;
  /** For a user target: the team the user was in when it was set (what a manager's view follows). */
  memberOf?: string | null;
  amountMinor: Minor;
  currency: string;
  setBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** The target as every route answers it: a user's or a team's (exactly one of `userId`, `teamId`). */
export const targetView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      period: f.out.code.check(z.describe('YYYY-MM')),
      userId: z.optional(f.out.id),
      teamId: z.optional(f.out.id),
      amount: z.number(),
      currency: f.out.code,
      setBy: f.out.id,
    })
    .check(z.meta({ id: 'Target', description: 'A sales target (目标) of a user or team for a month.' })),
);
export type TargetView = z.infer<typeof targetView>;

export function presentTarget(x: Target): TargetView {
  return {
    id: x.id,
    period: x.period,
    ...(x.userId !== undefined ? { userId: x.userId } : {}),
    ...(x.teamId !== undefined ? { teamId: x.teamId } : {}),
    amount: money.fromMinor(x.amountMinor),
    currency: x.currency,
    setBy: x.setBy,
    createdAt: x.createdAt,
    updatedAt: x.updatedAt,
    version: x.version,
  };
}

export const targetOf = (item: Record<string, unknown>): Target => stripKeys<Target>(item);

export type Subject = { userId: string } | { teamId: string };

export const periodPartition = (tenantId: string, p: string) => `${t(tenantId)}#TARGET#${p}`;
export const subjectKey = (s: Subject) => ('userId' in s ? `USER#${s.userId}` : `TEAM#${s.teamId}`);

export const targetKey = (tenantId: string, p: string, s: Subject) => ({ PK: periodPartition(tenantId, p), SK: subjectKey(s) });

/** The stored item: keys, index keys and the record. */
export function targetItem(tenantId: string, x: Target): Record<string, unknown> {
  const subject: Subject = x.userId !== undefined ? { userId: x.userId } : { teamId: x.teamId! };
  const team = x.userId !== undefined ? x.memberOf : x.teamId;
  return {
    ...x,
    ...targetKey(tenantId, x.period, subject),
    tenantId,
    entityType: 'TARGET',
    ...(x.userId !== undefined ? { ownerPk: ownerPartition(tenantId, 'TARGET', x.userId), ownerSk: x.period } : {}),
    ...(team ? { teamPk: teamPartition(tenantId, 'TARGET', team), teamSk: `${x.period}#${subjectKey(subject)}` } : {}),
  };
}
