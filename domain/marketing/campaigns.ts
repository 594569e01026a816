/**
 * Campaign use cases: CRUD while `draft`, the actions (schedule, send, cancel), the
 * campaign with its stats, and its recipients. Admins and marketers only.
 */
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, notFound, validationFailed, versionMismatch } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { getItems, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { VersionRace, retryOnVersionRace } from '#domain/records.ts';
import { audience } from '#domain/marketing/audience.ts';
import {
  assertTransition,
  campaignFromItem,
  emptyStats,
  STAT_NAMES,
  type Campaign,
  type CampaignCreate,
  type CampaignPatch,
  type CampaignStats,
  type RecipientStatus,
} from '#domain/marketing/campaign.ts';
import {
  CAMPAIGN_DUE_PARTITION,
  DUE_NOW,
  campaignDueSk,
  campaignKey,
  campaignListPartition,
  campaignStatsKey,
  recipientPartition,
  recipientStatusPartition,
} from '#domain/marketing/keys.ts';
import { validateTemplate } from '#domain/marketing/merge-tags.ts';

type Item = Record<string, unknown>;

export type CampaignView = Campaign & { stats: CampaignStats };

const manage = (ctx: UseCaseContext) => requireRole(ctx.identity, 'admin', 'marketer');

async function checkAudienceAndTags(ctx: UseCaseContext, c: Pick<Campaign, 'segmentId' | 'subject' | 'html' | 'text'>): Promise<'contacts' | 'leads'> {
  const { tenantId } = ctx.identity;
  let entity: 'contacts' | 'leads';
  try {
    entity = await audience().segmentEntity(tenantId, c.segmentId);
  } catch (err) {
    if (err instanceof DomainError && err.status === 404) throw validationFailed([{ path: 'body.segmentId', message: 'no such segment' }]);
    throw err;
  }
  validateTemplate({ subject: c.subject, html: c.html, text: c.text }, { customKeys: await audience().customFieldKeys(tenantId, entity) });
  return entity;
}

function campaignItem(tenantId: string, c: Campaign, internal: Item): Item {
  return { ...internal, ...c, ...campaignKey(tenantId, c.id), tenantId, entityType: 'CAMP', typePk: campaignListPartition(tenantId), typeSk: c.id };
}

/**
 * The campaign and its stats item in one BatchGetItem: 404 first (another tenant's id looks
 * like a missing one to every role), then 403 for a role outside marketing.
 */
async function load(ctx: UseCaseContext, id: string): Promise<{ campaign: Campaign; item: Item; stats: CampaignStats }> {
  const { tenantId } = ctx.identity;
  const [item, statsItem] = await getItems([campaignKey(tenantId, id), campaignStatsKey(tenantId, id)]);
  if (!item) throw notFound('campaign');
  manage(ctx);
  return { campaign: campaignFromItem(item), item, stats: statsOf(statsItem) };
}

export function statsOf(item: Item | undefined): CampaignStats {
  const stats = emptyStats();
  if (!item) return stats;
  for (const n of STAT_NAMES) stats[n] = Number(item[n] ?? 0);
  // Money is counted in cents (exact sums); shown in major units.
  stats.wonAmount = Number(item.wonAmountMinor ?? 0) / 100;
  return stats;
}

export async function createCampaign(ctx: UseCaseContext, body: CampaignCreate): Promise<CampaignView> {
  manage(ctx);
  const entity = await checkAudienceAndTags(ctx, body);
  const at = ctx.now.toISOString();
  const campaign: Campaign = {
    id: ulid(ctx.now.getTime()),
    ...body,
    status: 'draft',
    sendAt: null,
    startedAt: null,
    completedAt: null,
    canceledAt: null,
    createdBy: ctx.identity.userId,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  return new UnitOfWork(ctx)
    .put(campaignItem(ctx.identity.tenantId, campaign, { entity }), {
      condition: 'attribute_not_exists(PK)',
      onConditionFailed: () => new Error(`id collision on campaign ${campaign.id}`),
    })
    .emit('campaign.created', { type: 'campaign', id: campaign.id }, { id: campaign.id, version: 1, name: campaign.name, status: 'draft', segmentId: campaign.segmentId })
    // With an Idempotency-Key, a retry answers this very result.
    .commit<CampaignView>({ ...campaign, stats: emptyStats() });
}

export async function getCampaign(ctx: UseCaseContext, id: string): Promise<CampaignView> {
  const { campaign, stats } = await load(ctx, id);
  return { ...campaign, stats };
}

export async function listCampaigns(ctx: UseCaseContext, filters: { status?: string }, page: PageRequest): Promise<Page<Campaign>> {
  manage(ctx);
  return queryPage(
    {
      index: 'byType',
      pk: campaignListPartition(ctx.identity.tenantId),
      newestFirst: true,
      ...(filters.status ? { filter: { expression: '#s = :s', names: { '#s': 'status' }, values: { ':s': filters.status } } } : {}),
    },
    page,
    campaignFromItem,
  );
}

/**
 * Writes the campaign's next state, conditioned on the version read (a concurrent change
 * makes it a 412 with If-Match, else a re-read and re-apply), and its `campaign.updated`.
 */
async function change(
  ctx: UseCaseContext,
  id: string,
  ifMatch: number | undefined,
  apply: (c: Campaign, item: Item) => Promise<{ next: Campaign; internal: Item; remove?: string[] }>,
): Promise<CampaignView> {
  return retryOnVersionRace(ifMatch, async () => {
    const { campaign, item, stats } = await load(ctx, id);
    if (ifMatch !== undefined && ifMatch !== campaign.version) throw versionMismatch();
    const { next: proposed, internal } = await apply(campaign, item);
    if (JSON.stringify(campaign) === JSON.stringify(proposed)) return { ...campaign, stats };
    const next = { ...proposed, version: campaign.version + 1, updatedAt: ctx.now.toISOString() };
    const kept: Item = { entity: item.entity, ...internal };
    const changed = Object.keys({ ...campaign, ...next }).filter(
      (k) => !['version', 'updatedAt'].includes(k) && JSON.stringify((campaign as unknown as Item)[k]) !== JSON.stringify((next as unknown as Item)[k]),
    );
    return new UnitOfWork(ctx)
      .put(campaignItem(ctx.identity.tenantId, next, kept), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': campaign.version },
        onConditionFailed: () => new VersionRace(),
      })
      .emit('campaign.updated', { type: 'campaign', id }, { before: { ...campaign }, after: { ...next }, changed })
      .commit<CampaignView>({ ...next, stats });
  });
}

/** The job's bookkeeping attributes a change keeps (`duePk`/`dueSk` only while the job has work). */
const jobAttrs = (item: Item): Item => {
  const out: Item = {};
  for (const k of ['frozen', 'freezeLeaseUntil', 'duePk', 'dueSk']) if (item[k] !== undefined) out[k] = item[k];
  return out;
};

export function patchCampaign(ctx: UseCaseContext, id: string, patch: CampaignPatch, ifMatch: number | undefined): Promise<CampaignView> {
  return change(ctx, id, ifMatch, async (c, item) => {
    assertTransition(c.status, 'edit');
    const next: Record<string, unknown> = { ...c };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      if (v === null) delete next[k];
      else next[k] = v;
    }
    const campaign = next as unknown as Campaign;
    const entity = await checkAudienceAndTags(ctx, campaign);
    return { next: campaign, internal: { ...jobAttrs(item), entity } };
  });
}

export async function deleteCampaign(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  await retryOnVersionRace(ifMatch, async () => {
    const { campaign } = await load(ctx, id);
    if (ifMatch !== undefined && ifMatch !== campaign.version) throw versionMismatch();
    assertTransition(campaign.status, 'delete');
    await new UnitOfWork(ctx)
      .delete(campaignKey(ctx.identity.tenantId, id), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': campaign.version },
        onConditionFailed: () => new VersionRace(),
      })
      .emit('campaign.deleted', { type: 'campaign', id }, { id })
      .commit(null);
  });
}

const due = (tenantId: string, id: string, dueAt: string): Item => ({ duePk: CAMPAIGN_DUE_PARTITION, dueSk: campaignDueSk(dueAt, tenantId, id) });

export function scheduleCampaign(ctx: UseCaseContext, id: string, sendAt: string, ifMatch: number | undefined): Promise<CampaignView> {
  if (Date.parse(sendAt) <= ctx.now.getTime()) throw validationFailed([{ path: 'body.sendAt', message: 'must be in the future' }]);
  return change(ctx, id, ifMatch, async (c, item) => {
    assertTransition(c.status, 'schedule');
    return { next: { ...c, status: 'scheduled', sendAt }, internal: { ...jobAttrs(item), ...due(ctx.identity.tenantId, id, sendAt) } };
  });
}

/** `sending` now; the next dispatch run starts it. */
export function sendCampaign(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<CampaignView> {
  return change(ctx, id, ifMatch, async (c, item) => {
    assertTransition(c.status, 'send');
    const at = ctx.now.toISOString();
    return { next: { ...c, status: 'sending', sendAt: c.sendAt ?? at, startedAt: at }, internal: { ...jobAttrs(item), ...due(ctx.identity.tenantId, id, DUE_NOW) } };
  });
}

/**
 * `canceled`. A scheduled campaign leaves the job's sweep; a sending one stays in it until
 * the next run has marked its queued recipients `canceled` (a run in progress re-reads the
 * status before each batch, so at most the batch under way when this lands still goes out).
 */
export function cancelCampaign(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<CampaignView> {
  return change(ctx, id, ifMatch, async (c, item) => {
    assertTransition(c.status, 'cancel');
    const internal = jobAttrs(item);
    if (c.status === 'scheduled') {
      delete internal.duePk;
      delete internal.dueSk;
    } else {
      Object.assign(internal, due(ctx.identity.tenantId, id, DUE_NOW));
    }
    return { next: { ...c, status: 'canceled', canceledAt: ctx.now.toISOString() }, internal };
  });
}

export interface RecipientView {
  email: string;
  contactId?: string;
  leadId?: string;
  status: RecipientStatus;
  sentAt: string | null;
  openedAt: string | null;
  clickedAt: string | null;
  unsubscribedAt: string | null;
  messageId?: string;
  error?: string;
}

export function presentRecipient(item: Item): RecipientView {
  const status = item.status === 'sending' ? 'queued' : (item.status as RecipientStatus);
  return {
    email: String(item.email),
    ...(item.contactId ? { contactId: String(item.contactId) } : {}),
    ...(item.leadId ? { leadId: String(item.leadId) } : {}),
    status,
    sentAt: (item.sentAt as string | undefined) ?? null,
    openedAt: (item.openedAt as string | undefined) ?? null,
    clickedAt: (item.clickedAt as string | undefined) ?? null,
    unsubscribedAt: (item.unsubscribedAt as string | undefined) ?? null,
    ...(item.messageId ? { messageId: String(item.messageId) } : {}),
    ...(item.error ? { error: String(item.error) } : {}),
  };
}

export async function listRecipients(ctx: UseCaseContext, id: string, filters: { status?: RecipientStatus }, page: PageRequest): Promise<Page<RecipientView>> {
  await load(ctx, id);
  const { tenantId } = ctx.identity;
  if (!filters.status) return queryPage({ pk: recipientPartition(tenantId, id) }, page, presentRecipient);
  // `queued` includes the recipients a run has claimed and not finished (stored `sending`).
  if (filters.status === 'queued') {
    return queryPage(
      { pk: recipientPartition(tenantId, id), filter: { expression: '#s IN (:q, :s)', names: { '#s': 'status' }, values: { ':q': 'queued', ':s': 'sending' } } },
      page,
      presentRecipient,
    );
  }
  return queryPage({ index: 'byParent', pk: recipientStatusPartition(tenantId, id, filters.status) }, page, presentRecipient);
}
