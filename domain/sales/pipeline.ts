/**
 * The pipeline (销售阶段): the ordered stages an opportunity moves through. Its shape, the
 * input rules and the keys of the three kinds of items that hold it:
 *
 * - the PIPELINE item `T#t#PIPELINES` / `PIPELINE#<id>`: name, `isDefault`, the ordered
 *   stages. All of a tenant's pipelines share one partition, so the list is one strongly
 *   consistent Query (a pipeline created a moment ago is in it) and get-by-id one GetItem;
 * - the DEFAULT pointer `T#t#PIPELINES` / `DEFAULT`: which pipeline is the default and a copy
 *   of its first stage, so an opportunity created without `pipelineId` needs one read;
 * - one STAGE item per stage, `T#t#STAGE#<stageId>` / `STAGE`: a copy of the stage's
 *   definition plus `opportunityCount`, the exact number of opportunities in the stage.
 *   Its key follows from the stage id alone, so moving an opportunity reads the target
 *   stage in the same BatchGetItem as the opportunity, and every opportunity transaction
 *   adds ±1 to it; removing the stage is a Delete conditioned on the count being 0.
 *
 * The three are only ever written together, in one transaction (domain/sales/pipelines.ts).
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { t } from '#domain/table/keys.ts';

export const STAGE_KINDS = ['open', 'won', 'lost'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];
export const MAX_STAGES = 30;

export interface Stage {
  id: string;
  name: string;
  /** 0..100: what an opportunity entering the stage takes as its `probability`. */
  probability: number;
  kind: StageKind;
}

export interface Pipeline {
  id: string;
  name: string;
  description?: string;
  isDefault: boolean;
  stages: Stage[];
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** The pipeline as every route answers it. */
export const pipelineView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      name: f.out.name,
      description: z.optional(f.out.text),
      isDefault: z.boolean(),
      stages: z.array(
        z.object({
          id: f.out.id,
          name: f.out.name,
          probability: z.int().check(z.minimum(0), z.maximum(100), z.describe('0..100: what an opportunity entering the stage takes')),
          kind: z.enum(STAGE_KINDS),
        }),
      ).check(z.maxLength(MAX_STAGES)),
    })
    .check(z.meta({ id: 'Pipeline', description: 'A sales pipeline (销售阶段) and its ordered stages.' })),
);

/** A stage's definition as the STAGE item holds it. */
export interface StageRecord extends Stage {
  pipelineId: string;
  opportunityCount: number;
}

/** The DEFAULT pointer. */
export interface DefaultPointer {
  pipelineId: string;
  firstStage: Stage;
}

// ---------------------------------------------------------------------------------------
// The default pipeline every tenant has from its first request (API.md §5).

/**
 * The default pipeline's id: deterministic per tenant (so concurrent first requests write the
 * same keys and exactly one wins), and different in every tenant (ids never coincide across
 * tenants, in events or logs). Its stages are `<id>-1` … `<id>-6`.
 */
export const defaultPipelineId = (tenantId: string) => `pl-${createHash('sha256').update(`default-pipeline:${tenantId}`).digest('hex').slice(0, 20)}`;

const DEFAULT_STAGE_SHAPES: readonly Omit<Stage, 'id'>[] = [
  { name: '初步接洽', probability: 10, kind: 'open' },
  { name: '需求确认', probability: 25, kind: 'open' },
  { name: '方案报价', probability: 50, kind: 'open' },
  { name: '谈判审批', probability: 75, kind: 'open' },
  { name: '赢单', probability: 100, kind: 'won' },
  { name: '输单', probability: 0, kind: 'lost' },
];

export const defaultStages = (tenantId: string): Stage[] =>
  DEFAULT_STAGE_SHAPES.map((s, i) => ({ id: `${defaultPipelineId(tenantId)}-${i + 1}`, ...s }));

export const DEFAULT_PIPELINE_NAME = '默认销售流程';

// ---------------------------------------------------------------------------------------
// Input

const probability = z.lazy(() => z.int().check(z.minimum(0), z.maximum(100)));

/**
 * A stage in a create or PATCH body. In a PATCH, `stages` is the whole new ordered list: an
 * entry with the `id` of an existing stage keeps that stage (renamed, moved, re-weighted), one
 * without `id` adds a stage, and a stage whose id is absent from the list is removed.
 */
const stageInput = z.lazy(() =>
  z.strictObject({
    id: z.optional(f.id),
    name: f.name,
    probability,
    kind: z._default(z.enum(STAGE_KINDS), 'open'),
  }),
);
export type StageInput = z.infer<typeof stageInput>;

const stages = z.lazy(() =>
  z.array(stageInput).check(
    z.minLength(3),
    z.maxLength(MAX_STAGES),
    z.refine((list) => list.length === 0 || list[0]!.kind === 'open', {
      message: 'the first stage must be open: new opportunities start in it',
    }),
    z.refine((list) => STAGE_KINDS.every((k) => list.some((s) => s.kind === k)), {
      message: 'a pipeline needs at least one open, one won and one lost stage',
    }),
    z.refine((list) => new Set(list.map((s) => s.name.normalize('NFKC').toLowerCase())).size === list.length, {
      message: 'stage names must be unique within the pipeline',
    }),
    z.refine((list) => {
      const ids = list.map((s) => s.id).filter((id) => id !== undefined);
      return new Set(ids).size === ids.length;
    }, { message: 'a stage id may appear only once' }),
  ),
);

export const pipelineCreate = z.lazy(() =>
  z.strictObject({
    name: f.name,
    description: z.optional(f.freeText),
    /** True makes this the tenant's default pipeline (the previous default stops being one). */
    isDefault: z._default(z.boolean(), false),
    stages: stages.check(
      z.refine((list) => list.every((s) => s.id === undefined), { message: 'stage ids are assigned by the server' }),
    ),
  }),
);
export type PipelineCreate = z.infer<typeof pipelineCreate>;

export const pipelinePatch = z.lazy(() =>
  z.strictObject({
    name: z.optional(f.name),
    /** `null` clears it. */
    description: z.optional(z.nullable(f.freeText)),
    /** Only `true`: there is always exactly one default; make another pipeline the default instead. */
    isDefault: z.optional(z.literal(true)),
    stages: z.optional(stages),
  }),
);
export type PipelinePatch = z.infer<typeof pipelinePatch>;

// ---------------------------------------------------------------------------------------
// Keys

/** The partition of a tenant's pipelines and its default pointer. */
export const pipelinesPartition = (tenantId: string) => `${t(tenantId)}#PIPELINES`;
export const pipelineKey = (tenantId: string, id: string) => ({ PK: pipelinesPartition(tenantId), SK: `PIPELINE#${id}` });
export const defaultPointerKey = (tenantId: string) => ({ PK: pipelinesPartition(tenantId), SK: 'DEFAULT' });
export const stageKey = (tenantId: string, stageId: string) => ({ PK: `${t(tenantId)}#STAGE#${stageId}`, SK: 'STAGE' });

type Item = Record<string, unknown>;

export function pipelineItem(tenantId: string, p: Pipeline): Item {
  return { ...pipelineKey(tenantId, p.id), tenantId, entityType: 'PIPELINE', ...p };
}

export function pipelineOf(item: Item): Pipeline {
  return {
    id: item.id as string,
    name: item.name as string,
    ...(item.description !== undefined ? { description: item.description as string } : {}),
    isDefault: item.isDefault as boolean,
    stages: (item.stages as Stage[]).map((s) => ({ id: s.id, name: s.name, probability: Number(s.probability), kind: s.kind })),
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    version: Number(item.version),
  };
}

export function stageItem(tenantId: string, pipelineId: string, s: Stage): Item {
  return { ...stageKey(tenantId, s.id), tenantId, entityType: 'STAGE', pipelineId, ...s, opportunityCount: 0 };
}

export function stageOf(item: Item): StageRecord {
  return {
    id: item.id as string,
    name: item.name as string,
    probability: Number(item.probability),
    kind: item.kind as StageKind,
    pipelineId: item.pipelineId as string,
    opportunityCount: Number(item.opportunityCount ?? 0),
  };
}

export function pointerItem(tenantId: string, p: DefaultPointer): Item {
  return { ...defaultPointerKey(tenantId), tenantId, entityType: 'PIPELINE_DEFAULT', ...p };
}

export function pointerOf(item: Item): DefaultPointer {
  const s = item.firstStage as Stage;
  return { pipelineId: item.pipelineId as string, firstStage: { id: s.id, name: s.name, probability: Number(s.probability), kind: s.kind } };
}
