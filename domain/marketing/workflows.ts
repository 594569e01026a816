/**
 * Workflow use cases (marketing.md "Workflows"): create, read, list, change, delete, and the
 * runs of one workflow. Marketers and admins only, reads included.
 *
 * Every write keeps the workflow's copy in the index of its trigger event (workflow.ts) in the
 * same transaction: present exactly while the workflow is enabled, and always equal to it, so
 * the consumer (workflow-engine.ts) decides from one Query what the API shows.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { notFound, validationFailed, versionMismatch, type FieldError } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import { mergePatch, newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { DomainError } from '#domain/errors.ts';
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { tagsIn, validateTemplate } from '#domain/marketing/merge-tags.ts';
import {
  delayMinutes,
  MAX_DELAY_MINUTES,
  SUBJECT_TYPES_OF,
  runFromItem,
  runsPartition,
  TRIGGER_CONDITIONS,
  triggerIndexKey,
  workflowFromItem,
  workflowKey,
  workflowsPartition,
  type Action,
  type Workflow,
  type WorkflowCreate,
  type WorkflowPatch,
  type WorkflowRun,
} from '#domain/marketing/workflow.ts';

const MANAGERS = ['admin', 'marketer'] as const;

/** A workflow as stored: the record and its keys. */
export function workflowItem(tenantId: string, w: Workflow): Record<string, unknown> {
  return { ...workflowKey(tenantId, w.id), ...w, tenantId, entityType: 'WF' };
}

function indexCopy(tenantId: string, w: Workflow): Record<string, unknown> {
  return { ...triggerIndexKey(tenantId, w.trigger.event, w.id), ...w, tenantId, entityType: 'WFINDEX' };
}

/**
 * The rules a schema cannot say alone: conditions that fit the event, the delay's total, users
 * that exist. Every error names its path in the body.
 */
async function checkWorkflow(ctx: UseCaseContext, w: Pick<Workflow, 'trigger' | 'delay' | 'actions'>, touched: { trigger: boolean; delay: boolean; actions: boolean }): Promise<void> {
  const errors: FieldError[] = [];
  if (touched.trigger) {
    const allowed: readonly string[] = TRIGGER_CONDITIONS[w.trigger.event];
    for (const key of Object.keys(w.trigger.conditions ?? {})) {
      if (!allowed.includes(key)) {
        errors.push({
          path: `body.trigger.conditions.${key}`,
          message: allowed.length ? `${w.trigger.event} takes the conditions ${allowed.join(', ')}` : `${w.trigger.event} takes no conditions`,
        });
      }
    }
  }
  if (touched.delay && w.delay) {
    const minutes = delayMinutes(w.delay);
    if (Object.keys(w.delay).length === 0 || minutes === 0) errors.push({ path: 'body.delay', message: 'a delay is at least one minute; omit it to run at once' });
    else if (minutes > MAX_DELAY_MINUTES) errors.push({ path: 'body.delay', message: 'a delay is at most 90 days' });
  }
  if (touched.actions || touched.trigger) errors.push(...(await mailTemplateProblems(ctx.identity.tenantId, w)));
  if (errors.length) throw validationFailed(errors);
  if (touched.actions) {
    // Users named directly must be in the directory (API.md §5 users); "owner" is resolved per run.
    for (const [i, a] of w.actions.entries()) {
      if (a.type === 'notify' && a.to !== 'owner') await requireDirectoryUser(ctx.identity.tenantId, a.to, `body.actions.${i}.to`);
      if (a.type === 'createTask' && a.assignTo !== 'owner') await requireDirectoryUser(ctx.identity.tenantId, a.assignTo, `body.actions.${i}.assignTo`);
    }
  }
}

/**
 * The sendEmail actions' merge tags, by the campaigns' rule (validateTemplate), against the custom
 * fields of whom the trigger's runs are about (contacts and leads for email events: a key of
 * either). Only contacts and leads have an address to mail; `{{unsubscribeUrl}}` is refused: the
 * unsubscribe links are campaign-scoped (docs/api-decisions.md).
 */
async function mailTemplateProblems(tenantId: string, w: Pick<Workflow, 'trigger' | 'actions'>): Promise<FieldError[]> {
  const mails = [...w.actions.entries()].filter((e): e is [number, Extract<Action, { type: 'sendEmail' }>] => e[1].type === 'sendEmail');
  if (!mails.length) return [];
  const subjects = SUBJECT_TYPES_OF[w.trigger.event];
  const mailable = subjects.filter((s): s is 'contact' | 'lead' => s === 'contact' || s === 'lead');
  if (!mailable.length) {
    return mails.map(([i]) => ({ path: `body.actions.${i}.type`, message: `sendEmail mails a contact or a lead; ${w.trigger.event} runs are about a ${subjects.join(' or ')}` }));
  }
  const customKeys = (await Promise.all(mailable.map((s) => fieldDefinitions(tenantId, s === 'contact' ? 'contacts' : 'leads')))).flat().map((d) => d.key);
  const errors: FieldError[] = [];
  for (const [i, a] of mails) {
    const parts = { subject: a.subject, html: a.html, text: a.text };
    for (const [field, template] of Object.entries(parts)) {
      if (template && tagsIn(template).includes('unsubscribeUrl')) {
        errors.push({ path: `body.actions.${i}.${field}`, message: 'workflow emails have no {{unsubscribeUrl}}: unsubscribe links belong to campaigns' });
      }
    }
    try {
      validateTemplate(parts, { customKeys, pathPrefix: `body.actions.${i}` });
    } catch (err) {
      if (!(err instanceof DomainError) || !err.errors) throw err;
      errors.push(...err.errors);
    }
  }
  return errors;
}

const sameTrigger = (a: Workflow['trigger'], b: Workflow['trigger']) => JSON.stringify(a) === JSON.stringify(b);

export async function createWorkflow(ctx: UseCaseContext, input: WorkflowCreate): Promise<Workflow> {
  requireRole(ctx.identity, ...MANAGERS);
  // 1. What the schema cannot check alone.
  await checkWorkflow(ctx, input, { trigger: true, delay: true, actions: true });
  const at = ctx.now.toISOString();
  const workflow: Workflow = {
    id: newId(ctx),
    name: input.name,
    trigger: input.trigger,
    ...(input.delay ? { delay: input.delay } : {}),
    actions: input.actions,
    enabled: input.enabled,
    enabledSince: input.enabled ? at : null,
    createdBy: ctx.identity.userId,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  // 2. The workflow and, while enabled, its copy in its event's index: one transaction.
  const tenant = ctx.identity.tenantId;
  const uow = new UnitOfWork(ctx);
  uow.put(workflowItem(tenant, workflow), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on workflow ${workflow.id}`) });
  if (workflow.enabled) uow.put(indexCopy(tenant, workflow));
  return uow.commit(workflow);
}

/** A workflow by id: 404 when there is none (whoever asks, so another tenant's id looks missing), then 403 for other roles. */
async function loadWorkflow(ctx: UseCaseContext, id: string): Promise<Workflow> {
  const item = await getItem(workflowKey(ctx.identity.tenantId, id));
  if (!item) throw notFound('workflow');
  requireRole(ctx.identity, ...MANAGERS);
  return workflowFromItem(item);
}

export const getWorkflow = loadWorkflow;

export async function listWorkflows(ctx: UseCaseContext, page: PageRequest): Promise<Page<Workflow>> {
  requireRole(ctx.identity, ...MANAGERS);
  return queryPage({ pk: workflowsPartition(ctx.identity.tenantId), consistent: true }, page, workflowFromItem);
}

export async function updateWorkflow(ctx: UseCaseContext, id: string, patch: WorkflowPatch, ifMatch: number | undefined): Promise<Workflow> {
  return retryOnVersionRace(ifMatch, async () => {
    // 1. The workflow as it is, and the change.
    const before = await loadWorkflow(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    const merged = mergePatch(before, patch as Record<string, unknown>);
    await checkWorkflow(ctx, merged, { trigger: patch.trigger !== undefined, delay: patch.delay !== undefined, actions: patch.actions !== undefined });
    // 2. Events count from the moment it is enabled, or its trigger changes (its counts start over).
    const restarts = merged.enabled && (!before.enabled || !sameTrigger(before.trigger, merged.trigger));
    const after: Workflow = { ...merged, enabledSince: merged.enabled ? (restarts ? ctx.now.toISOString() : before.enabledSince) : null };
    if (JSON.stringify(after) === JSON.stringify(before)) return before;
    const next: Workflow = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    // 3. The workflow (conditioned on the version read) and its index copy, together.
    const tenant = ctx.identity.tenantId;
    const uow = new UnitOfWork(ctx);
    uow.put(workflowItem(tenant, next), versionCondition(before));
    const sameSlot = before.enabled && next.enabled && before.trigger.event === next.trigger.event;
    if (before.enabled && !sameSlot) uow.delete(triggerIndexKey(tenant, before.trigger.event, id));
    if (next.enabled) uow.put(indexCopy(tenant, next));
    return uow.commit(next);
  });
}

export async function deleteWorkflow(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const before = await loadWorkflow(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    // Its runs stay (a delayed one finds it gone and is skipped); its counters are never read again.
    const tenant = ctx.identity.tenantId;
    const uow = new UnitOfWork(ctx);
    uow.delete(workflowKey(tenant, id), versionCondition(before));
    if (before.enabled) uow.delete(triggerIndexKey(tenant, before.trigger.event, id));
    await uow.commit(undefined);
  });
}

const versionCondition = (before: { version: number }) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': before.version },
  onConditionFailed: () => new VersionRace(),
});

/** A workflow's runs, newest first (run ids are the triggering events' ULIDs). */
export async function listRuns(ctx: UseCaseContext, workflowId: string, page: PageRequest): Promise<Page<WorkflowRun>> {
  await loadWorkflow(ctx, workflowId);
  return queryPage({ pk: runsPartition(ctx.identity.tenantId, workflowId), newestFirst: true, consistent: true }, page, runFromItem);
}

/** A workflow's action failed for a reason that will not change by retrying (the run is `failed`). */
export function isPermanent(err: unknown): err is DomainError {
  return err instanceof DomainError && err.status < 500;
}
