/**
 * The campaign (营销活动): its shape, body schemas and status machine.
 * draft → scheduled → sending → sent | canceled (draft → sending with `/send`).
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { toMinor } from '#domain/sales/money.ts';
import { conflict } from '#domain/errors.ts';

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'sent', 'canceled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const RECIPIENT_STATUSES = ['queued', 'sent', 'suppressed', 'failed', 'canceled', 'bounced', 'complained'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];
/** Stored only: claimed by a dispatch run, provider call under way (shown as `queued`). */
export type StoredRecipientStatus = RecipientStatus | 'sending';

export const STAT_NAMES = [
  'recipients', 'sent', 'suppressed', 'failed', 'canceled', 'bounced', 'complained',
  'opened', 'clicked', 'unsubscribed', 'leads', 'convertedLeads', 'wonAmount',
] as const;
export type CampaignStats = Record<(typeof STAT_NAMES)[number], number>;

export interface Campaign {
  id: string;
  name: string;
  segmentId: string;
  subject: string;
  html: string;
  text?: string;
  fromName?: string;
  replyTo?: string;
  budget?: number;
  status: CampaignStatus;
  sendAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  canceledAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
/** A campaign as lists show it. */
const campaignListItemObject = builtOnFirstUse(() =>
  z.object({
    id: f.out.id,
    name: f.out.name,
    segmentId: f.out.id,
    subject: f.out.subject,
    html: f.out.document,
    text: z.optional(f.out.document),
    fromName: z.optional(f.out.name),
    replyTo: z.optional(f.out.email),
    budget: z.optional(z.number().check(z.describe('major units, at most 2 decimals'))),
    status: z.enum(CAMPAIGN_STATUSES),
    sendAt: z.nullable(f.out.timestamp),
    startedAt: z.nullable(f.out.timestamp),
    completedAt: z.nullable(f.out.timestamp),
    canceledAt: z.nullable(f.out.timestamp),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);
export const campaignListItem = z.lazy(campaignListItemObject);

const count = builtOnFirstUse(() => z.int());
/** What `GET /v1/campaigns/{id}` (and every write of one campaign) answers: the campaign with its stats. */
export const campaignView = z.lazy(() =>
  z.extend(campaignListItemObject(), {
    stats: z.object({
      recipients: count().check(z.describe('the whole frozen audience, suppressed ones included')),
      sent: count(),
      suppressed: count(),
      failed: count(),
      canceled: count(),
      bounced: count(),
      complained: count(),
      opened: count().check(z.describe('recipients who opened, not open events')),
      clicked: count().check(z.describe('recipients who clicked, not click events')),
      unsubscribed: count(),
      leads: count().check(z.describe('leads with this campaignId')),
      convertedLeads: count(),
      wonAmount: z.number().check(z.describe('the won opportunities those leads converted into, major units')),
    } satisfies Record<(typeof STAT_NAMES)[number], z.ZodMiniType>),
  }),
);

/** One recipient of `GET /v1/campaigns/{id}/recipients` (domain/marketing/campaigns.ts `presentRecipient`). */
export const recipientView = z.lazy(() =>
  z.object({
    email: f.out.email,
    contactId: z.optional(f.out.id),
    leadId: z.optional(f.out.id),
    status: z.enum(RECIPIENT_STATUSES),
    sentAt: z.nullable(f.out.timestamp),
    openedAt: z.nullable(f.out.timestamp),
    clickedAt: z.nullable(f.out.timestamp),
    unsubscribedAt: z.nullable(f.out.timestamp),
    messageId: z.optional(f.out.text),
    error: z.optional(f.out.text.check(z.describe('why the provider refused it (status failed)'))),
  }),
);

const fields = builtOnFirstUse(() => ({
  name: f.name,
  segmentId: f.id,
  subject: f.text(1, 998),
  html: f.text(1, 100_000),
  text: z.optional(f.text(1, 100_000)),
  fromName: z.optional(f.name),
  replyTo: z.optional(f.email),
  /** Money in major units, at most 2 decimals (stored as given). */
  budget: z.optional(z.number().check(z.refine((v) => toMinor(v) !== undefined, { message: 'an amount ≥ 0 with at most 2 decimals' }))),
}));

export const campaignCreate = z.lazy(() => z.strictObject(fields()));
export type CampaignCreate = z.infer<typeof campaignCreate>;
export const campaignPatch = z.lazy(() => f.patchOf(fields(), ['text', 'fromName', 'replyTo', 'budget']));
export type CampaignPatch = z.infer<typeof campaignPatch>;
export const scheduleBody = z.lazy(() => z.strictObject({ sendAt: f.timestamp }));

/** The transitions the API offers; anything else is `409 invalid_transition`. */
const ALLOWED: Record<'schedule' | 'send' | 'cancel' | 'edit' | 'delete', CampaignStatus[]> = {
  schedule: ['draft'],
  send: ['draft', 'scheduled'],
  cancel: ['scheduled', 'sending'],
  edit: ['draft'],
  delete: ['draft'],
};

export function assertTransition(status: CampaignStatus, action: keyof typeof ALLOWED): void {
  if (!ALLOWED[action].includes(status)) {
    throw conflict('invalid_transition', `A ${status} campaign cannot be ${action === 'edit' ? 'edited' : action === 'send' ? 'sent' : `${action}d`}.`, { campaignStatus: status });
  }
}

/** Attributes of the stored item that are internal (keys and the job's bookkeeping). */
export const CAMPAIGN_INTERNAL = ['PK', 'SK', 'tenantId', 'entityType', 'typePk', 'typeSk', 'duePk', 'dueSk', 'entity', 'frozen', 'freezeLeaseUntil'] as const;

export function campaignFromItem(item: Record<string, unknown>): Campaign {
  const out: Record<string, unknown> = { ...item };
  for (const k of CAMPAIGN_INTERNAL) delete out[k];
  return out as unknown as Campaign;
}

export function emptyStats(): CampaignStats {
  return Object.fromEntries(STAT_NAMES.map((n) => [n, 0])) as CampaignStats;
}
