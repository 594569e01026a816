/** What every use case receives besides its command: who is calling, and when. */
import type { Identity } from '#domain/identity.ts';

export interface UseCaseContext {
  identity: Identity;
  now: Date;
  /** Set for a POST carrying `Idempotency-Key`: the commit records the result under it, atomically. */
  idempotency?: { key: string; requestHash: string };
}

export const nowIso = (ctx: UseCaseContext) => ctx.now.toISOString();
