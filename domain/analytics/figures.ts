/**
 * From aggregate rows to the numbers clients see: money in major units (exact cents), ratios
 * rounded half-up to 4 decimals, targets per scope, members. Pure; shared by the dashboard,
 * the forecast and the nightly snapshots.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { fromMinor, type Minor } from '#domain/sales/money.ts';
import { memberOfSk, scopeSk, sumRows, teamOfSk, type Row, type Scope } from '#domain/analytics/aggregates.ts';

// The parts of the analytics answers (api/analytics.md): money in major units, ratios or null.
// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const countAmountView = z.lazy(() => z.object({ count: z.int(), amount: z.number() }));
export const amountView = z.lazy(() => z.object({ amount: z.number() }));
export const ratioView = z.lazy(() => z.nullable(z.number().check(z.describe('rounded half-up to 4 decimals; null where the denominator is 0'))));
export const scopeView = z.lazy(() => z.object({ kind: z.enum(['tenant', 'team', 'user']), id: f.out.id }));

export const major = (minor: number | undefined): number => fromMinor(Math.round(minor ?? 0) as Minor);
/** Σ amount × probability is kept in minor units × 100: back to money, half-up to the cent. */
export const weightedMajor = (centiMinor: number | undefined): number => major(Math.round((centiMinor ?? 0) / 100));
export const count = (row: Row, attr: string): number => Math.round(row[attr] ?? 0);
export const countAmount = (row: Row, prefix: string) => ({ count: count(row, `${prefix}_n`), amount: major(row[`${prefix}_a`]) });

/** Half-up to 4 decimals, or null where the denominator is 0. */
export function ratio(numerator: number, denominator: number | null): number | null {
  if (denominator === null || denominator === 0) return null;
  return Math.round((numerator / denominator) * 10_000) / 10_000;
}

/** The user-in-team rows of one month that belong to a scope, summed per user. */
/** A scope's members in an answer: the first this many (the dashboard and forecast sort them by amount). */
export const MAX_MEMBERS = 500;

export function memberRows(rows: Map<string, Row>, months: readonly string[], scope: Scope): Map<string, Row> {
  const byUser = new Map<string, Row[]>();
  for (const [sk, row] of rows) {
    const member = memberOfSk(sk);
    if (!member || !months.includes(member.month)) continue;
    if (scope.kind === 'team' && member.teamId !== scope.id) continue;
    if (scope.kind === 'user') continue;
    byUser.set(member.userId, [...(byUser.get(member.userId) ?? []), row]);
  }
  return new Map([...byUser].map(([userId, list]) => [userId, sumRows(list)]));
}

/** True when a row holds any figure (a row whose contributions cancelled out holds none). */
export const hasFigures = (row: Row) => Object.entries(row).some(([, v]) => v !== 0);

/**
 * A scope's target of one month, in minor units, or null when none is set: a user's own; a
 * team's own, else the sum of its members'; the tenant's, the sum over its teams (each so)
 * and its users without a team.
 */
export function targetOf(rows: Map<string, Row>, month: string, scope: Scope): number | null {
  if (scope.kind === 'user') {
    const row = rows.get(scopeSk(month, scope)) ?? {};
    return (row.tgt_u_n ?? 0) > 0 ? (row.tgt_u ?? 0) : null;
  }
  const teamTarget = (teamId: string | null): number | null => {
    if (teamId !== null) {
      const own = rows.get(scopeSk(month, { kind: 'team', id: teamId })) ?? {};
      if ((own.tgt_t_n ?? 0) > 0) return own.tgt_t ?? 0;
    }
    let sum: number | null = null;
    for (const [sk, row] of rows) {
      const member = memberOfSk(sk);
      if (member?.month === month && member.teamId === teamId && (row.tgt_u_n ?? 0) > 0) sum = (sum ?? 0) + (row.tgt_u ?? 0);
    }
    return sum;
  };
  if (scope.kind === 'team') return teamTarget(scope.id);
  const teams = new Set<string | null>([null]);
  for (const sk of rows.keys()) {
    const member = memberOfSk(sk);
    if (member?.month === month) teams.add(member.teamId);
    const team = teamOfSk(sk, month);
    if (team !== undefined) teams.add(team);
  }
  let total: number | null = null;
  for (const teamId of teams) {
    const target = teamTarget(teamId);
    if (target !== null) total = (total ?? 0) + target;
  }
  return total;
}

/** The target of a scope over several months: the sum of the months that have one. */
export function targetOver(rows: Map<string, Row>, months: readonly string[], scope: Scope): number | null {
  const targets = months.map((m) => targetOf(rows, m, scope)).filter((x): x is number => x !== null);
  return targets.length ? targets.reduce((a, b) => a + b, 0) : null;
}

/** A member's own target over months (its user target, whatever team it was filed under). */
export function memberTarget(row: Row): number | null {
  return (row.tgt_u_n ?? 0) > 0 ? (row.tgt_u ?? 0) : null;
}
