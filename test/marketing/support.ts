/**
 * Marketing test helpers: callers, a campaign's mail in the local mailbox, and the job.
 * `fixedAudience` stands in for the audience context (segments, suppressions) in tests of
 * the campaign mechanics: a list of members per segment and a suppression set, in memory.
 */
import { notFound } from '#domain/errors.ts';
import type { Audience, AudienceMember, SuppressionReason } from '#domain/marketing/audience.ts';
import { runCampaignDispatch, type DispatchOptions } from '#domain/marketing/dispatch.ts';
import { deliverPending } from '#events/outbox.ts';
import { publisher } from '#events/publisher.ts';
import { as, type Caller } from '#test/support/api.ts';

export function fixedAudience(segments: Record<string, { entity: 'contacts' | 'leads'; members: AudienceMember[] }>, customKeys: string[] = []) {
  const suppressed = new Map<string, { reason: SuppressionReason; campaignId?: string }>();
  const normalizeEmail = (e: string) => e.trim().toLowerCase();
  const a: Audience & { suppressed: typeof suppressed } = {
    suppressed,
    normalizeEmail,
    async suppressedAmong(_t, emails) {
      return new Set(emails.filter((e) => suppressed.has(normalizeEmail(e))));
    },
    async suppress(_t, email, entry) {
      const key = normalizeEmail(email);
      if (suppressed.has(key)) return { created: false };
      suppressed.set(key, { reason: entry.reason, ...(entry.campaignId ? { campaignId: entry.campaignId } : {}) });
      return { created: true };
    },
    // In memory at once, not with the caller's transaction: these tests are about the mechanics around it.
    async suppressWithin(_uow, t, email, entry) {
      return a.suppress(t, email, entry);
    },
    async segmentEntity(_t, segmentId) {
      const s = segments[segmentId];
      if (!s) throw notFound('segment');
      return s.entity;
    },
    async *walkSegmentMembers(_t, segmentId, opts) {
      const members = segments[segmentId]?.members ?? [];
      const size = opts?.pageSize ?? 100;
      for (let i = 0; i < members.length; i += size) yield members.slice(i, i + size);
    },
    async customFieldKeys() {
      return customKeys;
    },
  };
  return a;
}

export function member(i: number, over: Partial<AudienceMember> = {}): AudienceMember {
  return { id: `c${i}`, entity: 'contact', name: `客户 ${i}`, email: `person${i}@example.com`, phone: null, ownerId: 'alice', company: `公司 ${i}`, custom: {}, ...over };
}

export const admin = (tenant: string): Caller => ({ tenant, user: 'boss', role: 'admin' });
export const marketer = (tenant: string): Caller => ({ tenant, user: 'mia', role: 'marketer' });

/** Every mail of the tenant in the local mailbox (all pages). */
export async function mailbox(tenant: string, query = ''): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await as(admin(tenant)).get(`/_local/mail?limit=100${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new Error(`GET /_local/mail answered ${res.status} ${res.body}`);
    items.push(...res.json.items);
    cursor = res.json.nextCursor;
  } while (cursor);
  return items;
}

/** The job, to completion, without waiting on the pacing clock; then the outbox delivered. */
export async function dispatch(opts: DispatchOptions = {}) {
  const report = await runCampaignDispatch({ sleep: async () => undefined, ...opts });
  await deliverPending(publisher());
  return report;
}

/** `path` of the first URL in `html` that starts with `base` + `prefix`. */
export function linkIn(html: string, prefix: string): string {
  const m = new RegExp(`https?://[^/"']+(${prefix}[A-Za-z0-9_.-]+)`).exec(html);
  if (!m) throw new Error(`no ${prefix} link in ${html.slice(0, 300)}`);
  return m[1]!;
}
