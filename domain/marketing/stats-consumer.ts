/**
 * Campaign stats kept from sales events (a consumer): `leads` (leads created with this
 * `campaignId`), `convertedLeads` (those converted) and `wonAmount` (the opportunities they
 * converted into, when won). Each fact is counted once: a guard item per (campaign, lead or
 * opportunity, fact) is written with `attribute_not_exists` in the same transaction as the
 * counter, so a redelivered event changes nothing.
 */
import { t } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { toMinor } from '#domain/sales/money.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { campaignStatsKey, leadCountedKey } from '#domain/marketing/keys.ts';
import { systemContext } from '#domain/marketing/tracking.ts';

type Item = Record<string, unknown>;

/** Which campaign an opportunity converted from a campaign's lead came from. */
const opportunityCampaignKey = (tenantId: string, opportunityId: string) => ({ PK: `${t(tenantId)}#CAMP#OPP#${opportunityId}`, SK: 'CAMP' });

class Counted extends Error {}

async function countOnce(event: DomainEvent, campaignId: string, subjectId: string, fact: string, counter: string, by: number, extra?: (uow: UnitOfWork) => void) {
  const uow = new UnitOfWork(systemContext(event.tenantId, new Date(event.occurredAt), 'system:campaign-stats'));
  uow.put(
    { ...leadCountedKey(event.tenantId, campaignId, subjectId, fact), tenantId: event.tenantId, entityType: 'CAMPFACT', eventId: event.id },
    { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Counted() },
  );
  uow.update(campaignStatsKey(event.tenantId, campaignId), { expression: 'ADD #n :by', names: { '#n': counter }, values: { ':by': by } });
  extra?.(uow);
  try {
    await uow.commit(null);
  } catch (err) {
    if (!(err instanceof Counted)) throw err;
  }
}

export async function applyCampaignStatsEvent(event: DomainEvent): Promise<void> {
  const data = event.data as Item;
  const campaignId = typeof data.campaignId === 'string' ? data.campaignId : undefined;
  switch (event.type) {
    case 'lead.created':
      if (campaignId) await countOnce(event, campaignId, String(data.id), 'LEAD', 'leads', 1);
      return;
    case 'lead.converted':
      if (!campaignId) return;
      await countOnce(event, campaignId, String(data.id), 'CONVERTED', 'convertedLeads', 1, (uow) => {
        if (typeof data.opportunityId === 'string') {
          uow.put({ ...opportunityCampaignKey(event.tenantId, data.opportunityId), tenantId: event.tenantId, entityType: 'CAMPOPP', campaignId });
        }
      });
      return;
    case 'opportunity.won': {
      const link = await getItem(opportunityCampaignKey(event.tenantId, String(data.id)));
      if (!link) return;
      const minor = toMinor(Number(data.amount));
      if (minor === undefined) return;
      await countOnce(event, String(link.campaignId), `OPP#${String(data.id)}`, 'WON', 'wonAmountMinor', Number(minor));
      return;
    }
  }
}
