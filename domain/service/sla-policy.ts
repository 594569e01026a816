/**
 * The tenant's SLA policy (api/service.md "SLA policy and business hours"): `GET /v1/sla/policy`
 * (support, manager, admin), `PUT /v1/sla/policy` (admin; the whole policy, omitted fields taking
 * their defaults, validated by business-hours.ts `slaPolicyBody`, so an invalid body is a 400 and
 * the old policy stays). One item, `T#t#SLA` / `POLICY`; absent = the defaults (version 0).
 * A ticket copies the policy in force when it is created (domain/service/ticket.ts `slaPolicy`).
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole } from '#domain/identity.ts';
import { t } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { MAX_HOLIDAYS, slaPolicyBody, type SlaPolicy, type SlaPriority } from '#domain/service/business-hours.ts';

export const slaPolicyKey = (tenantId: string) => ({ PK: `${t(tenantId)}#SLA`, SK: 'POLICY' });

export interface SlaPolicyView extends SlaPolicy {
  /** 0 while the defaults were never changed; +1 per PUT. */
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const targetView = builtOnFirstUse(() => z.object({ firstResponseMinutes: z.int(), resolutionMinutes: z.int() }));

/** What `GET` and `PUT /v1/sla/policy` answer: the policy in force (minutes are business minutes). */
export const slaPolicyView = z.lazy(() =>
  z.object({
    targets: z.object({ urgent: targetView(), high: targetView(), normal: targetView(), low: targetView() } satisfies Record<SlaPriority, z.ZodMiniType>),
    businessHours: z
      .nullable(
        z.object({
          timeZone: f.out.code.check(z.describe('an IANA name')),
          days: z.array(z.int().check(z.minimum(1), z.maximum(7))).check(z.maxLength(7), z.describe('ISO weekdays, 1 = Monday … 7 = Sunday')),
          start: f.out.timestamp.check(z.describe('local time HH:MM')),
          end: f.out.timestamp.check(z.describe('local time HH:MM (24:00: midnight)')),
        }),
      )
      .check(z.describe('null: 24/7')),
    holidays: z.array(f.out.timestamp).check(z.maxLength(MAX_HOLIDAYS), z.describe('local dates YYYY-MM-DD on which nothing counts')),
    warnBeforeMinutes: z.int(),
    version: z.int().check(z.describe('0 while the defaults were never changed; +1 per PUT')),
    updatedAt: z.nullable(f.out.timestamp),
    updatedBy: z.nullable(f.out.id),
  }),
);

const POLICY_FIELDS = ['targets', 'businessHours', 'holidays', 'warnBeforeMinutes'] as const;

/** The policy of a stored item (or of none: the defaults). */
export function policyFromItem(item: Record<string, unknown> | undefined): SlaPolicyView {
  const stored: Record<string, unknown> = {};
  for (const k of POLICY_FIELDS) if (item?.[k] !== undefined) stored[k] = item[k];
  return {
    ...slaPolicyBody.parse(stored),
    version: typeof item?.version === 'number' ? item.version : 0,
    updatedAt: (item?.updatedAt as string | undefined) ?? null,
    updatedBy: (item?.updatedBy as string | undefined) ?? null,
  };
}

/** Just the policy (what a ticket keeps). */
export function policyOnly(view: SlaPolicyView): SlaPolicy {
  const { version: _v, updatedAt: _u, updatedBy: _b, ...policy } = view;
  return policy;
}

export async function getSlaPolicy(ctx: UseCaseContext): Promise<SlaPolicyView> {
  requireRole(ctx.identity, 'admin', 'support', 'manager');
  return policyFromItem(await getItem(slaPolicyKey(ctx.identity.tenantId)));
}

export type SlaPolicyBody = z.infer<typeof slaPolicyBody>;

/** Replaces the policy (admin). Tickets created from now on use it; existing tickets keep theirs. */
export async function putSlaPolicy(ctx: UseCaseContext, body: SlaPolicyBody): Promise<SlaPolicyView> {
  requireRole(ctx.identity, 'admin');
  const tenantId = ctx.identity.tenantId;
  for (let attempt = 0; ; attempt++) {
    const before = policyFromItem(await getItem(slaPolicyKey(tenantId)));
    const next: SlaPolicyView = { ...body, version: before.version + 1, updatedAt: ctx.now.toISOString(), updatedBy: ctx.identity.userId };
    const uow = new UnitOfWork(ctx).put(
      { ...slaPolicyKey(tenantId), tenantId, entityType: 'SLAPOLICY', ...next },
      {
        condition: 'attribute_not_exists(PK) OR version = :v',
        values: { ':v': before.version },
        onConditionFailed: () => new PolicyChanged(),
      },
    );
    try {
      return await uow.commit(next);
    } catch (err) {
      if (!(err instanceof PolicyChanged) || attempt >= 10) throw err;
    }
  }
}

class PolicyChanged extends Error {}
