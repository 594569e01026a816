/** Campaign stats from sales events: leads, convertedLeads, wonAmount; each counted once however often delivered. */
import { describe, expect, it } from 'vitest';
import { useAudience } from '#domain/marketing/audience.ts';
import { applyCampaignStatsEvent } from '#domain/marketing/stats-consumer.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { as } from '#test/support/api.ts';
import { fixedAudience, marketer, member } from '#test/marketing/support.ts';

const T = 'stats-t';
let n = 0;
const event = (type: string, data: Record<string, unknown>): DomainEvent => ({
  id: `01EVENT${String(++n).padStart(19, '0')}`,
  type,
  version: 1,
  tenantId: T,
  occurredAt: new Date().toISOString(),
  actor: { userId: 'alice', role: 'rep' },
  entity: { type: type.split('.')[0]!, id: String(data.id) },
  data,
});

describe('campaign stats consumer', () => {
  it('counts leads with the campaign, their conversions and the won amount of their opportunities, once each', async () => {
    useAudience(fixedAudience({ seg: { entity: 'leads', members: [member(1)] } }));
    const id = (await as(marketer(T)).post('/v1/campaigns', { name: 'c', segmentId: 'seg', subject: 's', html: '<p>x</p>' })).json.id;
    const created = event('lead.created', { id: 'L1', version: 1, campaignId: id, ownerId: 'alice', ownerTeamId: null });
    await applyCampaignStatsEvent(created);
    await applyCampaignStatsEvent(created); // redelivered
    await applyCampaignStatsEvent(event('lead.created', { id: 'L2', version: 1, campaignId: id, ownerId: 'alice', ownerTeamId: null }));
    await applyCampaignStatsEvent(event('lead.created', { id: 'L3', version: 1, ownerId: 'alice', ownerTeamId: null })); // no campaign
    const converted = event('lead.converted', { id: 'L1', version: 2, campaignId: id, opportunityId: 'O1' });
    await applyCampaignStatsEvent(converted);
    await applyCampaignStatsEvent(converted);
    const won = event('opportunity.won', { id: 'O1', version: 3, amount: 1234.56 });
    await applyCampaignStatsEvent(won);
    await applyCampaignStatsEvent(event('opportunity.won', { id: 'O1', version: 5, amount: 1234.56 })); // reopened and won again
    await applyCampaignStatsEvent(event('opportunity.won', { id: 'O-other', version: 1, amount: 99 })); // not from a campaign lead
    const stats = (await as(marketer(T)).get(`/v1/campaigns/${id}`)).json.stats;
    expect(stats).toMatchObject({ leads: 2, convertedLeads: 1, wonAmount: 1234.56 });
  });
});
