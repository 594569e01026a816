/**
 * `Idempotency-Key` on POST (API.md §3): the first response is stored with the change
 * itself (see UnitOfWork.commit); a repeat within 24 h gets it back, a repeat with a
 * different body gets `409 idempotency_key_reused`.
 */
import { createHash } from 'node:crypto';
import type { UseCaseContext } from '#domain/context.ts';
import { conflict, DomainError, validationFailed } from '#domain/errors.ts';
import type { Identity } from '#domain/identity.ts';
import { idempotencyKey } from '#domain/table/keys.ts';
import { getItem } from '#domain/table/query.ts';
import { IdempotencyRecordExists } from '#domain/table/transaction.ts';
import { idempotencyResultContext, openSealedResult } from '#domain/secrets/sealed-results.ts';

export function requestHash(routeKey: string, params: Record<string, string>, body: unknown): string {
  return createHash('sha256').update(JSON.stringify([routeKey, params, canonical(body)])).digest('base64url');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export function idempotencyScope(headers: Record<string, string>, hash: string): UseCaseContext['idempotency'] {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 255) {
    throw validationFailed([{ path: 'header.idempotency-key', message: 'must be 1 to 255 characters' }]);
  }
  return { key, requestHash: hash };
}

/** The stored result for this key, or undefined. Throws 409 when the key was used for another request. */
export async function storedResult(who: Identity, scope: NonNullable<UseCaseContext['idempotency']>): Promise<{ result: unknown } | undefined> {
  const item = await getItem(idempotencyKey(who.tenantId, who.userId, scope.key));
  const nowSeconds = Date.now() / 1000;
  // TTL deletion lags; an expired record no longer counts.
  if (!item || (typeof item.expiresAt === 'number' && item.expiresAt < nowSeconds)) return undefined;
  if (item.requestHash !== scope.requestHash) {
    throw conflict('idempotency_key_reused', 'This Idempotency-Key was already used for a different request.');
  }
  if (item.sealedResult !== undefined) return { result: await openSealedResult(item.sealedResult, idempotencyResultContext(who.tenantId, String(item.PK))) };
  // A use case that answers nothing (204) stored no `result` attribute: its replay answers nothing too.
  return { result: typeof item.result === 'string' ? JSON.parse(item.result) : undefined };
}

/**
 * Runs the use case once per key: replays a stored result, including when a concurrent twin won
 * the race. The twin's success can also surface as a 409 of the use case (the lead it converted
 * is now converted, the name it claimed is now taken): a conflict is checked against the stored
 * result too, so every retry of one request gets the first answer.
 */
export async function runIdempotent<R>(who: Identity, scope: UseCaseContext['idempotency'], run: () => Promise<R>): Promise<R> {
  if (!scope) return run();
  const before = await storedResult(who, scope);
  if (before) return before.result as R;
  try {
    return await run();
  } catch (err) {
    const twinMayHaveWon = err instanceof IdempotencyRecordExists || (err instanceof DomainError && err.status === 409);
    if (!twinMayHaveWon) throw err;
    const after = await storedResult(who, scope);
    if (!after) throw err;
    return after.result as R;
  }
}
