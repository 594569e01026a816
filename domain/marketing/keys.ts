/**
 * Keys of campaigns, their recipients and the marketing settings (docs/access-patterns.md):
 *
 * - settings           `T#t#MKTSET` / `MKTSET`
 * - campaign           `T#t#CAMP#<id>` / `CAMP`; byType `T#t#CAMP` / `<id>` (newest first);
 *                      while due, byDue `DUE#CAMP` / `<dueAt>#<tenant>#<id>` (the dispatch job's sweep)
 * - campaign stats     `T#t#CAMP#<id>` / `STATS` (counters, updated in the transactions they count)
 * - recipient          `T#t#CAMP#<id>#RCPT` / `<recipientId>`; byParent `T#t#CAMP#<id>#RCPT#<status>` / `<recipientId>`
 *                      (the `queued` partition is the dispatch queue; each status is a filter of the list)
 * - consumer guard     `T#t#CAMP#<id>#LEAD#<leadId>` / `STATS` (a lead counted once per campaign)
 */
import { createHash } from 'node:crypto';
import { t } from '#domain/table/keys.ts';

export const settingsKey = (tenantId: string) => ({ PK: `${t(tenantId)}#MKTSET`, SK: 'MKTSET' });

export const campaignKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#CAMP#${id}`, SK: 'CAMP' });
export const campaignStatsKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#CAMP#${id}`, SK: 'STATS' });
export const campaignListPartition = (tenantId: string) => `${t(tenantId)}#CAMP`;

export const CAMPAIGN_DUE_PARTITION = 'DUE#CAMP';
/** A campaign sent with `/send` is due at once: this sorts before every timestamp. */
export const DUE_NOW = '0000-00-00T00:00:00.000Z';
export const campaignDueSk = (dueAt: string, tenantId: string, id: string) => `${dueAt}#${tenantId}#${id}`;

export const recipientPartition = (tenantId: string, campaignId: string) => `${t(tenantId)}#CAMP#${campaignId}#RCPT`;
export const recipientKey = (tenantId: string, campaignId: string, recipientId: string) => ({
  PK: recipientPartition(tenantId, campaignId),
  SK: recipientId,
});
export const recipientStatusPartition = (tenantId: string, campaignId: string, status: string) =>
  `${recipientPartition(tenantId, campaignId)}#${status}`;

/** A recipient's id: derived from its normalized email, so freezing twice can never make two. */
export const recipientIdOf = (normalizedEmail: string) => createHash('sha256').update(normalizedEmail).digest('base64url').slice(0, 22);

export const leadCountedKey = (tenantId: string, campaignId: string, leadId: string, what: string) => ({
  PK: `${t(tenantId)}#CAMP#${campaignId}#LEAD#${leadId}`,
  SK: what,
});
