/** What every use case receives besides its command: who is calling, and when. */
import type { Identity } from '#domain/identity.ts';

export interface UseCaseContext {
  identity: Identity;
  now: Date;
  /** Set for a POST carrying `Idempotency-Key`: the commit records the result under it, atomically. */
  idempotency?: { key: string; requestHash: string };
  /**
   * The id a create gives its new record instead of a fresh ULID: a CSV import's row derives it
   * from the import and the row, so committing the row again meets its own record.
   */
  recordId?: string;
}

export const nowIso = (ctx: UseCaseContext) => ctx.now.toISOString();
