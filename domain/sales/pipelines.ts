/**
 * Pipeline use cases (API.md §5 "pipelines").
 *
 * Every tenant has the default pipeline from its first request: the first read of the
 * DEFAULT pointer that finds none creates the pointer, the pipeline and its stage items in
 * one transaction, each Put conditioned on `attribute_not_exists` with deterministic keys
 * (`defaultPipelineId(tenant)`, its stages `<id>-1`…), so concurrent first requests create it exactly once and the
 * losers read what the winner wrote.
 *
 * Reading: every role (a pipeline is configuration, no customer data). Changing: admins.
 * A PATCH's `stages` is the whole new ordered list (see pipeline.ts); stage ids stay stable
 * across renames and reorders. Removing a stage, or changing its kind, while it holds an
 * opportunity is a `409 stage_in_use`: the Delete (or Update) of its STAGE item is
 * conditioned on `opportunityCount = 0`, and every opportunity transaction adds to that count
 * on condition that the stage item exists, so a race between the two has one order only.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, notFound, validationFailed, versionMismatch, type FieldError } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import {
  defaultPipelineId,
  DEFAULT_PIPELINE_NAME,
  defaultStages,
  defaultPointerKey,
  pipelineItem,
  pipelineKey,
  pipelineOf,
  pipelinesPartition,
  pointerItem,
  pointerOf,
  stageItem,
  stageKey,
  type DefaultPointer,
  type Pipeline,
  type PipelineCreate,
  type PipelinePatch,
  type Stage,
} from '#domain/sales/pipeline.ts';


/** The `409 stage_in_use` of a stage that holds opportunities. */
export const stageInUse = (stageId: string, opportunityCount: number, detail?: string) =>
  conflict('stage_in_use', detail ?? `Stage ${stageId} holds ${opportunityCount} opportunit${opportunityCount === 1 ? 'y' : 'ies'}; move them to another stage first.`, {
    stageId,
    opportunityCount,
  });

// ---------------------------------------------------------------------------------------
// The default pipeline, lazily

class AlreadyInitialized extends Error {}

/** The DEFAULT pointer; the first call of a tenant creates the default pipeline. */
export async function defaultPipelinePointer(ctx: UseCaseContext): Promise<DefaultPointer> {
  const item = await getItem(defaultPointerKey(ctx.identity.tenantId));
  return item ? pointerOf(item) : initializeDefault(ctx);
}

/**
 * Creates the default pipeline once per tenant. Its own transaction, never the caller's (and
 * never with the caller's idempotency record: the request that triggered it may be a POST
 * whose own transaction records that).
 */
export async function initializeDefault(ctx: UseCaseContext): Promise<DefaultPointer> {
  const tenant = ctx.identity.tenantId;
  const at = ctx.now.toISOString();
  const pipeline: Pipeline = {
    id: defaultPipelineId(tenant),
    name: DEFAULT_PIPELINE_NAME,
    isDefault: true,
    stages: defaultStages(tenant),
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const pointer: DefaultPointer = { pipelineId: pipeline.id, firstStage: pipeline.stages[0]! };
  const uow = new UnitOfWork({ identity: ctx.identity, now: ctx.now });
  const absent = { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new AlreadyInitialized() };
  // The pointer first: when a concurrent first request won, its condition is the one reported.
  uow.put(pointerItem(tenant, pointer), absent);
  uow.put(pipelineItem(tenant, pipeline), absent);
  for (const s of pipeline.stages) uow.put(stageItem(tenant, pipeline.id, s), absent);
  uow.emit('pipeline.created', { type: 'pipeline', id: pipeline.id }, { ...pipeline });
  try {
    await uow.commit(undefined);
    return pointer;
  } catch (err) {
    if (!(err instanceof AlreadyInitialized)) throw err;
    const item = await getItem(defaultPointerKey(tenant));
    if (!item) throw new Error('default pipeline pointer vanished after a concurrent initialization');
    return pointerOf(item);
  }
}

// ---------------------------------------------------------------------------------------
// Reads

export async function listPipelines(ctx: UseCaseContext, page: PageRequest): Promise<Page<Pipeline>> {
  await defaultPipelinePointer(ctx);
  return queryPage(
    { pk: pipelinesPartition(ctx.identity.tenantId), sk: { beginsWith: 'PIPELINE#' }, consistent: true },
    page,
    (item) => pipelineOf(item),
  );
}

/** A pipeline by id, or 404. */
export async function loadPipeline(ctx: UseCaseContext, id: string): Promise<Pipeline> {
  const tenant = ctx.identity.tenantId;
  let item = await getItem(pipelineKey(tenant, id));
  if (!item && id === defaultPipelineId(tenant)) {
    await defaultPipelinePointer(ctx);
    item = await getItem(pipelineKey(tenant, id));
  }
  if (!item) throw notFound('pipeline');
  return pipelineOf(item);
}

export async function getPipeline(ctx: UseCaseContext, id: string): Promise<Pipeline> {
  return loadPipeline(ctx, id);
}

// ---------------------------------------------------------------------------------------
// Changes (admins)

export async function createPipeline(ctx: UseCaseContext, input: PipelineCreate): Promise<Pipeline> {
  requireRole(ctx.identity, 'admin');
  const tenant = ctx.identity.tenantId;
  return retryOnVersionRace(undefined, async () => {
    // 1. The tenant's default exists (and is what a new default replaces).
    const pointer = await defaultPipelinePointer(ctx);
    const at = ctx.now.toISOString();
    const pipeline: Pipeline = {
      id: newId(ctx),
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      isDefault: input.isDefault,
      stages: input.stages.map((s) => ({ id: newId(ctx), name: s.name, probability: s.probability, kind: s.kind })),
      createdAt: at,
      updatedAt: at,
      version: 1,
    };
    // 2. The pipeline, its stage items and, when it becomes the default, the hand-over.
    const uow = new UnitOfWork(ctx);
    uow.put(pipelineItem(tenant, pipeline), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on pipeline ${pipeline.id}`) });
    for (const s of pipeline.stages) {
      uow.put(stageItem(tenant, pipeline.id, s), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on stage ${s.id}`) });
    }
    if (pipeline.isDefault) await handOverDefault(ctx, uow, pointer.pipelineId, pipeline);
    uow.emit('pipeline.created', { type: 'pipeline', id: pipeline.id }, { ...pipeline });
    return uow.commit(pipeline);
  });
}

/**
 * `to` becomes the default: the previous default loses its flag (version + 1, its event) and
 * the pointer names `to`, conditioned on still naming `fromId` (a concurrent hand-over retries).
 */
async function handOverDefault(ctx: UseCaseContext, uow: UnitOfWork, fromId: string, to: Pipeline): Promise<void> {
  const tenant = ctx.identity.tenantId;
  if (fromId !== to.id) {
    const item = await getItem(pipelineKey(tenant, fromId));
    if (item) {
      const before = pipelineOf(item);
      const after: Pipeline = { ...before, isDefault: false, version: before.version + 1, updatedAt: ctx.now.toISOString() };
      uow.put(pipelineItem(tenant, after), versionCondition(before));
      uow.emit('pipeline.updated', { type: 'pipeline', id: before.id }, { before: { ...before }, after: { ...after }, changed: ['isDefault'], removedStageIds: [], addedStageIds: [] });
    }
  }
  uow.put(pointerItem(tenant, { pipelineId: to.id, firstStage: to.stages[0]! }), {
    condition: 'pipelineId = :from',
    values: { ':from': fromId },
    onConditionFailed: () => new VersionRace(),
  });
}

const versionCondition = (before: { version: number }) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': before.version },
  onConditionFailed: () => new VersionRace(),
});

export async function updatePipeline(ctx: UseCaseContext, id: string, patch: PipelinePatch, ifMatch: number | undefined): Promise<Pipeline> {
  const tenant = ctx.identity.tenantId;
  return retryOnVersionRace(ifMatch, async () => {
    // 1. The pipeline as it is (every role may read it: a missing one is a 404, then the role decides), and the default.
    const [before, pointer] = await Promise.all([loadPipeline(ctx, id), defaultPipelinePointer(ctx)]);
    requireRole(ctx.identity, 'admin');
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    // 2. The new stage list: kept stages keep their ids; new ones get theirs.
    const stages = patch.stages ? planStages(ctx, before, patch.stages) : undefined;
    const { description: _d, ...kept } = before;
    const description = patch.description === null ? undefined : (patch.description ?? before.description);
    const after: Pipeline = {
      ...kept,
      ...(description !== undefined ? { description } : {}),
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.isDefault ? { isDefault: true } : {}),
      ...(stages ? { stages: stages.list } : {}),
    };
    const changed = (['name', 'description', 'isDefault', 'stages'] as const).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (changed.length === 0) return before;
    const next: Pipeline = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };

    // 3. One transaction: the pipeline (version read), its stage items, the default pointer.
    const uow = new UnitOfWork(ctx);
    uow.put(pipelineItem(tenant, next), versionCondition(before));
    const removed: string[] = [];
    const added: string[] = [];
    if (stages) {
      const old = new Map(before.stages.map((s) => [s.id, s]));
      for (const s of stages.list) {
        const was = old.get(s.id);
        if (!was) {
          added.push(s.id);
          uow.put(stageItem(tenant, id, s), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on stage ${s.id}`) });
        } else if (JSON.stringify(was) !== JSON.stringify(s)) {
          updateStageItem(ctx, uow, id, was, s);
        }
      }
      for (const s of before.stages) {
        if (stages.list.some((x) => x.id === s.id)) continue;
        removed.push(s.id);
        uow.delete(stageKey(tenant, s.id), {
          condition: 'attribute_not_exists(PK) OR attribute_not_exists(opportunityCount) OR opportunityCount = :zero',
          values: { ':zero': 0 },
          onConditionFailed: (current) => stageInUse(s.id, Number(current?.opportunityCount ?? 0)),
        });
      }
    }
    if (next.isDefault) {
      if (!before.isDefault) await handOverDefault(ctx, uow, pointer.pipelineId, next);
      else if (JSON.stringify(before.stages[0]) !== JSON.stringify(next.stages[0])) {
        uow.put(pointerItem(tenant, { pipelineId: id, firstStage: next.stages[0]! }), {
          condition: 'pipelineId = :me',
          values: { ':me': id },
          onConditionFailed: () => new VersionRace(),
        });
      }
    }
    uow.emit('pipeline.updated', { type: 'pipeline', id }, { before: { ...before }, after: { ...next }, changed, removedStageIds: removed, addedStageIds: added });
    return uow.commit(next);
  });
}

/** A kept stage whose definition changed. Its kind may change only while it is empty. */
function updateStageItem(ctx: UseCaseContext, uow: UnitOfWork, pipelineId: string, was: Stage, s: Stage): void {
  const kindChanges = was.kind !== s.kind;
  uow.update(
    stageKey(ctx.identity.tenantId, s.id),
    { expression: 'SET #n = :n, #p = :p, #k = :k', names: { '#n': 'name', '#p': 'probability', '#k': 'kind' }, values: { ':n': s.name, ':p': s.probability, ':k': s.kind } },
    {
      condition: kindChanges
        ? 'attribute_exists(PK) AND pipelineId = :pid AND (attribute_not_exists(opportunityCount) OR opportunityCount = :zero)'
        : 'attribute_exists(PK) AND pipelineId = :pid',
      values: { ':pid': pipelineId, ...(kindChanges ? { ':zero': 0 } : {}) },
      onConditionFailed: (current) =>
        current && kindChanges
          ? stageInUse(s.id, Number(current.opportunityCount ?? 0), `Stage ${s.id} holds opportunities; its kind (${was.kind}) cannot change until it is empty.`)
          : new VersionRace(),
    },
  );
}

/** Resolves a PATCH's stage list against the pipeline's stages: unknown ids are a 400. */
function planStages(ctx: UseCaseContext, before: Pipeline, input: NonNullable<PipelinePatch['stages']>): { list: Stage[] } {
  const known = new Set(before.stages.map((s) => s.id));
  const errors: FieldError[] = [];
  const list = input.map((s, i) => {
    if (s.id !== undefined && !known.has(s.id)) errors.push({ path: `body.stages.${i}.id`, message: 'no such stage in this pipeline (omit id to add a stage)' });
    return { id: s.id ?? newId(ctx), name: s.name, probability: s.probability, kind: s.kind };
  });
  if (errors.length) throw validationFailed(errors);
  return { list };
}

export async function deletePipeline(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  const tenant = ctx.identity.tenantId;
  await retryOnVersionRace(ifMatch, async () => {
    const pipeline = await loadPipeline(ctx, id);
    requireRole(ctx.identity, 'admin');
    if (ifMatch !== undefined && ifMatch !== pipeline.version) throw versionMismatch();
    if (pipeline.isDefault) {
      throw conflict('pipeline_is_default', 'The default pipeline cannot be deleted; make another pipeline the default first.');
    }
    const uow = new UnitOfWork(ctx);
    uow.delete(pipelineKey(tenant, id), { ...versionCondition(pipeline), condition: '#v = :v AND isDefault = :false', values: { ':v': pipeline.version, ':false': false } });
    for (const s of pipeline.stages) {
      uow.delete(stageKey(tenant, s.id), {
        condition: 'attribute_not_exists(PK) OR attribute_not_exists(opportunityCount) OR opportunityCount = :zero',
        values: { ':zero': 0 },
        onConditionFailed: (current) =>
          conflict('pipeline_in_use', `The pipeline still holds opportunities (stage ${s.id}: ${Number(current?.opportunityCount ?? 0)}); move or delete them first.`, {
            stageId: s.id,
            opportunityCount: Number(current?.opportunityCount ?? 0),
          }),
      });
    }
    uow.emit('pipeline.deleted', { type: 'pipeline', id }, { id });
    await uow.commit(undefined);
  });
}
