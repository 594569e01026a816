/**
 * The workflow (营销自动化): a trigger on one domain event (with equality conditions and an
 * optional `count` threshold), an optional delay, and 1..10 actions run in order on the event's
 * subject. Its shape, input rules, the per-event rules (which conditions fit which event, who the
 * subject is) and its keys.
 *
 * KEYS (docs/access-patterns.md "Workflows"):
 *   - the workflow: `T#t#WF` / `<id>` — all of a tenant's workflows in one partition (a handful):
 *     get by id is a GetItem, the list a Query;
 *   - its copy in the index of its trigger event while it is enabled: `T#t#WF#EVENT#<event>` /
 *     `<id>`, written in the same transaction as the workflow, so an event finds every enabled
 *     workflow listening to it, with all it needs to act, in ONE strongly consistent Query;
 *   - runs: `T#t#WFRUN#<workflowId>` / `<eventId>` (ULIDs: newest first is a backward Query);
 *   - a count threshold's counter: `T#t#WFCNT#<workflowId>#<subjectType>#<subjectId>` / `WFCNT`;
 *   - a sendEmail action's send claim: `T#t#WFMAIL#<run key>#<index>` / `WFMAIL`;
 *   - a delayed run's due item: `T#t#WFDUE#<workflowId>#<runId>` / `WFDUE`, in `byDue`
 *     `DUE#WF#<shard>`, sort key `<runAt>#<tenant>#<workflowId>#<runId>` (the runner sweeps it).
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { OPEN_LEAD_STATUSES } from '#domain/sales/lead.ts';
import { t } from '#domain/table/keys.ts';

/** The events a workflow may listen to, and the conditions (equality; `urlContains`: substring) each accepts. */
export const TRIGGER_CONDITIONS = {
  'email.opened': ['campaignId'],
  'email.clicked': ['campaignId', 'urlContains'],
  'lead.created': ['source', 'campaignId'],
  'form.submitted': ['formId'],
  'opportunity.stageChanged': ['pipelineId', 'stageId'],
  'opportunity.won': [],
  'ticket.created': ['priority'],
  'ticket.solved': [],
} as const satisfies Record<string, readonly string[]>;

export type TriggerEvent = keyof typeof TRIGGER_CONDITIONS;
export const TRIGGER_EVENTS = Object.keys(TRIGGER_CONDITIONS) as [TriggerEvent, ...TriggerEvent[]];

export const SUBJECT_TYPES = ['contact', 'lead', 'opportunity', 'ticket'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** Who a run of each trigger event is about (subjectOf): what a sendEmail action can mail and whose custom fields its tags name. */
export const SUBJECT_TYPES_OF: Record<TriggerEvent, readonly SubjectType[]> = {
  'email.opened': ['contact', 'lead'],
  'email.clicked': ['contact', 'lead'],
  'lead.created': ['lead'],
  'form.submitted': ['lead'],
  'opportunity.stageChanged': ['opportunity'],
  'opportunity.won': ['opportunity'],
  'ticket.created': ['ticket'],
  'ticket.solved': ['ticket'],
};

export const MAX_DELAY_MINUTES = 90 * 24 * 60;
export const MAX_ACTIONS = 10;
/** A count threshold keeps the times of the subject's last `n` events: bounded. */
export const MAX_COUNT = 100;

/** `"owner"` (the subject's owner) or a user of the tenant's directory. */
const recipient = f.id;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const sendEmail = builtOnFirstUse(() =>
  z.strictObject({
    type: z.literal('sendEmail'),
    subject: f.text(1, 998),
    html: f.text(1, 100_000),
    text: z.optional(f.text(1, 100_000)),
  }),
);
const notify = builtOnFirstUse(() => z.strictObject({ type: z.literal('notify'), to: recipient, message: f.text(1, 1000) }));
const createTask = builtOnFirstUse(() =>
  z.strictObject({
    type: z.literal('createTask'),
    title: f.name,
    dueInDays: z.int().check(z.minimum(0), z.maximum(365)),
    assignTo: recipient,
  }),
);
const addTag = builtOnFirstUse(() => z.strictObject({ type: z.literal('addTag'), tag: f.tag }));
const setLeadStatus = builtOnFirstUse(() => z.strictObject({ type: z.literal('setLeadStatus'), status: z.enum(OPEN_LEAD_STATUSES) }));

export const action = z.lazy(() => z.discriminatedUnion('type', [sendEmail(), notify(), createTask(), addTag(), setLeadStatus()]));
export type Action = z.infer<typeof action>;

const trigger = builtOnFirstUse(() =>
  z.strictObject({
    event: z.enum(TRIGGER_EVENTS),
    // Which keys fit the event is checked in `checkWorkflow` (the error names the key).
    conditions: z.optional(z.record(f.out.text, f.text(1, 500))),
    count: z.optional(
      z.strictObject({
        n: z.int().check(z.minimum(1), z.maximum(MAX_COUNT)),
        withinDays: z.int().check(z.minimum(1), z.maximum(365)),
      }),
    ),
  }),
);
export type Trigger = z.infer<ReturnType<typeof trigger>>;

const delay = builtOnFirstUse(() =>
  z.strictObject({
    minutes: z.optional(z.int().check(z.minimum(0), z.maximum(MAX_DELAY_MINUTES))),
    hours: z.optional(z.int().check(z.minimum(0), z.maximum(90 * 24))),
    days: z.optional(z.int().check(z.minimum(0), z.maximum(90))),
  }),
);
export type Delay = z.infer<ReturnType<typeof delay>>;

const actions = builtOnFirstUse(() => z.array(action).check(z.minLength(1), z.maxLength(MAX_ACTIONS)));

const fields = builtOnFirstUse(() => ({
  name: f.name,
  trigger: trigger(),
  delay: z.optional(delay()),
  actions: actions(),
  enabled: z._default(z.boolean(), true),
}));

export const workflowCreate = z.lazy(() => z.strictObject(fields()));
export const workflowPatch = z.lazy(() => f.patchOf(fields(), ['delay']));
export type WorkflowCreate = z.infer<typeof workflowCreate>;
export type WorkflowPatch = z.infer<typeof workflowPatch>;

export interface Workflow {
  id: string;
  name: string;
  trigger: Trigger;
  delay?: Delay;
  actions: Action[];
  enabled: boolean;
  /**
   * Since when events count (null while disabled): set when it is enabled and when its trigger
   * changes. Events that occurred before it do not run the workflow nor count toward `count`.
   */
  enabledSince: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export type RunStatus = 'scheduled' | 'done' | 'skipped' | 'failed';

/** An action of a `done` run that had nothing to do (a sendEmail to a subject without an address, or a suppressed one). */
export interface SkippedAction {
  action: number;
  type: Action['type'];
  reason: 'no_email' | 'suppressed';
}

export interface WorkflowRun {
  id: string;
  workflowId: string;
  subjectType: SubjectType;
  subjectId: string;
  eventId: string;
  status: RunStatus;
  runAt: string;
  doneAt: string | null;
  error?: string;
  skippedActions?: SkippedAction[];
}

/**
 * A workflow as clients see it. Its trigger, delay and actions are answered as they were given:
 * their body schemas describe them.
 */
export const workflowView = z.lazy(() =>
  z.object({
    id: f.out.id,
    name: f.out.name,
    trigger: trigger(),
    delay: z.optional(delay()),
    actions: z.array(action).check(z.maxLength(MAX_ACTIONS)),
    enabled: z.boolean(),
    enabledSince: z.nullable(f.out.timestamp).check(z.describe('since when events count (null while disabled): set when it is enabled and when its trigger changes')),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);

const ACTION_TYPES = ['sendEmail', 'notify', 'createTask', 'addTag', 'setLeadStatus'] as const satisfies readonly Action['type'][];

/** One run of `GET /v1/workflows/{id}/runs`. */
export const workflowRunView = z.lazy(() =>
  z.object({
    id: f.out.id,
    workflowId: f.out.id,
    subjectType: z.enum(SUBJECT_TYPES),
    subjectId: f.out.id,
    eventId: f.out.id,
    status: z.enum(['scheduled', 'done', 'skipped', 'failed'] satisfies RunStatus[]),
    runAt: f.out.timestamp,
    doneAt: z.nullable(f.out.timestamp),
    error: z.optional(f.out.text),
    skippedActions: z.optional(
      z
        .array(z.object({ action: z.int(), type: z.enum(ACTION_TYPES), reason: z.enum(['no_email', 'suppressed'] satisfies SkippedAction['reason'][]) }))
        .check(z.maxLength(MAX_ACTIONS), z.describe('actions of a done run that had nothing to do: a sendEmail to a subject without an address, or a suppressed one')),
    ),
  }),
);

export const delayMinutes = (d: Delay | undefined) => (d ? (d.minutes ?? 0) + (d.hours ?? 0) * 60 + (d.days ?? 0) * 24 * 60 : 0);

// ---------------------------------------------------------------------------------------
// Keys

export const workflowsPartition = (tenantId: string) => `${t(tenantId)}#WF`;
export const workflowKey = (tenantId: string, id: string) => ({ PK: workflowsPartition(tenantId), SK: id });
export const triggerIndexPartition = (tenantId: string, event: string) => `${t(tenantId)}#WF#EVENT#${event}`;
export const triggerIndexKey = (tenantId: string, event: string, id: string) => ({ PK: triggerIndexPartition(tenantId, event), SK: id });
export const runsPartition = (tenantId: string, workflowId: string) => `${t(tenantId)}#WFRUN#${workflowId}`;
export const runKey = (tenantId: string, workflowId: string, runId: string) => ({ PK: runsPartition(tenantId, workflowId), SK: runId });
export const counterKey = (tenantId: string, workflowId: string, subjectType: SubjectType, subjectId: string) => ({
  PK: `${t(tenantId)}#WFCNT#${workflowId}#${subjectType}#${subjectId}`,
  SK: 'WFCNT',
});
/** A sendEmail action's send state (`sending` → `sent` | `failed`), claimed before the provider call: the mail leaves at most once per run and action. */
export const mailClaimKey = (tenantId: string, runKey: string, index: number) => ({ PK: `${t(tenantId)}#WFMAIL#${runKey}#${index}`, SK: 'WFMAIL' });
export const WORKFLOW_DUE_SHARDS = 4;
export const dueKey = (tenantId: string, workflowId: string, runId: string) => ({ PK: `${t(tenantId)}#WFDUE#${workflowId}#${runId}`, SK: 'WFDUE' });
export const duePartition = (shard: number) => `DUE#WF#${shard}`;
/** A ULID ends in random characters: its last one spreads runs over the shards. */
export const dueShard = (runId: string) => runId.charCodeAt(runId.length - 1) % WORKFLOW_DUE_SHARDS;

type Item = Record<string, unknown>;

export function workflowFromItem(item: Item): Workflow {
  const w: Workflow = {
    id: item.id as string,
    name: item.name as string,
    trigger: item.trigger as Trigger,
    ...(item.delay ? { delay: item.delay as Delay } : {}),
    actions: item.actions as Action[],
    enabled: item.enabled as boolean,
    enabledSince: (item.enabledSince as string | null | undefined) ?? null,
    createdBy: item.createdBy as string,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    version: item.version as number,
  };
  return w;
}

export function runFromItem(item: Item): WorkflowRun {
  return {
    id: item.id as string,
    workflowId: item.workflowId as string,
    subjectType: item.subjectType as SubjectType,
    subjectId: item.subjectId as string,
    eventId: item.eventId as string,
    status: item.status as RunStatus,
    runAt: item.runAt as string,
    doneAt: (item.doneAt as string | null | undefined) ?? null,
    ...(typeof item.error === 'string' ? { error: item.error } : {}),
    ...(Array.isArray(item.skippedActions) && item.skippedActions.length ? { skippedActions: item.skippedActions as SkippedAction[] } : {}),
  };
}

// ---------------------------------------------------------------------------------------
// Events: does one match a trigger, and who is it about?

export interface Subject {
  type: SubjectType;
  id: string;
}

/** The contact or lead an event is about (for opportunity and ticket events: the record itself); none when it names no one. */
export function subjectOf(event: { type: string; entity: { type: string; id: string }; data: unknown }): Subject | undefined {
  const data = (event.data ?? {}) as Item;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  switch (event.type) {
    case 'email.opened':
    case 'email.clicked': {
      const contactId = str(data.contactId);
      if (contactId) return { type: 'contact', id: contactId };
      const leadId = str(data.leadId);
      return leadId ? { type: 'lead', id: leadId } : undefined;
    }
    case 'lead.created': {
      const id = str(data.id) ?? event.entity.id;
      return { type: 'lead', id };
    }
    case 'form.submitted': {
      const leadId = str(data.leadId);
      return leadId ? { type: 'lead', id: leadId } : undefined;
    }
    case 'opportunity.stageChanged':
    case 'opportunity.won':
      return { type: 'opportunity', id: str(data.id) ?? event.entity.id };
    case 'ticket.created':
    case 'ticket.solved':
      return { type: 'ticket', id: str(data.id) ?? event.entity.id };
    default:
      return undefined;
  }
}

/** The value an event has for a condition key. */
function conditionValue(eventType: string, key: string, data: Item): unknown {
  if (eventType === 'opportunity.stageChanged' && key === 'stageId') return data.toStageId ?? data.stageId;
  return data[key];
}

/** Whether an event satisfies a trigger's conditions (equality; `urlContains`: substring of the clicked URL). */
export function conditionsHold(trigger: Trigger, event: { type: string; data: unknown }): boolean {
  const data = (event.data ?? {}) as Item;
  for (const [key, expected] of Object.entries(trigger.conditions ?? {})) {
    if (key === 'urlContains') {
      if (typeof data.url !== 'string' || !data.url.includes(expected)) return false;
    } else if (conditionValue(event.type, key, data) !== expected) return false;
  }
  return true;
}
