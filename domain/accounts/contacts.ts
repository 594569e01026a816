/** Contact use cases. */
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole, type Role } from '#domain/identity.ts';
import { attributeFilter, ownedListQuery } from '#domain/listing.ts';
import { resolveOwner } from '#domain/ownership.ts';
import {
  checkIfMatch,
  fromItem,
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
  type PreparedCreate,
} from '#domain/records.ts';
import { accountCollection, entityKey, nameKey, rank } from '#domain/table/keys.ts';
import { queryPage, type Page, type PageRequest, type QuerySpec } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { readableAccount } from '#domain/accounts/links.ts';
import { contactSpec, type Contact, type ContactCreate, type ContactPatch } from '#domain/accounts/contact.ts';
import { validationFailed } from '#domain/errors.ts';
import { changeGuards, claimContactGuards, commitCreate, rejectDuplicates, releaseGuards, valuesOfRecord } from '#domain/accounts/duplicates.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';

const SALES_ROLES = ['admin', 'manager', 'rep'] as const;

/** The account a contact joins must still exist when the contact lands. */
function accountStillExists(uow: UnitOfWork, ctx: UseCaseContext, accountId: string) {
  return uow.check(entityKey(ctx.identity.tenantId, 'ACCOUNT', accountId), {
    condition: 'attribute_exists(PK)',
    onConditionFailed: () => validationFailed([{ path: 'body.accountId', message: 'no such account' }]),
  });
}

/** `roles`: who may create; a CSV import also lets marketers (domain/integrations/import-rows.ts). */
export async function createContact(ctx: UseCaseContext, input: ContactCreate, roles: readonly Role[] = SALES_ROLES): Promise<Contact> {
  return commitCreate(ctx, await prepareContact(ctx, input, roles));
}

/** A new contact checked and built (`createContact` without its commit). */
export async function prepareContact(ctx: UseCaseContext, input: ContactCreate, roles: readonly Role[] = SALES_ROLES): Promise<PreparedCreate<Contact>> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  requireRole(ctx.identity, ...roles);
  const { ownerId, ...fields } = input;
  const [owner] = await Promise.all([
    resolveOwner(ctx, ownerId),
    fields.accountId ? readableAccount(ctx, fields.accountId) : undefined,
  ]);
  const contact = stamp<Contact>(ctx, { ...fields, createdBy: ctx.identity.userId }, owner);
  // The contact, its duplicate guards (email, phone) and its event land together; an email
  // or phone another contact holds is a 409 duplicate.
  return { result: publicView(contact), write: (uow) => addNewContact(ctx, contact, uow) };
}

/**
 * Adds a new contact to a unit of work: the record, its `contact.created` event, its
 * duplicate guards (email, phone) and, with an account, the check that the account still
 * exists. The caller commits inside `rejectDuplicates`.
 */
export function addNewContact(ctx: UseCaseContext, contact: Contact, uow = new UnitOfWork(ctx)): UnitOfWork {
  insert(ctx, contactSpec, contact, uow);
  if (contact.accountId) accountStillExists(uow, ctx, contact.accountId);
  return claimContactGuards(ctx, uow, contact);
}

export async function getContact(ctx: UseCaseContext, id: string): Promise<Contact> {
  return publicView(await loadReadable(ctx, contactSpec, id));
}

export async function updateContact(ctx: UseCaseContext, id: string, patch: ContactPatch, ifMatch: number | undefined): Promise<Contact> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  return rejectDuplicates(ctx, () => retryOnVersionRace(ifMatch, async () => {
    const before = await loadWritable(ctx, contactSpec, id);
    checkIfMatch(before, ifMatch);
    const { ownerId, ...fields } = patch;
    let after = mergePatch(before, fields);
    if (ownerId !== undefined && ownerId !== before.ownerId) {
      requireRole(ctx.identity, 'admin', 'manager');
      after = { ...after, ...(await resolveOwner(ctx, ownerId)) };
    }
    if (unchanged(before, after)) return publicView(before);
    const uow = new UnitOfWork(ctx);
    if (after.accountId && after.accountId !== before.accountId) {
      await readableAccount(ctx, after.accountId);
      accountStillExists(uow, ctx, after.accountId);
    }
    const next = nextVersion(ctx, before, after);
    replace(ctx, contactSpec, before, next, uow);
    changeGuards(ctx, uow, 'contact', id, valuesOfRecord('contact', before), valuesOfRecord('contact', next));
    return uow.commit(publicView(next));
  }));
}

export async function deleteContact(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  await retryOnVersionRace(ifMatch, async () => {
    const contact = await loadWritable(ctx, contactSpec, id);
    checkIfMatch(contact, ifMatch);
    const uow = remove(ctx, contactSpec, contact);
    await releaseGuards(ctx, uow, 'contact', id, valuesOfRecord('contact', contact)).commit(undefined);
  });
}

export interface ContactFilters {
  accountId?: string | undefined;
  tag?: string | undefined;
  q?: string | undefined;
}

export async function listContacts(ctx: UseCaseContext, filters: ContactFilters, page: PageRequest): Promise<Page<Contact>> {
  const who = ctx.identity;
  let spec: QuerySpec;
  if (filters.accountId) {
    // An account's contacts: its collection, in name order. Whoever may open the account sees them all.
    await readableAccount(ctx, filters.accountId, 'query.accountId');
    spec = {
      index: 'byParent',
      pk: accountCollection(who.tenantId, filters.accountId),
      sk: { beginsWith: `${rank.CONTACT}#CONTACT#${filters.q ? nameKey(filters.q) : ''}` },
    };
    spec.filter = attributeFilter({}, { tags: filters.tag });
    return queryPage(spec, page, (item) => publicView(fromItem<Contact>(item)));
  }
  spec = {
    ...ownedListQuery(ctx, 'CONTACT', filters, who.role === 'support' || who.role === 'marketer'),
    filter: attributeFilter({}, { tags: filters.tag }),
  };
  return queryPage(spec, page, (item) => visibleFromItem(contactSpec, who, item));
}
