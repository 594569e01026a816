/** The task: something someone has to do by a time, maybe about an account, contact or opportunity. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, ownerPartition, rank, teamPartition, typePartition } from '#domain/table/keys.ts';

export const TASK_STATUSES = ['open', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const fields = builtOnFirstUse(() => ({
  title: f.name,
  description: z.optional(f.freeText),
  dueAt: f.timestamp,
  assigneeId: z.optional(f.id),
  status: z._default(z.enum(TASK_STATUSES), 'open'),
  accountId: z.optional(f.id),
  opportunityId: z.optional(f.id),
  contactId: z.optional(f.id),
}));

export const taskCreate = z.lazy(() => z.strictObject(fields()));
export const taskPatch = z.lazy(() => f.patchOf(fields(), ['description', 'accountId', 'opportunityId', 'contactId']));
export type TaskCreate = z.infer<typeof taskCreate>;
export type TaskPatch = z.infer<typeof taskPatch>;

/** The task as every route answers it. */
export const taskView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      title: f.out.name,
      description: z.optional(f.out.text),
      dueAt: f.out.timestamp,
      assigneeId: f.out.id,
      status: z.enum(TASK_STATUSES),
      completedAt: z.optional(f.out.timestamp),
      accountId: z.optional(f.out.id),
      opportunityId: z.optional(f.out.id),
      contactId: z.optional(f.out.id),
      ownerId: z.nullable(f.out.id.check(z.describe('the assignee'))),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Task', description: 'Something someone has to do by a time.' })),
);

/** `ownerId` is the assignee: visibility follows whoever has to do it (and whoever asked). */
export interface Task extends StoredRecord {
  title: string;
  description?: string;
  dueAt: string;
  assigneeId: string;
  status: TaskStatus;
  completedAt?: string;
  accountId?: string;
  opportunityId?: string;
  contactId?: string;
  createdBy: string;
}

/** Status then due time: "my open tasks due before X" is one key range. */
export const taskSort = (t: Pick<Task, 'status' | 'dueAt' | 'id'>) => `${t.status}#${t.dueAt}#${t.id}`;

export const taskSpec: RecordSpec<Task> = {
  type: 'TASK',
  noun: 'task',
  readableAs: 'personal',
  events: { created: 'task.created', updated: 'task.updated', deleted: 'task.deleted' },
  alsoVisibleTo: (who, t) => t.createdBy === who.userId,
  indexKeys: (tenantId, t) => ({
    parentPk: t.accountId ? accountCollection(tenantId, t.accountId) : undefined,
    // Open tasks show in Customer 360; done ones sort past the range it reads.
    parentSk: t.accountId
      ? `${t.status === 'open' ? rank.OPEN_TASK : rank.CLOSED}#TASK#${t.dueAt}#${t.id}`
      : undefined,
    ownerPk: ownerPartition(tenantId, 'TASK', t.assigneeId),
    ownerSk: taskSort(t),
    teamPk: t.ownerTeamId ? teamPartition(tenantId, 'TASK', t.ownerTeamId) : undefined,
    teamSk: t.ownerTeamId ? taskSort(t) : undefined,
    typePk: typePartition(tenantId, 'TASK'),
    typeSk: taskSort(t),
  }),
};
