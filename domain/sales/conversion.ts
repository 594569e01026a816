/**
 * Lead conversion (API.md §5 leads): a lead becomes an account (new, or one given), a contact
 * on it and optionally an opportunity, in ONE TransactWriteItems with everything it implies:
 *
 *   - the lead, conditioned on the version read and on not being converted yet (so two
 *     conversions racing end in exactly one winner, and nothing is created twice);
 *   - the lead's duplicate guards, released (the account and contact now hold those values);
 *   - a new account with its guards and the owner's owned-accounts counter, or a check that
 *     the given account is still there and owned;
 *   - the contact with its guards; the opportunity with what it writes;
 *   - the lead's custom values carried to the new account and the contact where they define
 *     the same key with a type the value fits;
 *   - the events (`lead.converted` and each record's `created`) and the idempotency record.
 */
import type { UseCaseContext } from '#domain/context.ts';
import { requireDirectoryUser } from '#domain/directory/users.ts';
import { conflict, DomainError, forbidden, notFound, validationFailed } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import type { Owner } from '#domain/ownership.ts';
import { checkIfMatch, eventSnapshot, fromItem, insert, newId, publicView, readable, retryOnVersionRace, stamp, toItem, VersionRace } from '#domain/records.ts';
import { entityKey } from '#domain/table/keys.ts';
import { getItem, getItems } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { accountSpec, type Account } from '#domain/accounts/account.ts';
import { contactSpec, type Contact } from '#domain/accounts/contact.ts';
import {
  canReadLead,
  canWriteLead,
  CONVERT_ROLES,
  duplicateKeysOf,
  leadFromItem,
  leadSpec,
  SALES_ROLES,
  type Lead,
  type LeadConvert,
} from '#domain/sales/lead.ts';
import { invalidTransition } from '#domain/sales/leads.ts';
import { claimContactGuards, rejectDuplicates, releaseLeadGuards } from '#domain/accounts/duplicates.ts';
import { loadNormalizers } from '#domain/accounts/normalize.ts';
import { addNewAccount } from '#domain/accounts/accounts.ts';
import type { OpportunityView } from '#domain/sales/opportunity.ts';
import { newOpportunity, OPEN_OPPORTUNITY_COUNT } from '#domain/sales/opportunities.ts';
import { carriedCustom, fieldDefinitions } from '#domain/marketing/custom-fields.ts';

type Item = Record<string, unknown>;

/** DynamoDB's limit on the items of one TransactWriteItems. */
export const MAX_TRANSACTION_ITEMS = 100;

/** Days from the conversion to an opportunity's `expectedCloseDate` when the request names none. */
export const DEFAULT_CLOSE_DAYS = 30;

export async function convertLead(ctx: UseCaseContext, id: string, input: LeadConvert, ifMatch: number | undefined): Promise<Lead> {
  await loadNormalizers(); // its duplicate guards normalize phones and domains
  // 1. Conversion creates customers: sales roles only.
  requireRole(ctx.identity, ...CONVERT_ROLES);
  return retryOnVersionRace(ifMatch, () =>
    rejectDuplicates(ctx, async () => {
      // 2. The lead (which the caller may change) and the account named, in one read.
      const { lead, account } = await readLeadAndAccount(ctx, id, input.accountId);
      checkIfMatch(lead, ifMatch);
      if (lead.status === 'converted') throw alreadyConverted(lead);
      // 3. What the conversion makes belongs to the lead's owner, who must work in sales.
      const owner = await salesOwnerOf(ctx, lead);
      // 4. Everything in one transaction; a lost race re-reads and decides again (→ 409).
      const plan = await planConversion(ctx, lead, owner, input, account);
      return plan.uow.commit(plan.result);
    }),
  ).catch((err: unknown) => reportLostRace(ctx, id, err));
}

/**
 * A conversion refused as a duplicate may have lost a race with a conversion of the same
 * lead, whose new account now holds the company's name: that is reported as what it is.
 */
async function reportLostRace(ctx: UseCaseContext, id: string, err: unknown): Promise<never> {
  if (err instanceof DomainError && err.code === 'duplicate') {
    const item = await getItem(entityKey(ctx.identity.tenantId, 'LEAD', id));
    if (item?.status === 'converted') throw alreadyConverted(leadFromItem(item));
  }
  throw err;
}

export interface ConversionPlan {
  uow: UnitOfWork;
  /** The converted lead, as the API answers it. */
  result: Lead;
  account?: Account;
  contact: Contact;
  opportunity?: OpportunityView;
}

/**
 * The conversion's transaction, not yet committed. No I/O but the opportunity's one read
 * (its pipeline's first stage) when an opportunity is asked for.
 */
export async function planConversion(ctx: UseCaseContext, lead: Lead, owner: Owner, input: LeadConvert, existing?: Account): Promise<ConversionPlan> {
  const at = ctx.now.toISOString();
  const by = ctx.identity.userId;
  const uow = new UnitOfWork(ctx);

  // The ids first: the lead links to everything the conversion makes.
  const accountId = existing?.id ?? newId(ctx);
  const contactId = newId(ctx);
  const opportunityId = input.opportunity ? newId(ctx) : undefined;
  const next: Lead = {
    ...lead,
    status: 'converted',
    convertedAt: at,
    convertedBy: by,
    accountId,
    contactId,
    ...(opportunityId ? { opportunityId } : {}),
    version: lead.version + 1,
    updatedAt: at,
  };

  // First item: the lead. When a rival conversion won, its condition failing is what the
  // loser reports (409 invalid_transition), whatever else of its transaction also failed.
  uow.put(toItem(leadSpec, ctx.identity.tenantId, next), {
    condition: '#v = :v AND #s <> :converted',
    names: { '#v': 'version', '#s': 'status' },
    values: { ':v': lead.version, ':converted': 'converted' },
    onConditionFailed: (current) => (current?.status === 'converted' ? alreadyConverted(leadFromItem(current)) : new VersionRace()),
  });
  releaseLeadGuards(ctx, uow, lead.id, duplicateKeysOf(lead));
  const custom = await customCarried(ctx.identity.tenantId, lead);

  const contact: Contact = {
    ...stamp<Contact>(
      ctx,
      {
        accountId,
        name: lead.name,
        ...(lead.email !== undefined ? { email: lead.email } : {}),
        ...(lead.phone !== undefined ? { phone: lead.phone } : {}),
        ...(lead.title !== undefined ? { title: lead.title } : {}),
        ...(Object.keys(custom.contacts).length ? { custom: custom.contacts } : {}),
        tags: [],
        createdBy: by,
      },
      owner,
    ),
    id: contactId,
  };

  // The opportunity. On an existing account it also counts itself there (an Update of the
  // account conditioned on "exists, not in the pool"), which is then the account's check.
  let opportunity: OpportunityView | undefined;
  if (input.opportunity && opportunityId) {
    const o = input.opportunity;
    opportunity = await newOpportunity(
      ctx,
      {
        id: opportunityId,
        accountId,
        accountIsNew: !existing,
        contactIds: [contactId],
        name: o.name,
        amount: o.amount,
        ...(o.currency !== undefined ? { currency: o.currency } : {}),
        expectedCloseDate: o.expectedCloseDate ?? defaultCloseDate(ctx),
        ...(o.pipelineId !== undefined ? { pipelineId: o.pipelineId } : {}),
        owner,
        pathPrefix: 'body.opportunity',
      },
      uow,
    );
  }
  const openOpportunities = opportunity && (opportunity.status === 'open' || opportunity.status === 'stalled') ? 1 : 0;

  // The account: a new one named after the company (or the person), or a check of the one given.
  let account: Account | undefined;
  if (!existing) {
    account = {
      ...newAccountRecord(ctx, lead.company ?? lead.name, owner),
      id: accountId,
      ...(Object.keys(custom.accounts).length ? { custom: custom.accounts } : {}),
      ...(openOpportunities ? { [OPEN_OPPORTUNITY_COUNT]: openOpportunities } : {}),
    };
    // The record, its event, its guards and whatever else every new account brings.
    addNewAccount(ctx, account, uow);
  } else if (!opportunity) {
    uow.check(entityKey(ctx.identity.tenantId, 'ACCOUNT', accountId), {
      condition: 'attribute_exists(PK) AND #ps = :owned',
      names: { '#ps': 'poolStatus' },
      values: { ':owned': 'owned' },
      onConditionFailed: (current) =>
        current ? accountInPool(accountId) : validationFailed([{ path: 'body.accountId', message: 'no such account' }]),
    });
  }

  // The contact: not contacts.ts `addNewContact`, whose check that the account exists would be
  // a second operation on the account item, which this transaction already puts or checks.
  insert(ctx, contactSpec, contact, uow);
  claimContactGuards(ctx, uow, contact);

  uow.emit('lead.converted', { type: 'lead', id: lead.id }, {
    ...eventSnapshot(next),
    accountId,
    contactId,
    ...(opportunityId ? { opportunityId } : {}),
    accountCreated: !existing,
    convertedAt: at,
  });

  // Leave room for the idempotency record that commit adds.
  if (uow.size + 1 > MAX_TRANSACTION_ITEMS) {
    throw new Error(`a conversion needs ${uow.size + 1} transaction items, more than ${MAX_TRANSACTION_ITEMS}`);
  }
  return {
    uow,
    result: publicView(next),
    ...(account ? { account } : {}),
    contact,
    ...(opportunity ? { opportunity } : {}),
  };
}

/** The lead's custom values each new record takes; no read when the lead has none (definitions are cached per container). */
async function customCarried(tenantId: string, lead: Lead): Promise<{ accounts: Record<string, unknown>; contacts: Record<string, unknown> }> {
  if (!lead.custom || Object.keys(lead.custom).length === 0) return { accounts: {}, contacts: {} };
  const [leads, accounts, contacts] = await Promise.all((['leads', 'accounts', 'contacts'] as const).map((e) => fieldDefinitions(tenantId, e)));
  return { accounts: carriedCustom(leads!, accounts!, lead.custom), contacts: carriedCustom(leads!, contacts!, lead.custom) };
}

/** The lead and, when named, the account, in one BatchGetItem; visibility decided on both. */
async function readLeadAndAccount(ctx: UseCaseContext, id: string, accountId: string | undefined): Promise<{ lead: Lead; account?: Account }> {
  const who = ctx.identity;
  const leadKey = entityKey(who.tenantId, 'LEAD', id);
  const [leadItem, accountItem] = accountId
    ? await getItems([leadKey, entityKey(who.tenantId, 'ACCOUNT', accountId)])
    : [await getItem(leadKey)];
  if (!leadItem) throw notFound('lead');
  const lead = leadFromItem(leadItem);
  if (!canReadLead(who, lead)) throw notFound('lead');
  if (!canWriteLead(who, lead)) throw forbidden('Your role may read this lead but not convert it.');
  if (!accountId) return { lead };
  // An account the caller may not open is reported exactly like a missing one.
  const account = accountItem ? { ...fromItem<Account>(accountItem), ownerTeamId: (accountItem.ownerTeamId as string | null) ?? null } : undefined;
  if (!account) throw validationFailed([{ path: 'body.accountId', message: 'no such account' }]);
  // Every sales role may open a pool account (API.md §6); it has to be claimed before it takes a lead.
  if (account.poolStatus === 'pool') throw accountInPool(account.id);
  if (!readable(accountSpec, who, account)) throw validationFailed([{ path: 'body.accountId', message: 'no such account' }]);
  return { lead, account };
}

/** The lead's owner, who will own the account, contact and opportunity: a sales user. */
async function salesOwnerOf(ctx: UseCaseContext, lead: Lead): Promise<Owner> {
  const who = ctx.identity;
  const owner = { ownerId: lead.ownerId!, ownerTeamId: lead.ownerTeamId ?? null };
  if (lead.ownerId === who.userId) return owner; // the caller converts its own lead: a sales role (step 1)
  // Not in the directory (a 400 from the lookup) counts as "not in sales"; anything else is a real failure.
  const user = await requireDirectoryUser(who.tenantId, lead.ownerId!, 'ownerId').catch((err: unknown) => {
    if (err instanceof DomainError) return undefined;
    throw err;
  });
  if (!user || !(SALES_ROLES as readonly string[]).includes(user.role)) {
    throw invalidTransition('The lead is owned by someone outside sales; assign it to a sales user before converting it.');
  }
  return owner;
}

function alreadyConverted(lead: Lead) {
  return invalidTransition('This lead has already been converted.', {
    leadStatus: 'converted',
    ...(lead.accountId ? { accountId: lead.accountId } : {}),
    ...(lead.contactId ? { contactId: lead.contactId } : {}),
    ...(lead.opportunityId ? { opportunityId: lead.opportunityId } : {}),
  });
}

function accountInPool(accountId: string) {
  return conflict('account_in_pool', 'The account is in the public pool; claim it before converting a lead into it.', { accountId });
}

function defaultCloseDate(ctx: UseCaseContext): string {
  return new Date(ctx.now.getTime() + DEFAULT_CLOSE_DAYS * 86_400_000).toISOString().slice(0, 10);
}

/** A new owned account, as POST /v1/accounts makes it (accounts.ts `createAccount`), minus the body's fields. */
function newAccountRecord(ctx: UseCaseContext, name: string, owner: Owner): Account {
  return stamp<Account>(
    ctx,
    {
      name,
      lifecycleStage: 'prospect',
      tags: [],
      poolStatus: 'owned',
      lastFollowUpAt: null,
      ownerSince: ctx.now.toISOString(),
      createdBy: ctx.identity.userId,
    },
    owner,
  );
}
