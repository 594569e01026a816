/**
 * The DynamoDB requests the table client sends while `work` runs, for tests that count what an
 * operation costs. The rate limiter's own requests (a lease every few requests, its settings once
 * a minute: functions/middleware/rate-limit.ts) are left out, as the bench's meter leaves them out:
 * when they fall depends on how many requests came before, not on the operation counted.
 */
import { db } from '#domain/table/client.ts';
import { isRateLimitPartition } from '#domain/integrations/rate-limits.ts';

/** Each request as `Operation`, or `Operation[n]` for a transaction of n items. */
export async function requestsDuring<T>(work: () => Promise<T>): Promise<{ result: T; requests: string[] }> {
  const requests: string[] = [];
  const name = `request-spy-${Math.random()}`;
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { PK?: string }; TransactItems?: unknown[] };
      if (!isRateLimitPartition(input.Key?.PK)) {
        const op = (context.commandName ?? '?').replace(/Command$/, '');
        requests.push(input.TransactItems ? `${op}[${input.TransactItems.length}]` : op);
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    return { result: await work(), requests };
  } finally {
    db.middlewareStack.remove(name);
  }
}
