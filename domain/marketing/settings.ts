/** Marketing settings of a tenant (`GET/PUT /v1/marketing/settings`): the send rate and the sender address. */
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole } from '#domain/identity.ts';
import * as f from '#domain/fields.ts';
import { getItem } from '#domain/table/query.ts';
import { stillAtVersion, UnitOfWork } from '#domain/table/transaction.ts';
import { settingsKey } from '#domain/marketing/keys.ts';

export const MAX_SEND_RATE = 1000;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const settingsBody = z.lazy(() =>
  z.strictObject({
    sendRatePerSecond: z._default(z.int().check(z.minimum(1), z.maximum(MAX_SEND_RATE)), 10),
    fromAddress: z._default(f.email, 'noreply@example.com'),
  }),
);

export type MarketingSettings = z.infer<typeof settingsBody>;
export const DEFAULT_SETTINGS: MarketingSettings = { sendRatePerSecond: 10, fromAddress: 'noreply@example.com' };

/** What `GET` and `PUT /v1/marketing/settings` answer: the settings in force. */
export const settingsView = z.lazy(() =>
  z.object({
    sendRatePerSecond: z.int(),
    fromAddress: f.out.email,
    version: z.int().check(z.describe('0 while the defaults were never changed; +1 per PUT')),
    updatedAt: z.nullable(f.out.timestamp),
  }),
);

export interface StoredSettings extends MarketingSettings {
  version: number;
  updatedAt: string | null;
}

export async function loadSettings(tenantId: string): Promise<StoredSettings> {
  const item = await getItem(settingsKey(tenantId), false);
  if (!item) return { ...DEFAULT_SETTINGS, version: 0, updatedAt: null };
  return {
    sendRatePerSecond: Number(item.sendRatePerSecond),
    fromAddress: String(item.fromAddress),
    version: Number(item.version),
    updatedAt: String(item.updatedAt),
  };
}

/** Admins and marketers read them (marketers see which address their campaigns leave from). */
export async function getSettings(ctx: UseCaseContext): Promise<StoredSettings> {
  requireRole(ctx.identity, 'admin', 'marketer');
  return loadSettings(ctx.identity.tenantId);
}

/** Admin only; the body replaces the settings (omitted fields take their defaults). */
export async function putSettings(ctx: UseCaseContext, body: MarketingSettings): Promise<StoredSettings> {
  requireRole(ctx.identity, 'admin');
  const { tenantId } = ctx.identity;
  const before = await loadSettings(tenantId);
  const next: StoredSettings = { ...body, version: before.version + 1, updatedAt: ctx.now.toISOString() };
  await new UnitOfWork(ctx)
    .put(
      { ...settingsKey(tenantId), tenantId, entityType: 'MKTSET', ...next },
      stillAtVersion(before.version, 'The settings'),
    )
    .commit(next);
  return next;
}
