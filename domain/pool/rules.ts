/**
 * The public-pool rules of a tenant (API.md §6): `GET /v1/pool/rules`, `PUT /v1/pool/rules`.
 *
 * One item per tenant, `T#t#POOL` / `RULES`, holds the rules in force, their `version`, and
 * doubles as the job's tenant registry: it sits in the sparse `byDue` partition
 * `DUE#POOLTENANT` (sort key = tenant id), so the `pool-release` job finds every tenant that
 * has a pool, with its rules, in one Query. A tenant that never changed its rules gets an
 * item holding only the registry keys the first time anything reads its rules (a
 * conditional Put, once per tenant); the defaults fill every absent field.
 *
 * Reads for rendering (`releaseAt` on every account response) go through a short
 * per-container cache (`POOL_RULES_CACHE_SECONDS`, default 60), dropped by a PUT in the same
 * container. Claims, assignments, locks and the job read the item strongly consistent, so
 * caps apply to the very next request and release timing to the very next job run.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole } from '#domain/identity.ts';
import { db, tableName } from '#domain/table/client.ts';
import { getItem } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { TIERS } from '#domain/accounts/account.ts';
import { POOL_TENANT_PARTITION, poolRulesKey } from '#domain/pool/keys.ts';

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
/** A tenant may remind at most this many times before a release (each a stage of the due index). */
export const MAX_REMINDERS = 5;

export const DEFAULT_RULES = {
  releaseAfterDays: 30,
  releaseIfNotWonDays: null as number | null,
  remindBeforeDays: [3, 1] as number[],
  maxAccountsPerRep: 200,
  maxLockedPerRep: 10,
  maxClaimsPerDay: 20,
  reclaimCooldownDays: 7,
  exemptTiers: [] as (typeof TIERS)[number][],
  exemptWithOpenOpportunity: true,
  timeZone: DEFAULT_TIME_ZONE,
};

export type RuleFields = typeof DEFAULT_RULES;

/** The rules in force, as `GET /v1/pool/rules` answers them. */
export interface PoolRules extends RuleFields {
  /** 0 while the defaults were never changed; +1 per PUT. */
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

/** The rules as `GET` and `PUT /v1/pool/rules` answer them. */
export const poolRulesView = z.lazy(() =>
  z
    .object({
      releaseAfterDays: z.int(),
      releaseIfNotWonDays: z.nullable(z.int()),
      remindBeforeDays: z.array(z.int()).check(z.maxLength(MAX_REMINDERS), z.describe('descending')),
      maxAccountsPerRep: z.int(),
      maxLockedPerRep: z.int(),
      maxClaimsPerDay: z.int(),
      reclaimCooldownDays: z.int(),
      exemptTiers: z.array(z.enum(TIERS)).check(z.maxLength(TIERS.length)),
      exemptWithOpenOpportunity: z.boolean(),
      timeZone: f.out.code.check(z.describe("IANA name: the tenant's time zone for every day and period of the API")),
      version: z.int().check(z.describe('0 while the defaults were never changed; +1 per PUT')),
      updatedAt: z.nullable(f.out.timestamp),
      updatedBy: z.nullable(f.out.id),
    })
    .check(z.meta({ id: 'PoolRules', description: 'The public-pool (公海) rules in force.' })),
);

/** What the job needs besides the rules: how many stage partitions of the due index can hold items. */
export interface StoredPoolRules extends PoolRules {
  tenantId: string;
  /** 1 + the longest `remindBeforeDays` ever in force: stages 0..stages-1 may hold index items. */
  stages: number;
  /** The rules version whose exemptions the job last re-checked the parked accounts against. */
  parkCheckedVersion: number;
}

const days = (max: number) => z.int().check(z.minimum(1), z.maximum(max));
const count = z.lazy(() => z.int().check(z.minimum(0), z.maximum(1_000_000)));

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The PUT body: the whole rule set; an omitted field takes its default. Days are whole
 * days ≥ 1 ("no negative days"; 0 would release an account the moment it is owned), at least
 * one reminder day, each earlier than `releaseAfterDays`.
 */
export const rulesBody = z.lazy(() =>
  z
    .strictObject({
      releaseAfterDays: z._default(days(3650), DEFAULT_RULES.releaseAfterDays),
      releaseIfNotWonDays: z._default(z.nullable(days(3650)), null),
      remindBeforeDays: z._default(
        z.array(days(365)).check(
          z.minLength(1, 'at least one reminder day'),
          z.maxLength(MAX_REMINDERS, `at most ${MAX_REMINDERS} reminder days`),
          z.refine((ds: number[]) => new Set(ds).size === ds.length, 'reminder days must be distinct'),
        ),
        [...DEFAULT_RULES.remindBeforeDays],
      ),
      maxAccountsPerRep: z._default(count, DEFAULT_RULES.maxAccountsPerRep),
      maxLockedPerRep: z._default(count, DEFAULT_RULES.maxLockedPerRep),
      maxClaimsPerDay: z._default(count, DEFAULT_RULES.maxClaimsPerDay),
      reclaimCooldownDays: z._default(z.int().check(z.minimum(0), z.maximum(3650)), DEFAULT_RULES.reclaimCooldownDays),
      exemptTiers: z._default(
        z.array(z.enum(TIERS)).check(z.maxLength(TIERS.length), z.refine((ts: string[]) => new Set(ts).size === ts.length, 'tiers must be distinct')),
        [],
      ),
      exemptWithOpenOpportunity: z._default(z.boolean(), DEFAULT_RULES.exemptWithOpenOpportunity),
      timeZone: z._default(
        z.string().check(z.trim(), z.minLength(1), z.maxLength(f.MAX.code), z.refine(isTimeZone, 'not an IANA time zone (e.g. Asia/Shanghai)')),
        DEFAULT_TIME_ZONE,
      ),
    })
    .check(
      z.refine((r) => r.remindBeforeDays.every((d) => d < r.releaseAfterDays), {
        message: 'every reminder day must be fewer than releaseAfterDays',
        path: ['remindBeforeDays'],
      }),
    ),
);
export type RulesBody = z.infer<typeof rulesBody>;

const RULE_KEYS = Object.keys(DEFAULT_RULES) as (keyof RuleFields)[];

/** The rules of a stored item (or of none: the defaults). */
export function rulesFromItem(tenantId: string, item: Record<string, unknown> | undefined): StoredPoolRules {
  const out: Record<string, unknown> = {};
  for (const k of RULE_KEYS) out[k] = item?.[k] !== undefined ? item[k] : DEFAULT_RULES[k];
  const rules = out as unknown as RuleFields;
  const reminders = [...rules.remindBeforeDays].sort((a, b) => b - a);
  return {
    ...rules,
    remindBeforeDays: reminders,
    exemptTiers: [...rules.exemptTiers],
    version: typeof item?.version === 'number' ? item.version : 0,
    updatedAt: (item?.updatedAt as string | undefined) ?? null,
    updatedBy: (item?.updatedBy as string | undefined) ?? null,
    tenantId,
    stages: Math.max(typeof item?.stages === 'number' ? item.stages : 0, reminders.length + 1),
    parkCheckedVersion: typeof item?.parkCheckedVersion === 'number' ? item.parkCheckedVersion : 0,
  };
}

/** The rules as the API shows them. */
export function publicRules(r: StoredPoolRules): PoolRules {
  const out: Record<string, unknown> = {};
  for (const k of RULE_KEYS) out[k] = r[k];
  return { ...(out as unknown as RuleFields), version: r.version, updatedAt: r.updatedAt, updatedBy: r.updatedBy };
}

// ---------------------------------------------------------------------------------------
// Reading, with the per-container cache

const cache = new Map<string, { rules: StoredPoolRules; at: number }>();
const cacheMs = () => Number(process.env.POOL_RULES_CACHE_SECONDS ?? 60) * 1000;

/** The tenant's registry item exists (this container wrote or saw it). */
const registered = new Set<string>();

/**
 * The rules in force, strongly consistent, registering the tenant with the job on first
 * sight. One GetItem (plus, once per tenant ever, one conditional PutItem).
 */
export async function loadRules(tenantId: string): Promise<StoredPoolRules> {
  const item = await getItem(poolRulesKey(tenantId));
  if (!item && !registered.has(tenantId)) await register(tenantId);
  registered.add(tenantId);
  const rules = rulesFromItem(tenantId, item);
  cache.set(tenantId, { rules, at: Date.now() });
  return rules;
}

/** The rules for rendering (`releaseAt`): the container's copy when younger than the cache time. */
export async function cachedRules(tenantId: string): Promise<StoredPoolRules> {
  const hit = cache.get(tenantId);
  if (hit && Date.now() - hit.at < cacheMs()) return hit.rules;
  return loadRules(tenantId);
}

/** Puts the registry item of a tenant that has none yet (the defaults are implied). */
async function register(tenantId: string): Promise<void> {
  try {
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...poolRulesKey(tenantId), tenantId, entityType: 'POOLRULES', duePk: POOL_TENANT_PARTITION, dueSk: tenantId },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

/**
 * Makes sure the tenant is known to the `pool-release` job; cheap after the first call in a
 * container. For paths that index accounts without rendering one (lead conversion).
 */
export async function ensurePoolTenant(ctx: UseCaseContext): Promise<void> {
  if (registered.has(ctx.identity.tenantId)) return;
  await loadRules(ctx.identity.tenantId);
}

// ---------------------------------------------------------------------------------------
// Use cases

/** Every role of the tenant may read the rules: they decide what each account shows anyway. */
export async function getPoolRules(ctx: UseCaseContext): Promise<PoolRules> {
  return publicRules(await loadRules(ctx.identity.tenantId));
}

/**
 * Replaces the rule set (admin). Caps hold for the next request; release timing from the
 * next job run (the job reads the rules at the start of every run).
 */
export async function putPoolRules(ctx: UseCaseContext, body: RulesBody): Promise<PoolRules> {
  requireRole(ctx.identity, 'admin');
  const tenantId = ctx.identity.tenantId;
  for (let attempt = 0; ; attempt++) {
    const before = await loadRules(tenantId);
    const next: StoredPoolRules = {
      ...before,
      ...body,
      remindBeforeDays: [...body.remindBeforeDays].sort((a, b) => b - a),
      version: before.version + 1,
      updatedAt: ctx.now.toISOString(),
      updatedBy: ctx.identity.userId,
      stages: Math.max(before.stages, body.remindBeforeDays.length + 1),
    };
    const uow = new UnitOfWork(ctx);
    const item: Record<string, unknown> = {
      ...poolRulesKey(tenantId),
      tenantId,
      entityType: 'POOLRULES',
      duePk: POOL_TENANT_PARTITION,
      dueSk: tenantId,
      stages: next.stages,
      parkCheckedVersion: before.parkCheckedVersion,
      ...publicRules(next),
    };
    uow.put(item, {
      condition: 'attribute_not_exists(PK) OR attribute_not_exists(version) OR version = :v',
      values: { ':v': before.version },
      onConditionFailed: () => new RulesChanged(),
    });
    type Snapshot = { version: number } & Record<string, unknown>;
    uow.emit('pool.rules_updated', { type: 'pool_rules', id: tenantId }, {
      before: publicRules(before) as unknown as Snapshot,
      after: publicRules(next) as unknown as Snapshot,
    });
    try {
      const result = await uow.commit(publicRules(next));
      cache.set(tenantId, { rules: next, at: Date.now() });
      registered.add(tenantId);
      return result;
    } catch (err) {
      if (!(err instanceof RulesChanged) || attempt >= 10) throw err;
    }
  }
}

class RulesChanged extends Error {}

/** The job records that parked accounts were re-checked against this rules version. */
export async function markParkChecked(tenantId: string, version: number): Promise<void> {
  try {
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: poolRulesKey(tenantId),
        UpdateExpression: 'SET parkCheckedVersion = :v',
        ConditionExpression: 'attribute_exists(PK) AND (attribute_not_exists(version) OR version = :v)',
        ExpressionAttributeValues: { ':v': version },
      }),
    );
  } catch (err) {
    // The rules changed meanwhile: the next run checks again.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Time

export const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of `at` in `timeZone`: the day a claim counts toward. */
export function localDate(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
