/**
 * Customer 360 (API.md §5): the account with its contacts, open tasks and newest
 * activities, read as ONE Query of the account's collection in `byParent`. The sort
 * key ranks (keys.ts `rank`) put the account first, then each child kind, activities
 * newest first, and stop before closed items, so done tasks never cost a read. A page that ends
 * inside a section already full goes on at the next kind: the read is bounded by what is shown.
 */
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { notFound } from '#domain/errors.ts';
import { publicView, readable, fromItem } from '#domain/records.ts';
import { accountCollection, rank } from '#domain/table/keys.ts';
import { queryLeaping } from '#domain/table/query.ts';
import { accountSpec, accountView, type Account } from '#domain/accounts/account.ts';
import { activityView } from '#domain/accounts/activity.ts';
import { contactView } from '#domain/accounts/contact.ts';
import { taskView } from '#domain/tasks/task.ts';
import { mayOpenAccount } from '#domain/pool/pool.ts';
import { presentAccount, redactsPoolContacts } from '#domain/pool/view.ts';
import { orderView, orderViewOfItem } from '#domain/sales/order.ts';
import { quoteView, quoteViewOfItem } from '#domain/sales/quote.ts';
import { canReadOpportunity, opportunityOf, opportunityView, presentOpportunity } from '#domain/sales/opportunity.ts';
import { ticketView, ticketViewOfItem } from '#domain/service/ticket.ts';

export const NEWEST_ACTIVITIES = 50;
/** Every other section answers at most this many (its own list route pages through all of them). */
export const MAX_PER_SECTION = 100;

export interface Customer360 {
  account: Account;
  contacts: unknown[];
  opportunities: unknown[];
  activities: unknown[];
  tasks: unknown[];
  quotes: unknown[];
  orders: unknown[];
  tickets: unknown[];
}

/** The answer: each part in the shape its own route answers. */
export const customer360View = z.lazy(() =>
  z
    .object({
      account: accountView,
      contacts: z.array(contactView).check(z.maxLength(MAX_PER_SECTION)),
      opportunities: z.array(opportunityView).check(z.maxLength(MAX_PER_SECTION)),
      activities: z.array(activityView).check(z.maxLength(NEWEST_ACTIVITIES), z.describe(`the newest ${NEWEST_ACTIVITIES}, newest first`)),
      tasks: z.array(taskView).check(z.maxLength(MAX_PER_SECTION), z.describe(`open ones, at most ${MAX_PER_SECTION}`)),
      quotes: z.array(quoteView).check(z.maxLength(MAX_PER_SECTION)),
      orders: z.array(orderView).check(z.maxLength(MAX_PER_SECTION)),
      // As GET /v1/tickets/{id} answers them.
      tickets: z.array(ticketView).check(z.maxLength(MAX_PER_SECTION), z.describe(`tickets that are not closed, at most ${MAX_PER_SECTION}`)),
    })
    .check(z.meta({ id: 'Customer360', description: 'An account with everything about it, in one answer.' })),
);

const bucketOf: Record<string, keyof Omit<Customer360, 'account'>> = {
  CONTACT: 'contacts',
  OPPORTUNITY: 'opportunities',
  ACTIVITY: 'activities',
  TASK: 'tasks',
  QUOTE: 'quotes',
  ORDER: 'orders',
  TICKET: 'tickets',
};

/** Kinds stored in another shape than clients see (money in integer minor units): their view. */
const viewOf: Record<string, (item: Record<string, unknown>) => unknown> = {
  QUOTE: quoteViewOfItem,
  ORDER: orderViewOfItem,
  TICKET: ticketViewOfItem,
};

/** Kinds only sales roles see (API.md §4: support and marketers get 403 on them): left empty for the others. */
const salesOnly = new Set(['QUOTE', 'ORDER', 'OPPORTUNITY']);
/** Marketers get 403 on tickets (api/service.md "Roles"): their 360 leaves them out. */
const hiddenFrom: Record<string, Set<string>> = { marketer: new Set(['TICKET']) };

/** The rank of each child kind in the collection (keys.ts `rank`), to leap past a section no longer needed. */
const rankOf: Record<string, string> = {
  CONTACT: rank.CONTACT,
  OPPORTUNITY: rank.OPPORTUNITY,
  QUOTE: rank.QUOTE,
  ORDER: rank.ORDER,
  TICKET: rank.TICKET,
  TASK: rank.OPEN_TASK,
  ACTIVITY: rank.ACTIVITY,
};

/** The rank after `r`: the first sort key past every item of rank `r`. */
const rankAfter = (r: string) => String.fromCharCode(r.charCodeAt(0) + 1);

export async function customer360(ctx: UseCaseContext, accountId: string): Promise<Customer360> {
  const view: Omit<Customer360, 'account'> = { contacts: [], opportunities: [], activities: [], tasks: [], quotes: [], orders: [], tickets: [] };
  let account: Account | undefined;
  let hideContacts = false;
  const salesRole = ['admin', 'manager', 'rep'].includes(ctx.identity.role);
  const capOf = (type: string) => (type === 'ACTIVITY' ? NEWEST_ACTIVITIES : MAX_PER_SECTION);
  /** Whether the caller gets any item of this kind, and whether its section still has room. */
  const wants = (type: string) =>
    !(type === 'CONTACT' && hideContacts) &&
    !(salesOnly.has(type) && !salesRole) &&
    !hiddenFrom[ctx.identity.role]?.has(type) &&
    view[bucketOf[type]!].length < capOf(type);

  let placed = 0;
  const place = (items: Record<string, unknown>[]) => {
    for (; placed < items.length; placed++) {
      const item = items[placed]!;
      const type = item.entityType as string;
      if (type === 'ACCOUNT') {
        account = { ...fromItem<Account>(item), ownerTeamId: (item.ownerTeamId as string | undefined) ?? null };
        // Any pool account may be opened; reps and managers see it without contacts until they claim it (API.md §6).
        hideContacts = account.poolStatus === 'pool' && redactsPoolContacts(ctx.identity);
        continue;
      }
      const bucket = bucketOf[type];
      if (!bucket || !wants(type)) continue;
      if (type === 'OPPORTUNITY') {
        // Each as GET /v1/opportunities/{id} would show it (owner, team, admin; `stalled` derived now).
        const o = opportunityOf(item);
        if (canReadOpportunity(ctx.identity, o)) view.opportunities.push(presentOpportunity(o, ctx.now));
        continue;
      }
      const toView = viewOf[type];
      view[bucket].push(toView ? toView(item) : publicView(fromItem(item)));
    }
  };

  // One Query of the collection; a page that ends inside a section the caller has no more use for
  // (full, or not shown to this role) goes on at the next kind's rank.
  const items = await queryLeaping(
    { index: 'byParent', pk: accountCollection(ctx.identity.tenantId, accountId), sk: { lessThan: rank.CLOSED } },
    (read) => {
      place(read);
      const lastType = read.at(-1)?.entityType as string | undefined;
      const lastRank = lastType ? rankOf[lastType] : undefined;
      return lastType && lastRank && !wants(lastType) ? rankAfter(lastRank) : undefined;
    },
  );
  place(items);
  if (!account || !mayOpenAccount(ctx, account)) throw notFound('account');
  return { account: await presentAccount(ctx, account), ...view };
}
