/**
 * What each subject contributes to the aggregates (domain/analytics/aggregates.ts): pure
 * functions of a record (or an immutable event), so the live consumer and the rebuild give
 * the same figures. Money is in integer minor units; only the tenant's currency counts in
 * money sums (api/analytics.md), counts count whatever the currency.
 *
 * Attribute names (the rows' columns):
 *   won_n won_a lost_n lost_a      opportunities closed in the month, for the owner when they closed
 *   cr_n cr_a                      opportunities created in the month, for the owner at creation
 *   pl_n pl_a pl_w                 open opportunities closing (expectedCloseDate) in the month, current owner;
 *                                  pl_w = Σ amount × probability (minor units × 100)
 *   fc_<category>_n fc_<category>_a, fw   the same by forecast category; fw = pl_w without `omitted`
 *   og|<stage>|<ageBucket>|n a w q        open, not omitted: by stage and age bucket (q = Σ (amount/10)², an integer)
 *   fu|<pipeline>|<o|w|l>|<stages visited>|n a, fu|<pipeline>|ws   the funnel's cohort by creation month
 *   m|<stage>|<ageBucket>|n w      (MODEL) closed opportunities that passed through the stage, and the won ones
 *   ord_n ord_a                    orders signed in the month, for the owner at signing
 *   out_a                          (NOW) outstanding amount of the current owner's orders
 *   col_n col_a                    payments received in the month, for the order's owner then
 *   acc_n lead_n lconv_n           accounts and leads created, leads converted, for their owner then
 *   act_<type>                     activities by occurredAt, for their owner
 *   pool_rel pool_clm              accounts that left / joined a user through the pool
 *   tgt_u tgt_u_n                  a user's target of the month (amount, and 1 when one is set)
 *   tgt_t tgt_t_n                  a team's own target of the month
 */
import { DEFAULT_CURRENCY } from '#domain/sales/money.ts';
import { ageBucket } from '#domain/analytics/forecast-model.ts';
import type { Fact } from '#domain/analytics/aggregates.ts';
import { monthOf, monthOfDate } from '#domain/analytics/periods.ts';

type Item = Record<string, unknown>;

const DAY_MS = 86_400_000;
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
/** Money in the tenant's currency, else nothing (left out of money sums). */
const money = (currency: unknown, minor: number, attr: string): Record<string, number> =>
  (currency ?? DEFAULT_CURRENCY) === DEFAULT_CURRENCY ? { [attr]: minor } : {};

const fact = (period: string, userId: string | null, teamId: string | null, attrs: Record<string, number>): Fact => ({ period, userId, teamId, attrs });

/** The stages an opportunity visited, in a form that is stable whatever order they were visited in. */
export const visitSignature = (visits: Record<string, string>) => Object.keys(visits).sort().join(',');

/** Age (days since creation) at which it entered a stage, as a forecast bucket. */
const bucketAt = (createdAt: string, enteredAt: string) => ageBucket(Math.max(0, Date.parse(enteredAt) - Date.parse(createdAt)) / DAY_MS);

export function opportunityFacts(o: Item, timeZone: string): Fact[] {
  const status = String(o.status);
  const amount = num(o.amountMinor);
  const probability = num(o.probability);
  const createdAt = String(o.createdAt);
  const ownerId = str(o.ownerId);
  const teamId = str(o.ownerTeamId);
  const createdOwner = o.createdOwnerId !== undefined ? str(o.createdOwnerId) : ownerId;
  const createdTeam = o.createdOwnerId !== undefined ? str(o.createdTeamId) : teamId;
  // Records from before attribution was stored: the stage they are in is all that is known.
  const visits = (o.stageVisits as Record<string, string> | undefined) ?? (status === 'open' ? { [String(o.stageId)]: String(o.lastStageChangeAt ?? createdAt) } : {});
  const created = monthOf(createdAt, timeZone);
  const facts: Fact[] = [];

  const code = status === 'won' ? 'w' : status === 'lost' ? 'l' : 'o';
  const funnel = `fu|${String(o.pipelineId)}|${code}|${visitSignature(visits)}`;
  facts.push(
    fact(created, createdOwner, createdTeam, {
      cr_n: 1,
      ...money(o.currency, amount, 'cr_a'),
      [`${funnel}|n`]: 1,
      ...money(o.currency, amount, `${funnel}|a`),
      ...(status === 'won' && o.closedAt ? { [`fu|${String(o.pipelineId)}|ws`]: Math.round((Date.parse(String(o.closedAt)) - Date.parse(createdAt)) / 1000) } : {}),
    }),
  );

  if (status === 'open') {
    const category = String(o.forecastCategory ?? 'pipeline');
    const weighted = amount * probability;
    const stageId = String(o.stageId);
    const group = `og|${stageId}|${bucketAt(createdAt, visits[stageId] ?? String(o.lastStageChangeAt ?? createdAt))}`;
    const inCurrency = (o.currency ?? DEFAULT_CURRENCY) === DEFAULT_CURRENCY;
    facts.push(
      fact(monthOfDate(String(o.expectedCloseDate)), ownerId, teamId, {
        pl_n: 1,
        [`fc_${category}_n`]: 1,
        ...(inCurrency ? { pl_a: amount, pl_w: weighted, [`fc_${category}_a`]: amount } : {}),
        ...(inCurrency && category !== 'omitted'
          ? { fw: weighted, [`${group}|n`]: 1, [`${group}|a`]: amount, [`${group}|w`]: weighted, [`${group}|q`]: Math.round((amount / 1000) ** 2) }
          : {}),
      }),
    );
  } else if (o.closedAt) {
    const closedOwner = o.closedOwnerId !== undefined ? str(o.closedOwnerId) : ownerId;
    const closedTeam = o.closedOwnerId !== undefined ? str(o.closedTeamId) : teamId;
    const won = status === 'won';
    facts.push(fact(monthOf(String(o.closedAt), timeZone), closedOwner, closedTeam, { [`${status}_n`]: 1, ...money(o.currency, amount, `${status}_a`) }));
    // The forecast's history: every open stage it passed through, at the age it entered it.
    const model: Record<string, number> = {};
    for (const [stageId, enteredAt] of Object.entries(visits)) {
      const key = `m|${stageId}|${bucketAt(createdAt, enteredAt)}`;
      model[`${key}|n`] = 1;
      if (won) model[`${key}|w`] = 1;
    }
    if (Object.keys(model).length) facts.push(fact('MODEL', null, null, model));
  }
  return facts;
}

export function orderFacts(o: Item, timeZone: string): Fact[] {
  const signedOwner = o.signedOwnerId !== undefined ? str(o.signedOwnerId) : str(o.ownerId);
  const signedTeam = o.signedOwnerId !== undefined ? str(o.signedTeamId) : str(o.ownerTeamId);
  return [
    fact(monthOf(String(o.signedAt), timeZone), signedOwner, signedTeam, { ord_n: 1, ...money(o.currency, num(o.amountMinor), 'ord_a') }),
    fact('NOW', str(o.ownerId), str(o.ownerTeamId), money(o.currency, num(o.outstandingMinor), 'out_a')),
  ];
}

export function paymentFacts(p: { receivedAt: string; amountMinor: number; currency: string; ownerId: string | null; ownerTeamId: string | null }, timeZone: string): Fact[] {
  return [fact(monthOf(p.receivedAt, timeZone), p.ownerId, p.ownerTeamId, { col_n: 1, ...money(p.currency, p.amountMinor, 'col_a') })];
}

/** System entries (a release's note has no owner) are not anyone's follow-up. */
export function activityFacts(a: Item, timeZone: string): Fact[] {
  const ownerId = str(a.ownerId);
  if (!ownerId) return [];
  return [fact(monthOf(String(a.occurredAt), timeZone), ownerId, str(a.ownerTeamId), { [`act_${String(a.type)}`]: 1 })];
}

export function targetFacts(x: Item): Fact[] {
  if ((x.currency ?? DEFAULT_CURRENCY) !== DEFAULT_CURRENCY) return [];
  const amount = num(x.amountMinor);
  if (typeof x.userId === 'string') return [fact(String(x.period), x.userId, str(x.memberOf), { tgt_u: amount, tgt_u_n: 1 })];
  return [fact(String(x.period), null, String(x.teamId), { tgt_t: amount, tgt_t_n: 1 })];
}

/** A one-off count for a user at a moment: an account or lead created, a lead converted, a pool move. */
export const countFacts = (attr: string, at: string, userId: string | null, teamId: string | null, timeZone: string): Fact[] =>
  [fact(monthOf(at, timeZone), userId, teamId, { [attr]: 1 })];
