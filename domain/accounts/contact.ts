/** The contact (联系人): a person at an account, or on its own. */
import * as z from 'zod/mini';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import * as f from '#domain/fields.ts';
import type { RecordSpec, StoredRecord } from '#domain/records.ts';
import { accountCollection, nameKey, ownerPartition, rank, teamPartition, typePartition } from '#domain/table/keys.ts';

const fields = builtOnFirstUse(() => ({
  accountId: z.optional(f.id),
  name: f.name,
  email: z.optional(f.email),
  phone: z.optional(f.phone),
  title: z.optional(f.shortText),
  tags: z._default(f.tags, []),
  ownerId: z.optional(f.id),
  custom: f.customValues,
}));

export const contactCreate = z.lazy(() => z.strictObject(fields()));
export const contactPatch = z.lazy(() => f.patchOf(fields(), ['accountId', 'email', 'phone', 'title']));
export type ContactCreate = z.infer<typeof contactCreate>;
export type ContactPatch = z.infer<typeof contactPatch>;

/** The contact as every route answers it. */
export const contactView = z.lazy(() =>
  z
    .object({
      ...f.storedFields,
      accountId: z.optional(f.out.id),
      name: f.out.name,
      email: z.optional(f.out.email),
      phone: z.optional(f.out.phone),
      title: z.optional(f.out.name),
      tags: f.out.tags,
      custom: f.customOut,
      ownerId: z.nullable(f.out.id),
      createdBy: f.out.id,
    })
    .check(z.meta({ id: 'Contact', description: 'A person at an account, or on its own (联系人).' })),
);

export interface Contact extends StoredRecord {
  accountId?: string;
  name: string;
  email?: string;
  phone?: string;
  title?: string;
  tags: string[];
  /** Custom field values (domain/marketing/custom-fields.ts); shown only while their definitions exist. */
  custom?: Record<string, unknown>;
  createdBy: string;
}

export const contactSpec: RecordSpec<Contact> = {
  type: 'CONTACT',
  noun: 'contact',
  readableAs: 'customer',
  events: { created: 'contact.created', updated: 'contact.updated', deleted: 'contact.deleted' },
  indexKeys: (tenantId, c) => {
    const sort = `${nameKey(c.name)}#${c.id}`;
    return {
      nameKey: nameKey(c.name),
      parentPk: c.accountId ? accountCollection(tenantId, c.accountId) : undefined,
      parentSk: c.accountId ? `${rank.CONTACT}#CONTACT#${sort}` : undefined,
      ownerPk: c.ownerId ? ownerPartition(tenantId, 'CONTACT', c.ownerId) : undefined,
      ownerSk: c.ownerId ? sort : undefined,
      teamPk: c.ownerTeamId ? teamPartition(tenantId, 'CONTACT', c.ownerTeamId) : undefined,
      teamSk: c.ownerTeamId ? sort : undefined,
      typePk: typePartition(tenantId, 'CONTACT'),
      typeSk: sort,
    };
  },
};
