/** Task use cases. */
import type { UseCaseContext } from '#domain/context.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import type { IndexName } from '#domain/table/definition.ts';
import {
  checkIfMatch,
  insert,
  loadReadable,
  loadWritable,
  mergePatch,
  nextVersion,
  publicView,
  remove,
  replace,
  retryOnVersionRace,
  stamp,
  unchanged,
  visibleFromItem,
} from '#domain/records.ts';
import { ownerPartition, teamPartition, typePartition } from '#domain/table/keys.ts';
import { queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { resolveLinks } from '#domain/accounts/links.ts';
import { taskSpec, type Task, type TaskCreate, type TaskPatch, type TaskStatus } from '#domain/tasks/task.ts';
import { taskDueWrites } from '#domain/notifications/tasks.ts';

/** Anyone may hand a task to any user of the tenant's directory; the assignee's team follows. */
async function assignee(ctx: UseCaseContext, requested: string | undefined) {
  const who = ctx.identity;
  if (requested === undefined || requested === who.userId) return { ownerId: who.userId, ownerTeamId: who.teamId ?? null };
  const user = await requireDirectoryUser(who.tenantId, requested, 'body.assigneeId');
  return { ownerId: user.userId, ownerTeamId: user.teamId };
}

export async function createTask(ctx: UseCaseContext, input: TaskCreate): Promise<Task> {
  const [owner, links] = await Promise.all([assignee(ctx, input.assigneeId), resolveLinks(ctx, input)]);
  const task = stamp<Task>(
    ctx,
    {
      ...input,
      ...(links.account ? { accountId: links.account.id } : {}),
      assigneeId: owner.ownerId,
      ...(input.status === 'done' ? { completedAt: ctx.now.toISOString() } : {}),
      createdBy: ctx.identity.userId,
    },
    owner,
  );
  // With its DUE item, for the `task.due` reminder (domain/notifications/tasks.ts).
  return taskDueWrites(ctx, insert(ctx, taskSpec, task), undefined, task).commit(publicView(task));
}

export async function getTask(ctx: UseCaseContext, id: string): Promise<Task> {
  return publicView(await loadReadable(ctx, taskSpec, id));
}

export async function updateTask(ctx: UseCaseContext, id: string, patch: TaskPatch, ifMatch: number | undefined): Promise<Task> {
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadWritable(ctx, taskSpec, id);
    checkIfMatch(before, ifMatch);
    const { assigneeId, ...fields } = patch;
    let after = mergePatch(before, fields);
    if (assigneeId !== undefined && assigneeId !== before.assigneeId) {
      const owner = await assignee(ctx, assigneeId);
      after = { ...after, ...owner, assigneeId: owner.ownerId };
    }
    const linksChanged = (['accountId', 'contactId', 'opportunityId'] as const).some((k) => fields[k] != null && fields[k] !== before[k]);
    if (linksChanged) {
      const links = await resolveLinks(ctx, after);
      after = { ...after, ...(links.account ? { accountId: links.account.id } : {}) };
    }
    if (after.status !== before.status) {
      after = after.status === 'done' ? { ...after, completedAt: ctx.now.toISOString() } : mergePatch(after, { completedAt: null });
    }
    if (unchanged(before, after)) return publicView(before);
    const next = nextVersion(ctx, before, after);
    const uow = replace(ctx, taskSpec, before, next);
    taskDueWrites(ctx, uow, before, next);
    if (before.status === 'open' && next.status === 'done') {
      uow.emit('task.completed', { type: 'task', id: next.id }, publicView(next) as unknown as { id: string; version: number });
    }
    return uow.commit(publicView(next));
  });
}

export async function deleteTask(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const task = await loadWritable(ctx, taskSpec, id);
    checkIfMatch(task, ifMatch);
    await taskDueWrites(ctx, remove(ctx, taskSpec, task), task, undefined).commit(undefined);
  });
}

export interface TaskFilters {
  assigneeId?: string | undefined;
  status?: TaskStatus | undefined;
  dueBefore?: string | undefined;
}

/**
 * Every task list is a range of (status, dueAt) in one partition: the assignee's, the
 * manager's team's, or the tenant's. `dueBefore` with a status is a key range; without
 * one it filters the partition.
 */
export async function listTasks(ctx: UseCaseContext, filters: TaskFilters, page: PageRequest): Promise<Page<Task>> {
  const who = ctx.identity;
  const tenant = who.tenantId;
  const assigneeId = filters.assigneeId === 'me' ? who.userId : filters.assigneeId;
  let index: IndexName;
  let pk: string;
  if (assigneeId !== undefined) [index, pk] = ['byOwner', ownerPartition(tenant, 'TASK', assigneeId)];
  else if (who.role === 'admin') [index, pk] = ['byType', typePartition(tenant, 'TASK')];
  else if (who.role === 'manager' && who.teamId) [index, pk] = ['byTeam', teamPartition(tenant, 'TASK', who.teamId)];
  else [index, pk] = ['byOwner', ownerPartition(tenant, 'TASK', who.userId)];

  const spec: QuerySpec = { index, pk };
  if (filters.status && filters.dueBefore) spec.sk = { between: [`${filters.status}#`, `${filters.status}#${filters.dueBefore}`] };
  else if (filters.status) spec.sk = { beginsWith: `${filters.status}#` };
  if (filters.dueBefore) spec.filter = { expression: '#due < :due', names: { '#due': 'dueAt' }, values: { ':due': filters.dueBefore } };
  return queryPage(spec, page, (item) => visibleFromItem(taskSpec, who, item));
}
