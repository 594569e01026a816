/**
 * Workflows at work: the consumer that turns events into runs, and the `workflow-runner` job
 * that runs the delayed ones when they are due.
 *
 * THE CONSUMER (`applyWorkflowEvent`), per event:
 *   1. ONE strongly consistent Query of the index of the event's type (`T#t#WF#EVENT#<type>`):
 *      every enabled workflow listening to it, whole. An event no workflow listens to costs
 *      this one read and nothing else.
 *   2. Per workflow whose conditions hold, for an event that occurred while it was enabled
 *      (`occurredAt ≥ enabledSince`):
 *      - with `count`: ONE GetItem of the subject's counter, then ONE transaction: the counter
 *        (conditioned on its `rev`) and, when this event is the n-th within the window, the run;
 *      - without: ONE Put of the run, conditioned on not existing (at most once per event per
 *        workflow, however often the event is delivered).
 *      A delayed run is written `scheduled` with its due item in the same transaction; the
 *      runner does the rest. An immediate one runs its actions first (each exactly-once by run
 *      key and index, workflow-actions.ts) and is then written as it ended (`done` / `failed`),
 *      so a crash in between only means the redelivered event finds its actions done.
 *   A count threshold fires once per subject per workflow: its run key is the subject, not the
 *   event, so two events racing to be the n-th run the actions once and one of them records it.
 *
 * THE RUNNER (`runWorkflowRunner`): sweeps `byDue` `DUE#WF#<shard>` for `runAt ≤ now` exactly as
 * `task-reminders` does; per due item one BatchGetItem (the run and the workflow), the actions
 * (or `skipped` if the workflow was deleted, disabled, or re-enabled since the event), then ONE
 * transaction: the run's outcome conditioned on it still being `scheduled`, and the due item's
 * Delete. Killed anywhere, the next run finds the due item still there and finishes it without
 * repeating an action; two runners at once race on that condition, and the actions are
 * exactly-once whoever runs them.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DomainEvent } from '#events/catalog.ts';
import { getItem, getItems, queryAll } from '#domain/table/query.ts';
import { sweepDue } from '#domain/table/due-sweep.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import {
  conditionsHold,
  counterKey,
  delayMinutes,
  dueKey,
  duePartition,
  dueShard,
  runKey as runItemKey,
  subjectOf,
  triggerIndexPartition,
  WORKFLOW_DUE_SHARDS,
  workflowFromItem,
  workflowKey,
  type Subject,
  type Workflow,
} from '#domain/marketing/workflow.ts';
import { runActions, WORKFLOW_USER, type RunOutcome } from '#domain/marketing/workflow-actions.ts';

type Item = Record<string, unknown>;
const DAY_MS = 24 * 60 * 60 * 1000;

export type EventOutcome = 'ran' | 'scheduled' | 'counted' | 'duplicate';

/** Applies one event to every workflow it triggers; what happened per workflow id. */
export async function applyWorkflowEvent(event: DomainEvent): Promise<Record<string, EventOutcome>> {
  const subject = subjectOf(event);
  const listening = await queryAll({ pk: triggerIndexPartition(event.tenantId, event.type), consistent: true });
  const outcomes: Record<string, EventOutcome> = {};
  if (!subject) return outcomes;
  const matching = listening
    .map(workflowFromItem)
    .filter((w) => w.enabled && w.enabledSince !== null && event.occurredAt >= w.enabledSince && conditionsHold(w.trigger, event));
  await Promise.all(
    matching.map(async (w) => {
      outcomes[w.id] = w.trigger.count ? await countEvent(event, w, subject) : await fireOnce(event, w, subject, `${w.id}:E:${event.id}`);
    }),
  );
  return outcomes;
}

/** The run of one event: scheduled (delay) or run now, and recorded at most once. */
async function fireOnce(event: DomainEvent, w: Workflow, subject: Subject, key: string, counter?: (uow: UnitOfWork) => void): Promise<EventOutcome> {
  const runAt = new Date(Date.parse(event.occurredAt) + delayMinutes(w.delay) * 60_000).toISOString();
  const base = {
    ...runItemKey(event.tenantId, w.id, event.id),
    tenantId: event.tenantId,
    entityType: 'WFRUN',
    id: event.id,
    workflowId: w.id,
    subjectType: subject.type,
    subjectId: subject.id,
    eventId: event.id,
    eventAt: event.occurredAt,
    runKey: key,
    runAt,
  };
  const ctx = { identity: { tenantId: event.tenantId, userId: WORKFLOW_USER, role: 'admin' as const }, now: new Date(event.occurredAt) };
  const uow = new UnitOfWork(ctx);
  counter?.(uow);
  let outcome: EventOutcome;
  if (w.delay) {
    uow.put({ ...base, status: 'scheduled', doneAt: null }, runIsNew);
    uow.put({
      ...dueKey(event.tenantId, w.id, event.id),
      tenantId: event.tenantId,
      entityType: 'WFDUE',
      workflowId: w.id,
      runId: event.id,
      runAt,
      duePk: duePartition(dueShard(event.id)),
      dueSk: `${runAt}#${event.tenantId}#${w.id}#${event.id}`,
    });
    outcome = 'scheduled';
  } else {
    const ownerHint = ownerStatedBy(event, subject);
    const result = await runActions({ tenantId: event.tenantId, runKey: key, subject, actions: w.actions, workflowId: w.id, runId: event.id, now: ctx.now, ...(ownerHint ? { ownerHint } : {}) });
    uow.put({ ...base, ...finished(result, new Date()) }, runIsNew);
    outcome = 'ran';
  }
  try {
    await uow.commit(undefined);
    return outcome;
  } catch (err) {
    if (err instanceof RunExists) return 'duplicate';
    throw err;
  }
}

/** The owner an event about the subject's own record states (lead.created, opportunity and ticket events carry it). */
function ownerStatedBy(event: DomainEvent, subject: Subject): string | undefined {
  const data = event.data as Item;
  if (event.entity.id !== subject.id || data.id !== subject.id) return undefined;
  return typeof data.ownerId === 'string' ? data.ownerId : undefined;
}

function finished(result: RunOutcome | { status: 'skipped' }, at: Date) {
  return {
    status: result.status,
    doneAt: at.toISOString(),
    ...('error' in result && result.error ? { error: result.error } : {}),
    ...('skippedActions' in result && result.skippedActions?.length ? { skippedActions: result.skippedActions } : {}),
  };
}

class RunExists extends Error {}
class CounterMoved extends Error {}
const runIsNew = { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new RunExists() };

interface CounterEntry {
  id: string;
  at: string;
}

/**
 * A count threshold: the subject's last `n` matching events (id and time) and whether it fired.
 * Fires when the n-th event within `withinDays` arrives, once per subject per workflow.
 */
async function countEvent(event: DomainEvent, w: Workflow, subject: Subject): Promise<EventOutcome> {
  const { n, withinDays } = w.trigger.count!;
  const key = counterKey(event.tenantId, w.id, subject.type, subject.id);
  for (;;) {
    const stored = await getItem(key);
    if (stored?.fired === true) return 'counted';
    const entries = (stored?.entries as CounterEntry[] | undefined) ?? [];
    if (entries.some((e) => e.id === event.id)) return 'duplicate';
    // Only events since the workflow was (re)enabled count; the newest n are all a window needs.
    const kept = [...entries, { id: event.id, at: event.occurredAt }]
      .filter((e) => e.at >= w.enabledSince!)
      .sort((a, b) => (a.at === b.at ? a.id.localeCompare(b.id) : a.at.localeCompare(b.at)))
      .slice(-n);
    const fires = kept.length === n && Date.parse(kept[n - 1]!.at) - Date.parse(kept[0]!.at) <= withinDays * DAY_MS;
    const rev = typeof stored?.rev === 'number' ? stored.rev : 0;
    const writeCounter = (uow: UnitOfWork) =>
      uow.put(
        {
          ...key,
          tenantId: event.tenantId,
          entityType: 'WFCNT',
          workflowId: w.id,
          entries: kept,
          fired: fires,
          rev: rev + 1,
          // Unfired counters of quiet subjects go away; a fired one stays (it fires once).
          ...(fires ? {} : { expiresAt: Math.floor(Date.parse(kept[kept.length - 1]!.at) / 1000) + withinDays * 86_400 + 86_400 }),
        },
        stored
          ? { condition: 'rev = :rev', values: { ':rev': rev }, onConditionFailed: () => new CounterMoved() }
          : { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new CounterMoved() },
      );
    try {
      if (fires) return await fireOnce(event, w, subject, `${w.id}:S:${subject.type}:${subject.id}`, writeCounter);
      const uow = new UnitOfWork({ identity: { tenantId: event.tenantId, userId: WORKFLOW_USER, role: 'admin' }, now: new Date(event.occurredAt) });
      writeCounter(uow);
      await uow.commit(undefined);
      return 'counted';
    } catch (err) {
      if (err instanceof CounterMoved) continue; // another event of this subject counted first: count again on top of it
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The runner

export interface WorkflowRunnerOptions {
  now?: Date;
  timeLeftMs?: () => number;
  pageSize?: number;
  /** Fault injection for tests: throw once this many due runs have been finished. */
  failAfter?: number;
}

export type WorkflowRunnerReport = {
  job: 'workflow-runner';
  now: string;
  processed: number;
  done: number;
  failed: number;
  skipped: number;
  /** Due items another runner finished first, or whose run was already over. */
  dropped: number;
  complete: boolean;
};

export class InjectedRunnerFailure extends Error {}
const SAFETY_MS = 20_000;

export async function runWorkflowRunner(opts: WorkflowRunnerOptions = {}): Promise<WorkflowRunnerReport> {
  const now = opts.now ?? new Date();
  const report: WorkflowRunnerReport = { job: 'workflow-runner', now: now.toISOString(), processed: 0, done: 0, failed: 0, skipped: 0, dropped: 0, complete: true };
  const partitions = Array.from({ length: WORKFLOW_DUE_SHARDS }, (_, shard) => duePartition(shard));
  report.complete = await sweepDue(
    { partitions, before: now.toISOString(), pageSize: opts.pageSize ?? 100, safetyMs: SAFETY_MS, ...(opts.timeLeftMs ? { timeLeftMs: opts.timeLeftMs } : {}) },
    async (dues) => {
      for (const due of dues) {
        if (opts.failAfter !== undefined && report.processed >= opts.failAfter) throw new InjectedRunnerFailure();
        const status = await runDue(due, now);
        report.processed++;
        report[status]++;
      }
    },
  );
  return report;
}

/** One due run: its actions (or skipped), then its outcome and the due item's removal, together. */
async function runDue(due: Item, now: Date): Promise<'done' | 'failed' | 'skipped' | 'dropped'> {
  const tenantId = due.tenantId as string;
  const workflowId = due.workflowId as string;
  const runId = due.runId as string;
  const [runItem, workflowItem] = await getItems([runItemKey(tenantId, workflowId, runId), workflowKey(tenantId, workflowId)]);
  const ctx = { identity: { tenantId, userId: WORKFLOW_USER, role: 'admin' as const }, now };
  if (!runItem || runItem.status !== 'scheduled') {
    await removeDue(tenantId, workflowId, runId);
    return 'dropped';
  }
  const workflow = workflowItem ? workflowFromItem(workflowItem) : undefined;
  // Disabled or deleted since the event (re-enabled since counts too: it was off in between).
  const live = workflow && workflow.enabled && workflow.enabledSince !== null && workflow.enabledSince <= (runItem.eventAt as string);
  const outcome: RunOutcome | { status: 'skipped' } = live
    ? await runActions({
        tenantId,
        runKey: runItem.runKey as string,
        subject: { type: runItem.subjectType as Subject['type'], id: runItem.subjectId as string },
        actions: workflow.actions,
        workflowId,
        runId,
        now,
      })
    : { status: 'skipped' };
  const fin = finished(outcome, now);
  const uow = new UnitOfWork(ctx);
  uow.update(
    runItemKey(tenantId, workflowId, runId),
    {
      expression: `SET #status = :status, doneAt = :doneAt${'error' in fin ? ', #error = :error' : ''}${'skippedActions' in fin ? ', skippedActions = :skipped' : ''}`,
      names: { '#status': 'status', ...('error' in fin ? { '#error': 'error' } : {}) },
      values: { ':status': fin.status, ':doneAt': fin.doneAt, ...('error' in fin ? { ':error': fin.error } : {}), ...('skippedActions' in fin ? { ':skipped': fin.skippedActions } : {}) },
    },
    { condition: '#status = :scheduled', values: { ':scheduled': 'scheduled' }, onConditionFailed: () => new RunOver() },
  );
  uow.delete(dueKey(tenantId, workflowId, runId));
  try {
    await uow.commit(undefined);
    return fin.status;
  } catch (err) {
    if (err instanceof RunOver) {
      await removeDue(tenantId, workflowId, runId);
      return 'dropped';
    }
    throw err;
  }
}

class RunOver extends Error {}

async function removeDue(tenantId: string, workflowId: string, runId: string): Promise<void> {
  const uow = new UnitOfWork({ identity: { tenantId, userId: WORKFLOW_USER, role: 'admin' }, now: new Date() });
  uow.delete(dueKey(tenantId, workflowId, runId));
  await uow.commit(undefined).catch((err: unknown) => {
    if (!(err instanceof TransactionCanceledException)) throw err;
  });
}
