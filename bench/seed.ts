/**
 * Seeding a big fixture straight into a table, in the stored form the use cases write:
 * BatchWriteItem, 25 items a request, 8 requests side by side, retrying what comes back
 * unprocessed (with a short backoff) until nothing is left.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Item = Record<string, unknown>;

/** `progress` hears of every 50,000 items written. */
export async function batchPut(client: DynamoDBDocumentClient, table: string, items: Item[], progress?: (written: number) => void): Promise<void> {
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  let reported = 0;
  const worker = async () => {
    while (next < batches.length) {
      if (progress && next * 25 - reported >= 50_000) {
        reported = next * 25;
        progress(reported);
      }
      let pending = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length; attempt++) {
        const out = await client.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
        if (pending.length) await new Promise((r) => setTimeout(r, 10 * 2 ** Math.min(attempt, 6)));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}
