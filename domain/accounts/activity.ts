/** The activity (跟进记录): a call, meeting, email, visit or note, linked to what it was about. */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import {
  accountCollection,
  contactCollection,
  invertedTime,
  leadCollection,
  ownerPartition,
  rank,
  teamPartition,
  typePartition,
} from '#domain/table/keys.ts';

export const ACTIVITY_TYPES = ['call', 'meeting', 'email', 'visit', 'note'] as const;

const editable = builtOnFirstUse(() => ({
  type: z.enum(ACTIVITY_TYPES),
  subject: f.name,
  body: z.optional(f.freeText),
  occurredAt: z.optional(f.timestamp),
}));

const links = builtOnFirstUse(() => ({
  accountId: z.optional(f.id),
  contactId: z.optional(f.id),
  opportunityId: z.optional(f.id),
  leadId: z.optional(f.id),
}));

export const activityCreate = z.lazy(() =>
  z.strictObject({ ...editable(), ...links() }).check(
    z.refine((a) => !!(a.accountId || a.contactId || a.opportunityId || a.leadId), {
      message: 'an activity links to at least one of accountId, contactId, opportunityId, leadId',
      path: ['accountId'],
    }),
    // A lead is not yet a customer: its activities are its own (a converted lead's customer has a contact).
    z.refine((a) => !(a.leadId && (a.accountId || a.contactId || a.opportunityId)), {
      message: 'an activity on a lead links to the lead only',
      path: ['leadId'],
    }),
  ),
);
/** Links are fixed once logged: an activity happened with whom it happened. */
export const activityPatch = z.lazy(() => f.patchOf(editable(), ['body']));
export type ActivityCreate = z.infer<typeof activityCreate>;
export type ActivityPatch = z.infer<typeof activityPatch>;

/** The activity as every route answers it. */
export const activityView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      type: z.enum(ACTIVITY_TYPES),
      subject: f.out.subject,
      body: z.optional(f.out.document),
      occurredAt: f.out.timestamp,
      accountId: z.optional(f.out.id),
      contactId: z.optional(f.out.id),
      opportunityId: z.optional(f.out.id),
      leadId: z.optional(f.out.id),
      ownerId: z.nullable(f.out.id.check(z.describe('null for a system entry (a release note)'))),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Activity', description: 'A follow-up (跟进记录): a call, meeting, email, visit or note.' })),
);

export interface Activity extends StoredRecord {
  type: (typeof ACTIVITY_TYPES)[number];
  subject: string;
  body?: string;
  occurredAt: string;
  accountId?: string;
  contactId?: string;
  opportunityId?: string;
  leadId?: string;
  createdBy: string;
}

/** Activities sort newest first in every list: the sort keys lead with an inverted timestamp. */
export const activitySpec: RecordSpec<Activity> = {
  type: 'ACTIVITY',
  noun: 'activity',
  readableAs: 'personal',
  events: { created: 'activity.logged', updated: 'activity.updated', deleted: 'activity.deleted' },
  indexKeys: (tenantId, a) => {
    const sort = `${invertedTime(a.occurredAt)}#${a.id}`;
    const parent = a.accountId
      ? accountCollection(tenantId, a.accountId)
      : a.contactId
        ? contactCollection(tenantId, a.contactId)
        : a.leadId
          ? leadCollection(tenantId, a.leadId)
          : undefined;
    return {
      parentPk: parent,
      parentSk: parent ? `${rank.ACTIVITY}#ACTIVITY#${sort}` : undefined,
      ownerPk: a.ownerId ? ownerPartition(tenantId, 'ACTIVITY', a.ownerId) : undefined,
      ownerSk: a.ownerId ? sort : undefined,
      teamPk: a.ownerTeamId ? teamPartition(tenantId, 'ACTIVITY', a.ownerTeamId) : undefined,
      teamSk: a.ownerTeamId ? sort : undefined,
      typePk: typePartition(tenantId, 'ACTIVITY'),
      typeSk: sort,
    };
  },
};
