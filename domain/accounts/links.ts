/**
 * Records that activities and tasks link to by id in their body. A link the caller
 * cannot open is reported exactly like a missing one: `400 validation_failed` on that
 * field, never a hint that the record exists.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, validationFailed } from '#domain/errors.ts';
import { loadReadable } from '#domain/records.ts';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { contactSpec, type Contact } from '#domain/accounts/contact.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { canReadLead, leadFromItem, type Lead } from '#domain/sales/lead.ts';
import { canReadOpportunity, opportunityOf, type Opportunity } from '#domain/sales/opportunity.ts';
import { fromItem } from '#domain/records.ts';

export interface LinkIds {
  accountId?: string | undefined;
  contactId?: string | undefined;
  opportunityId?: string | undefined;
  leadId?: string | undefined;
}

export interface ResolvedLinks {
  account?: Account;
  contact?: Contact;
  lead?: Lead;
  opportunity?: Opportunity;
}

async function readableOr400<T>(load: () => Promise<T>, path: string, noun: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof DomainError && err.status === 404) {
      throw validationFailed([{ path, message: `no such ${noun}` }]);
    }
    throw err;
  }
}

export async function readableAccount(ctx: UseCaseContext, id: string, path = 'body.accountId'): Promise<Account> {
  return readableOr400(() => loadReadable(ctx, accountSpec, id), path, 'account');
}

export async function readableContact(ctx: UseCaseContext, id: string, path = 'body.contactId'): Promise<Contact> {
  return readableOr400(() => loadReadable(ctx, contactSpec, id), path, 'contact');
}

/** A lead the caller may open (domain/sales/lead.ts `canReadLead`), or 400 on `path`. */
export async function readableLead(ctx: UseCaseContext, id: string, path = 'body.leadId'): Promise<Lead> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'LEAD', id));
  const lead = item ? leadFromItem(item) : undefined;
  if (!lead || !canReadLead(ctx.identity, lead)) throw validationFailed([{ path, message: 'no such lead' }]);
  return lead;
}

/** An opportunity the caller may open (sales roles: owner, team, admin), or 400 on `path`. */
export async function readableOpportunity(ctx: UseCaseContext, id: string, path = 'body.opportunityId'): Promise<Opportunity> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'OPPORTUNITY', id));
  const opportunity = item ? opportunityOf(item) : undefined;
  if (!opportunity || !canReadOpportunity(ctx.identity, opportunity)) throw validationFailed([{ path, message: 'no such opportunity' }]);
  return opportunity;
}

/**
 * Loads the linked account, contact and opportunity. The account is the one given, or else
 * the contact's, or else the opportunity's; an opportunity on another account than that is a 400.
 */
export async function resolveLinks(ctx: UseCaseContext, ids: LinkIds): Promise<ResolvedLinks> {
  if (ids.leadId !== undefined) return { lead: await readableLead(ctx, ids.leadId) };
  const [contact, given, opportunity] = await Promise.all([
    ids.contactId ? readableContact(ctx, ids.contactId) : undefined,
    ids.accountId ? readableAccount(ctx, ids.accountId) : undefined,
    ids.opportunityId ? readableOpportunity(ctx, ids.opportunityId) : undefined,
  ]);
  const account =
    given ??
    (contact?.accountId ? await readableAccount(ctx, contact.accountId, 'body.contactId') : undefined) ??
    (opportunity ? await opportunityAccount(ctx, opportunity) : undefined);
  if (opportunity && account && opportunity.accountId !== account.id) {
    throw validationFailed([{ path: 'body.opportunityId', message: 'the opportunity is on another account' }]);
  }
  return { ...(account ? { account } : {}), ...(contact ? { contact } : {}), ...(opportunity ? { opportunity } : {}) };
}

/** The account of an opportunity the caller may open: the link is the opportunity's, whoever owns the account. */
async function opportunityAccount(ctx: UseCaseContext, opportunity: Opportunity): Promise<Account | undefined> {
  const item = await getItem(entityKey(ctx.identity.tenantId, 'ACCOUNT', opportunity.accountId));
  return item ? { ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | null | undefined) ?? null } : undefined;
}
