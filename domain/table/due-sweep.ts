/**
 * The sweep every due-index job makes (task reminders, SLA escalation, workflow runner, webhook
 * retries): the sparse `byDue` partitions `DUE#<kind>#<shard>`, sort keys `<instant>#…`, read
 * `dueSk < "<before>$"` page by page, so every item read is work due by `before`, and stopped
 * early (resumable: what was not done is still due) when the Lambda's time runs short.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { db } from '#domain/table/client.ts';
import { queryInput } from '#domain/table/query.ts';

type Item = Record<string, unknown>;

export interface DueSweep {
  partitions: string[];
  /** ISO instant: items due strictly before it, and at it. */
  before: string;
  pageSize?: number;
  /** The invocation's remaining time; the sweep stops when it falls under `safetyMs`. */
  timeLeftMs?: () => number;
  safetyMs?: number;
}

/** Calls `onPage` with each page of due items, in due order per partition. False when it stopped for lack of time. */
export async function sweepDue(sweep: DueSweep, onPage: (items: Item[]) => Promise<void>): Promise<boolean> {
  const safety = sweep.safetyMs ?? 20_000;
  for (const pk of sweep.partitions) {
    let start: Item | undefined;
    do {
      if (sweep.timeLeftMs && sweep.timeLeftMs() < safety) return false;
      const out = await db.send(
        new QueryCommand({
          ...queryInput({ index: 'byDue', pk, sk: { lessThan: `${sweep.before}$` } }),
          Limit: sweep.pageSize ?? 100,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      if (out.Items?.length) await onPage(out.Items);
      start = out.LastEvaluatedKey;
    } while (start);
  }
  return true;
}
