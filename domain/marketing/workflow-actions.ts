/**
 * A run's actions, in order, on its subject (marketing.md "Workflows" `actions`).
 *
 * A retried run (a redelivered event, a runner killed halfway, two runners at once) never repeats
 * an action that already happened: each action is exactly-once by (run key, action index).
 *   - `createTask`, `addTag`, `setLeadStatus` call the tasks', contacts' and leads' own use cases
 *     with an idempotency key `workflow:<run key>:<index>`: their transaction then holds the
 *     idempotency record (the same one a retried POST uses), so a second attempt fails on it and
 *     changes nothing;
 *   - `notify` writes a `workflow.alert` notification whose id is derived from the same pair;
 *   - `sendEmail` claims its send before the provider call (workflow-email.ts): at most once;
 *     a subject without an address or a suppressed one is skipped (the run says so in
 *     `skippedActions`) and the run goes on.
 * An action refused by its use case for a reason that retrying will not change (a 4xx: a lead
 * already converted, an owner that is not in the directory, a subject that is gone) ends the run
 * as `failed` with that reason; anything else is thrown, and the run is tried again.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, validationFailed } from '#domain/errors.ts';
import { fromItem } from '#domain/records.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { IdempotencyRecordExists, UnitOfWork } from '#domain/table/transaction.ts';
import { addNotification, derivedId, NotificationExists } from '#domain/notifications/notifications.ts';
import { createTask } from '#domain/tasks/tasks.ts';
import { updateContact } from '#domain/accounts/contacts.ts';
import { updateLead } from '#domain/sales/leads.ts';
import type { Action, SkippedAction, Subject } from '#domain/marketing/workflow.ts';
import { sendWorkflowEmail } from '#domain/marketing/workflow-email.ts';

/** Who the workflow's changes are made by, in events and audit entries. */
export const WORKFLOW_USER = 'system:workflows';

type Item = Record<string, unknown>;

export interface RunOutcome {
  status: 'done' | 'failed';
  error?: string;
  /** Actions that had nothing to do (see SkippedAction). */
  skippedActions?: SkippedAction[];
}

/** The subject as stored now (null: it is gone). */
async function loadSubject(tenantId: string, subject: Subject): Promise<Item | null> {
  const type = ({ contact: 'CONTACT', lead: 'LEAD', opportunity: 'OPPORTUNITY', ticket: 'TICKET' } as const)[subject.type];
  const key = entityKey(tenantId, type, subject.id);
  const item = await getItem(key);
  return item ? fromItem<Item & { id: string; version: number; createdAt: string; updatedAt: string; ownerId: string | null }>(item) : null;
}

const refused = (message: string) => new DomainError(422, 'workflow_action_refused', message);

export interface RunInput {
  tenantId: string;
  /** What makes its actions exactly-once: the workflow and the event, or (count) the workflow and the subject. */
  runKey: string;
  subject: Subject;
  actions: Action[];
  workflowId: string;
  runId: string;
  now: Date;
  /** The subject's owner as the triggering event states it (an immediate run about the event's own record): saves reading the subject. */
  ownerHint?: string;
}

/** Runs the actions in order; stops at the first that is refused. */
export async function runActions(run: RunInput): Promise<RunOutcome> {
  let subject: Item | null | undefined;
  const current = async () => (subject === undefined ? (subject = await loadSubject(run.tenantId, run.subject)) : subject);
  const owner = async (): Promise<string> => {
    if (run.ownerHint) return run.ownerHint;
    const record = await current();
    if (!record) throw refused(`the ${run.subject.type} ${run.subject.id} no longer exists`);
    if (typeof record.ownerId !== 'string') throw refused(`the ${run.subject.type} ${run.subject.id} has no owner`);
    return record.ownerId;
  };
  const skippedActions: SkippedAction[] = [];
  const noted = () => (skippedActions.length ? { skippedActions } : {});
  for (const [i, action] of run.actions.entries()) {
    const ctx: UseCaseContext = {
      identity: { tenantId: run.tenantId, userId: WORKFLOW_USER, role: 'admin' },
      now: run.now,
      idempotency: { key: `workflow:${run.runKey}:${i}`, requestHash: `workflow:${run.workflowId}` },
    };
    try {
      const skipped = await perform(ctx, run, i, action, { current, owner });
      if (skipped) skippedActions.push({ action: i, type: action.type, reason: skipped });
    } catch (err) {
      if (err instanceof IdempotencyRecordExists || err instanceof NotificationExists) continue; // done by an earlier attempt
      if (err instanceof DomainError && err.status < 500) {
        const details = err.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
        return { status: 'failed', error: `actions.${i} (${action.type}): ${err.message}${details ? ` (${details})` : ''}`, ...noted() };
      }
      throw err;
    }
  }
  return { status: 'done', ...noted() };
}

interface SubjectAccess {
  current(): Promise<Item | null>;
  owner(): Promise<string>;
}

/** Does one action; answers why it had nothing to do, when it had nothing to do. */
async function perform(ctx: UseCaseContext, run: RunInput, index: number, action: Action, subject: SubjectAccess): Promise<SkippedAction['reason'] | void> {
  switch (action.type) {
    case 'notify': {
      const userId = action.to === 'owner' ? await subject.owner() : action.to;
      const uow = new UnitOfWork({ identity: ctx.identity, now: ctx.now });
      addNotification(ctx, uow, {
        id: derivedId(run.tenantId, 'workflow.alert', run.runKey, String(index)),
        userId,
        kind: 'workflow.alert',
        message: action.message,
        entityType: run.subject.type,
        entityId: run.subject.id,
        data: { workflowId: run.workflowId, runId: run.runId },
      });
      await uow.commit(undefined);
      return;
    }
    case 'createTask': {
      const assigneeId = action.assignTo === 'owner' ? await subject.owner() : action.assignTo;
      const dueAt = new Date(ctx.now.getTime() + action.dueInDays * 24 * 60 * 60 * 1000).toISOString();
      const link = run.subject.type === 'contact' ? { contactId: run.subject.id } : run.subject.type === 'opportunity' ? { opportunityId: run.subject.id } : {};
      await createTask(ctx, { title: action.title, dueAt, assigneeId, status: 'open', ...link });
      return;
    }
    case 'addTag':
      return addTag(ctx, run.subject, action.tag);
    case 'setLeadStatus':
      if (run.subject.type !== 'lead') throw refused(`setLeadStatus applies to leads; the subject is a ${run.subject.type}`);
      await updateLead(ctx, run.subject.id, { status: action.status }, undefined);
      return;
    case 'sendEmail':
      return sendWorkflowEmail(run, index, action, run.subject, await subject.current());
  }
}

/** Adds the tag to the contact's or lead's tags, conditioned on the version read (a concurrent change is re-read, never lost). */
async function addTag(ctx: UseCaseContext, subject: Subject, tag: string): Promise<void> {
  if (subject.type !== 'contact' && subject.type !== 'lead') throw refused(`addTag applies to contacts and leads; the subject is a ${subject.type}`);
  for (;;) {
    const record = await loadSubject(ctx.identity.tenantId, subject);
    if (!record) throw refused(`the ${subject.type} ${subject.id} no longer exists`);
    const tags = Array.isArray(record.tags) ? (record.tags as string[]) : [];
    if (tags.includes(tag)) return;
    if (tags.length >= 100) throw validationFailed([{ path: 'tags', message: 'the record already has 100 tags' }]);
    const patch = { tags: [...tags, tag] };
    try {
      if (subject.type === 'contact') await updateContact(ctx, subject.id, patch, record.version as number);
      else await updateLead(ctx, subject.id, patch, record.version as number);
      return;
    } catch (err) {
      if (err instanceof DomainError && err.code === 'version_mismatch') continue;
      throw err;
    }
  }
}
