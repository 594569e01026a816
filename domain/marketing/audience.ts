/**
 * What campaigns need from the audience context (custom fields, suppressions, segments,
 * owned by domain/marketing/{custom-fields,suppressions,segments}.ts): one seam, so the
 * campaign code names these functions once. The default is the audience context itself;
 * tests of the dispatch mechanics may install a fixed list (`useAudience`).
 */
import { fieldDefinitions } from '#domain/marketing/custom-fields.ts';
import { loadSegment, walkSegmentMembers, type SegmentMember } from '#domain/marketing/segments.ts';
import { normalizeEmail, suppress, suppressedAmong, suppressWithin } from '#domain/marketing/suppressions.ts';
import type { UnitOfWork } from '#domain/table/transaction.ts';
/** A member of a mailing's audience: a segment's member as the segments context walks it. */
export type AudienceMember = SegmentMember;

export type SuppressionReason = 'unsubscribed' | 'bounced' | 'complained' | 'manual';

export interface Audience {
  normalizeEmail(email: string): string;
  suppressedAmong(tenantId: string, emails: string[]): Promise<Set<string>>;
  suppress(tenantId: string, email: string, entry: { reason: SuppressionReason; campaignId?: string; now: Date }): Promise<{ created: boolean }>;
  /** The suppression as part of `uow` (nothing joins when the address is listed); a race ends in `VersionRace` (suppressions.ts). */
  suppressWithin(uow: UnitOfWork, tenantId: string, email: string, entry: { reason: Exclude<SuppressionReason, 'complained'>; campaignId?: string; now: Date }): Promise<{ created: boolean }>;
  /** The segment's entity (`contacts` | `leads`); 404 `not_found` when unknown. */
  segmentEntity(tenantId: string, segmentId: string): Promise<'contacts' | 'leads'>;
  walkSegmentMembers(tenantId: string, segmentId: string, opts?: { pageSize?: number }): AsyncGenerator<AudienceMember[]>;
  customFieldKeys(tenantId: string, entity: 'contacts' | 'leads'): Promise<string[]>;
}

let current: Audience | undefined;

/** Tests of campaign mechanics may install a fixed audience; everything else uses the audience context. */
export function useAudience(a: Audience | undefined): void {
  current = a;
}

/** The audience context's own functions. */
export const audienceContext: Audience = {
  normalizeEmail,
  suppressedAmong,
  suppress,
  suppressWithin,
  segmentEntity: async (tenantId, segmentId) => (await loadSegment(tenantId, segmentId)).entity,
  walkSegmentMembers,
  customFieldKeys: async (tenantId, entity) => (await fieldDefinitions(tenantId, entity)).map((f) => f.key),
};

export function audience(): Audience {
  return current ?? audienceContext;
}
