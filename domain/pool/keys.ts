/**
 * Keys of the public pool (docs/access-patterns.md, "Public pool"). Tenant first, labelled,
 * like domain/table/keys.ts; the `byDue` partitions name the tenant because each tenant has
 * its own rules (a range query "anchor ≤ now − releaseAfterDays" only makes sense within one
 * tenant), and the tenant registry `DUE#POOLTENANT` is the one cross-tenant partition.
 */
import { t } from '#domain/table/keys.ts';

/** The tenant's rules (and registry entry for the job). */
export const poolRulesKey = (tenantId: string) => ({ PK: `${t(tenantId)}#POOL`, SK: 'RULES' });
/** `byDue` partition listing every tenant with a pool, sort key = tenant id. */
export const POOL_TENANT_PARTITION = 'DUE#POOLTENANT';

/** The job's own state (the tenant to resume from). Not tenant data: the job serves all tenants. */
export const POOL_JOB_CHECKPOINT = { PK: 'JOB#pool-release', SK: 'CHECKPOINT' };

/** Pool accounts of a tenant, in `byOwner` (they have no owner): sort key `<releasedAt>#<id>`, longest in the pool first. */
export const poolListPartition = (tenantId: string) => `${t(tenantId)}#ACCOUNT#POOL`;

/** The two release rules, each with its own clock item per account. */
export const RULE_CODES = { no_follow_up: 'NF', not_won: 'NW' } as const;
export type ReleaseRule = keyof typeof RULE_CODES;
export const RELEASE_RULES = Object.keys(RULE_CODES) as ReleaseRule[];

/**
 * An account's clock item for one rule, beside the account in its partition. It exists while
 * the rule can release the account (owned, not locked; `not_won`: no won opportunity), and is
 * the account's entry in the sparse due index.
 */
export const poolClockKey = (tenantId: string, accountId: string, rule: ReleaseRule) => ({
  PK: `${t(tenantId)}#ACCOUNT#${accountId}`,
  SK: `POOL#${RULE_CODES[rule]}`,
});

/** Shards of each due partition: the last (random) character of the ULID spreads accounts evenly. */
export const POOL_SHARDS = 4;
export const poolShard = (accountId: string) => accountId.charCodeAt(accountId.length - 1) % POOL_SHARDS;

/**
 * A stage of the due index: `0..` = how many reminders of the account's current cycle are
 * behind it; `P` = parked (exempt by a rule-dependent reason: tier, open opportunity).
 */
export type Stage = number | 'P';

/** `byDue` partition of the clock items of one tenant, rule, stage and shard; sort key `<anchor>#<accountId>`. */
export const poolDuePartition = (tenantId: string, rule: ReleaseRule, stage: Stage, shard: number) =>
  `DUE#POOL#${tenantId}#${RULE_CODES[rule]}#${stage}#${shard}`;

/**
 * A NUDGE: "this account's clocks may be stale, re-derive them", for writers that change what
 * the clocks depend on without holding the account record (an opportunity closing or being won
 * only knows the account's id). One item per account, beside it; the job drains the nudges of
 * each tenant (`DUE#POOL#<tenant>#NUDGE#<shard>`) at the start of every run.
 */
export const poolNudgeKey = (tenantId: string, accountId: string) => ({ PK: `${t(tenantId)}#ACCOUNT#${accountId}`, SK: 'POOL#NUDGE' });
export const poolNudgePartition = (tenantId: string, shard: number) => `DUE#POOL#${tenantId}#NUDGE#${shard}`;

/** A rep's pool counters: accounts owned, accounts locked. */
export const repCounterKey = (tenantId: string, userId: string) => ({ PK: `${t(tenantId)}#POOLREP#${userId}`, SK: 'POOLREP' });

/** A rep's claims on one local day of the tenant (TTL two days later). */
export const claimCounterKey = (tenantId: string, userId: string, localDate: string) => ({
  PK: `${t(tenantId)}#POOLCLAIMS#${userId}#${localDate}`,
  SK: 'POOLCLAIMS',
});
