/**
 * An Idempotency-Key on a use case that answers nothing: the record it commits has no `result`
 * (the table client drops undefined attributes), and a retry replays "nothing" instead of failing.
 */
import { describe, expect, it } from 'vitest';
import { runIdempotent } from '#functions/middleware/idempotency.ts';
import { entityKey } from '#domain/table/keys.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';

describe('idempotent replay of an empty answer', () => {
  it('answers undefined again, without running the use case twice', async () => {
    const identity = { tenantId: 'empty-answer', userId: 'alice', role: 'rep' as const };
    const scope = { key: 'k-1', requestHash: 'h-1' };
    const ctx = { identity, now: new Date(), idempotency: scope };
    let runs = 0;
    const run = () => {
      runs++;
      return new UnitOfWork(ctx).put({ ...entityKey(identity.tenantId, 'TASK', `t${runs}`), tenantId: identity.tenantId }).commit(undefined);
    };
    await expect(runIdempotent(identity, scope, run)).resolves.toBeUndefined();
    await expect(runIdempotent(identity, scope, run)).resolves.toBeUndefined();
    expect(runs).toBe(1);
  });
});
