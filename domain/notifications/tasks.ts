/**
 * Task notifications (API.md "Notifications"):
 *
 * - `task.assigned`: a task created for, or reassigned to, someone other than the person who
 *   did it. Written by an event consumer of `task.created` / `task.updated`; the notification's
 *   id is the event's id, so a redelivered event finds it there and adds nothing.
 * - `task.due`: the `task-reminders` job tells the assignee shortly (`TASK_DUE_LEAD_MINUTES`)
 *   before `dueAt`. Each open task with a future `dueAt` has a DUE item beside it
 *   (`T#t#TASK#<id>` / `DUE`) in the sparse `byDue` partitions `DUE#TASK#<shard>`, sort key
 *   `<dueAt>#<tenant>#<taskId>`, written in the task's own transactions (create; a change of
 *   `dueAt` or `status`; delete) and removed by the job in the transaction that notifies. The
 *   notification's id is derived from (task, dueAt): exactly once per task per `dueAt`; moving
 *   `dueAt` starts a new one.
 */
import type { UseCaseContext } from '#domain/context.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { fromItem } from '#domain/records.ts';
import { entityKey, t } from '#domain/table/keys.ts';
import { sweepDue } from '#domain/table/due-sweep.ts';
import { getItems } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import type { Task } from '#domain/tasks/task.ts';
import { addNotification, derivedId, NotificationExists } from '#domain/notifications/notifications.ts';

type Item = Record<string, unknown>;

/** How long before `dueAt` the assignee hears about it. */
export const TASK_DUE_LEAD_MINUTES = 15;
export const TASK_DUE_SHARDS = 4;

export const taskDueKey = (tenantId: string, taskId: string) => ({ PK: `${t(tenantId)}#TASK#${taskId}`, SK: 'DUE' });
export const taskDuePartition = (shard: number) => `DUE#TASK#${shard}`;
const shardOf = (taskId: string) => taskId.charCodeAt(taskId.length - 1) % TASK_DUE_SHARDS;

type DueFacts = Pick<Task, 'id' | 'status' | 'dueAt'>;

/** A task waits for its `task.due` while it is open and its `dueAt` is still ahead. */
const waits = (task: DueFacts | undefined, now: Date): task is DueFacts => !!task && task.status === 'open' && task.dueAt > now.toISOString();

/**
 * Adds the task's DUE item changes to its transaction: from `before` (undefined: new) to
 * `after` (undefined: deleted). Only a change of `dueAt` or `status` touches it.
 */
export function taskDueWrites(ctx: UseCaseContext, uow: UnitOfWork, before: DueFacts | undefined, after: DueFacts | undefined): UnitOfWork {
  const tenantId = ctx.identity.tenantId;
  const id = (after ?? before)!.id;
  if (before && after && before.dueAt === after.dueAt && before.status === after.status) return uow;
  if (waits(after, ctx.now)) {
    uow.put({
      ...taskDueKey(tenantId, id),
      tenantId,
      entityType: 'TASKDUE',
      taskId: id,
      dueAt: after.dueAt,
      duePk: taskDuePartition(shardOf(id)),
      dueSk: `${after.dueAt}#${tenantId}#${id}`,
    });
  } else if (before) {
    uow.delete(taskDueKey(tenantId, id));
  }
  return uow;
}

// ---------------------------------------------------------------------------------------
// The consumer: task.assigned

/** Who the event assigns the task to, when that is someone other than the person who did it. */
function newAssignee(event: DomainEvent): string | undefined {
  const data = event.data as Item;
  let assignee: unknown;
  if (event.type === 'task.created') assignee = data.assigneeId;
  else if (event.type === 'task.updated') {
    const before = data.before as Item;
    const after = data.after as Item;
    if (after.assigneeId !== before.assigneeId) assignee = after.assigneeId;
  }
  return typeof assignee === 'string' && assignee !== event.actor.userId ? assignee : undefined;
}

/** Answers whether it notified (false: nothing to say, or said before for this event). */
export async function notifyTaskAssigned(event: DomainEvent): Promise<boolean> {
  const userId = newAssignee(event);
  if (!userId) return false;
  const task = ((event.data as Item).after ?? event.data) as Item;
  const ctx: UseCaseContext = { identity: { tenantId: event.tenantId, userId: event.actor.userId, role: 'admin' }, now: new Date(event.occurredAt) };
  const uow = new UnitOfWork(ctx);
  addNotification(ctx, uow, {
    id: event.id,
    userId,
    kind: 'task.assigned',
    message: `${event.actor.userId} assigned you the task "${String(task.title ?? '')}", due ${String(task.dueAt ?? '')}.`,
    entityType: 'task',
    entityId: event.entity.id,
    data: { assignedBy: event.actor.userId, dueAt: task.dueAt ?? null },
  });
  try {
    await uow.commit(undefined);
    return true;
  } catch (err) {
    if (err instanceof NotificationExists) return false;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// The job: task.due

export type TaskRemindersReport = {
  job: 'task-reminders';
  now: string;
  processed: number;
  notified: number;
  /** DUE items of tasks that were done, deleted or moved meanwhile. */
  dropped: number;
  complete: boolean;
};

const SAFETY_MS = 20_000;

export async function runTaskReminders(opts: { now?: Date; timeLeftMs?: () => number; pageSize?: number } = {}): Promise<TaskRemindersReport> {
  const now = opts.now ?? new Date();
  const report: TaskRemindersReport = { job: 'task-reminders', now: now.toISOString(), processed: 0, notified: 0, dropped: 0, complete: true };
  const horizon = new Date(now.getTime() + TASK_DUE_LEAD_MINUTES * 60_000).toISOString();
  const partitions = Array.from({ length: TASK_DUE_SHARDS }, (_, shard) => taskDuePartition(shard));
  report.complete = await sweepDue(
    { partitions, before: horizon, pageSize: opts.pageSize ?? 100, safetyMs: SAFETY_MS, ...(opts.timeLeftMs ? { timeLeftMs: opts.timeLeftMs } : {}) },
    async (dues) => {
      const tasks = await getItems(dues.map((d) => entityKey(d.tenantId as string, 'TASK', d.taskId as string)));
      for (let i = 0; i < dues.length; i++) {
        const notified = await remindOne(dues[i]!, tasks[i] ? fromItem<Task>(tasks[i]!) : undefined, now);
        report.processed++;
        if (notified) report.notified++;
        else report.dropped++;
      }
    },
  );
  return report;
}

/** One DUE item: notify the assignee once for this `dueAt`, and remove the item, together. */
async function remindOne(due: Item, task: Task | undefined, now: Date): Promise<boolean> {
  const tenantId = due.tenantId as string;
  const ctx: UseCaseContext = { identity: { tenantId, userId: 'system:task-reminders', role: 'admin' }, now };
  const dueAt = due.dueAt as string;
  const removeDue = (uow: UnitOfWork) =>
    uow.delete(taskDueKey(tenantId, due.taskId as string), {
      condition: 'attribute_exists(PK) AND dueAt = :due',
      values: { ':due': dueAt },
      onConditionFailed: () => new DueMoved(),
    });
  const current = task && task.status === 'open' && task.dueAt === dueAt;
  for (let withNotification = current; ; withNotification = false) {
    const uow = new UnitOfWork(ctx);
    if (withNotification) {
      addNotification(ctx, uow, {
        id: derivedId(tenantId, 'task.due', task!.id, dueAt),
        userId: task!.assigneeId,
        kind: 'task.due',
        message: `The task "${task!.title}" is due at ${dueAt}.`,
        entityType: 'task',
        entityId: task!.id,
        data: { dueAt },
      });
    }
    removeDue(uow);
    try {
      await uow.commit(undefined);
      return !!withNotification;
    } catch (err) {
      if (err instanceof DueMoved) return false; // the task changed: its new DUE item (if any) is its own
      if (err instanceof NotificationExists && withNotification) continue; // told before: just drop the item
      throw err;
    }
  }
}

class DueMoved extends Error {}
