/**
 * When the rules release an account, and why (API.md §6). Pure functions of the account's
 * stored fields and the tenant's rules: no I/O, so a response, the job and the tests all
 * compute the same `releaseAt`.
 *
 * The stored, rule-INDEPENDENT part is each rule's ANCHOR:
 *   - `no_follow_up`: the later of `lastFollowUpAt` and `ownerSince`;
 *   - `not_won`: `ownerSince`, while no opportunity of the account is won.
 * A rule's release time is its anchor + its days × 24 h; `releaseAt` is the earlier of the two
 * (ties go to `no_follow_up`). An account without an owner, or a locked one, has no anchors;
 * an account exempt by the rules (tier in `exemptTiers`, an open opportunity while
 * `exemptWithOpenOpportunity`) keeps its anchors but has no `releaseAt`.
 */
import { DAY_MS, type RuleFields } from '#domain/pool/rules.ts';
import type { ReleaseRule } from '#domain/pool/keys.ts';

/** The account fields the pool reads. */
export interface PoolFacts {
  id: string;
  createdAt: string;
  ownerId: string | null;
  poolStatus: 'owned' | 'pool';
  ownerSince?: string | null;
  lastFollowUpAt?: string | null;
  locked?: boolean;
  tier?: string;
  /** Kept exact by the opportunities context (domain/sales): open opportunities of the account. */
  openOpportunityCount?: number;
  /** Kept exact by the opportunities context: won opportunities of the account. */
  wonOpportunityCount?: number;
}

export const isOwned = (a: PoolFacts) => a.poolStatus === 'owned' && !!a.ownerId;

/** When the current owner got it (accounts from before the pool existed: their creation). */
export const ownerSinceOf = (a: PoolFacts) => a.ownerSince ?? a.createdAt;

/** Each rule's anchor, or null when that rule cannot release the account. */
export function anchorsOf(a: PoolFacts): Record<ReleaseRule, string | null> {
  if (!isOwned(a) || a.locked) return { no_follow_up: null, not_won: null };
  const since = ownerSinceOf(a);
  const follow = a.lastFollowUpAt ?? null;
  return {
    no_follow_up: follow && follow > since ? follow : since,
    not_won: (a.wonOpportunityCount ?? 0) > 0 ? null : since,
  };
}

/** Days of a rule under these rules (null: the rule is off). */
export function ruleDays(rules: RuleFields, rule: ReleaseRule): number | null {
  return rule === 'no_follow_up' ? rules.releaseAfterDays : rules.releaseIfNotWonDays;
}

/** Exempt for a reason that depends on the rules (the job parks such accounts). */
export function exemptByRules(a: PoolFacts, rules: RuleFields): boolean {
  if (a.tier !== undefined && (rules.exemptTiers as string[]).includes(a.tier)) return true;
  return rules.exemptWithOpenOpportunity && (a.openOpportunityCount ?? 0) > 0;
}

export const plusDays = (iso: string, days: number) => new Date(Date.parse(iso) + days * DAY_MS).toISOString();

/** One rule's release time (ignoring exemptions), or null. */
export function ruleReleaseAt(a: PoolFacts, rules: RuleFields, rule: ReleaseRule): string | null {
  const anchor = anchorsOf(a)[rule];
  const days = ruleDays(rules, rule);
  return anchor === null || days === null ? null : plusDays(anchor, days);
}

export interface ReleaseTiming {
  releaseAt: string | null;
  releaseReason: ReleaseRule | null;
  /** The anchor of the deciding rule: with the rule, it names the account's current cycle. */
  anchor: string | null;
  /** The deciding rule's days. */
  days: number | null;
}

const NONE: ReleaseTiming = { releaseAt: null, releaseReason: null, anchor: null, days: null };

/** `releaseAt` and `releaseReason` as every account response shows them. */
export function releaseTiming(a: PoolFacts, rules: RuleFields): ReleaseTiming {
  if (!isOwned(a) || a.locked || exemptByRules(a, rules)) return NONE;
  let best: ReleaseTiming = NONE;
  for (const rule of ['no_follow_up', 'not_won'] as const) {
    const at = ruleReleaseAt(a, rules, rule);
    if (at !== null && (best.releaseAt === null || at < best.releaseAt)) {
      best = { releaseAt: at, releaseReason: rule, anchor: anchorsOf(a)[rule], days: ruleDays(rules, rule) };
    }
  }
  return best;
}

/** The reminder days (descending) whose moment has come: `now ≥ releaseAt − d days`. */
export function passedReminders(releaseAt: string, reminders: number[], now: Date): number[] {
  const at = Date.parse(releaseAt);
  return reminders.filter((d) => now.getTime() >= at - d * DAY_MS);
}
