/** Reads: get by key, and one page of a Query with a signed cursor. */
import { BatchGetCommand, GetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { decodeCursor, encodeCursor, type CursorScope } from '#domain/table/cursor.ts';
import { indexes, type IndexName } from '#domain/table/definition.ts';

type Item = Record<string, unknown>;

export async function getItem(key: { PK: string; SK: string }, consistent = true): Promise<Item | undefined> {
  const out = await db.send(new GetCommand({ TableName: tableName(), Key: key, ConsistentRead: consistent }));
  return out.Item;
}

export interface SortCondition {
  beginsWith?: string;
  lessThan?: string;
  greaterThan?: string;
  between?: [string, string];
}

export interface PageRequest {
  scope: CursorScope;
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface QuerySpec {
  index?: IndexName;
  pk: string;
  sk?: SortCondition;
  newestFirst?: boolean;
  filter?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> };
  /** Strongly consistent read (base table only; an index is always eventually consistent). */
  consistent?: boolean;
  /** Items per request (DynamoDB's `Limit`), for a read that wants only the first few. */
  limit?: number;
}

export function queryInput(spec: QuerySpec): QueryCommandInput {
  const keys = spec.index ? indexes[spec.index] : { pk: 'PK', sk: 'SK' };
  const names: Record<string, string> = { '#pk': keys.pk, ...spec.filter?.names };
  const values: Record<string, unknown> = { ':pk': spec.pk, ...spec.filter?.values };
  let condition = '#pk = :pk';
  if (spec.sk?.beginsWith !== undefined) {
    names['#sk'] = keys.sk;
    values[':skp'] = spec.sk.beginsWith;
    condition += ' AND begins_with(#sk, :skp)';
  } else if (spec.sk?.between) {
    names['#sk'] = keys.sk;
    values[':ska'] = spec.sk.between[0];
    values[':skb'] = spec.sk.between[1];
    condition += ' AND #sk BETWEEN :ska AND :skb';
  } else if (spec.sk?.lessThan !== undefined) {
    names['#sk'] = keys.sk;
    values[':skl'] = spec.sk.lessThan;
    condition += ' AND #sk < :skl';
  } else if (spec.sk?.greaterThan !== undefined) {
    names['#sk'] = keys.sk;
    values[':skg'] = spec.sk.greaterThan;
    condition += ' AND #sk > :skg';
  }
  return {
    TableName: tableName(),
    ...(spec.index ? { IndexName: spec.index } : {}),
    KeyConditionExpression: condition,
    ...(spec.filter ? { FilterExpression: spec.filter.expression } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ScanIndexForward: !spec.newestFirst,
    ...(spec.consistent && !spec.index ? { ConsistentRead: true } : {}),
    ...(spec.limit !== undefined ? { Limit: spec.limit } : {}),
  };
}

/**
 * One page of a Query. `keep` drops items the caller may not see (a second line of
 * defence behind the key choice), so a page may be shorter than `limit` while more remain,
 * which API.md allows.
 */
export async function queryPage<T>(spec: QuerySpec, page: PageRequest, keep: (item: Item) => T | undefined): Promise<Page<T>> {
  const out = await db.send(
    new QueryCommand({
      ...queryInput(spec),
      Limit: page.limit,
      ...(page.cursor ? { ExclusiveStartKey: decodeCursor(page.scope, page.cursor) } : {}),
    }),
  );
  const items: T[] = [];
  for (const raw of out.Items ?? []) {
    const kept = keep(raw);
    if (kept !== undefined) items.push(kept);
  }
  return { items, nextCursor: out.LastEvaluatedKey ? encodeCursor(page.scope, out.LastEvaluatedKey) : null };
}

/**
 * Items of a Query, page after page, until the query is exhausted or `enough` says so
 * (a bounded read such as Customer 360 stops once it holds what it shows).
 */
export async function queryAll(spec: QuerySpec, enough: (items: Item[]) => boolean = (items) => items.length >= 1000): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new QueryCommand({ ...queryInput(spec), ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start && !enough(items));
  return items;
}

/**
 * Items of a Query below `spec.sk.lessThan`, in sort-key order, page after page, that may leap
 * ahead: after each page `leapTo` may name a higher sort key to go on from, leaving out what lies
 * between (Customer 360 leaps past a section it holds enough of, so a collection of thousands of
 * contacts costs the pages it shows, not all of them). The read ends when the query is exhausted
 * or the key to go on from reaches the upper bound.
 */
export async function queryLeaping(
  spec: QuerySpec & { sk: { lessThan: string } },
  leapTo: (items: Item[]) => string | undefined,
): Promise<Item[]> {
  const upper = spec.sk.lessThan;
  const sortKey = spec.index ? indexes[spec.index].sk : 'SK';
  const items: Item[] = [];
  let range: QuerySpec = spec;
  let start: Record<string, unknown> | undefined;
  for (;;) {
    const out = await db.send(new QueryCommand({ ...queryInput(range), ...(start ? { ExclusiveStartKey: start } : {}) }));
    const page = out.Items ?? [];
    // BETWEEN is inclusive: the bound itself is not in the range asked for.
    items.push(...page.filter((i) => i[sortKey] !== upper));
    const last = page.at(-1)?.[sortKey] as string | undefined;
    const leap = last === undefined ? undefined : leapTo(items);
    if (leap !== undefined && leap > last!) {
      if (leap >= upper) break;
      range = { ...spec, sk: { between: [leap, upper] } };
      start = undefined;
      continue;
    }
    start = out.LastEvaluatedKey;
    if (!start) break;
  }
  return items;
}

/**
 * Any number of items by key, 100 to a BatchGetItem, the requests in parallel (keys repeated are
 * read once), in the order of `keys`; `undefined` where an item does not exist. Strongly consistent.
 */
export async function getManyItems(keys: { PK: string; SK: string }[]): Promise<(Item | undefined)[]> {
  const id = (k: { PK: string; SK: string }) => `${k.PK}\u0000${k.SK}`;
  const unique = [...new Map(keys.map((k) => [id(k), k])).values()];
  const chunks: (typeof unique)[] = [];
  for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
  const read = await Promise.all(chunks.map((c) => getItems(c)));
  const found = new Map<string, Item | undefined>();
  chunks.forEach((c, n) => c.forEach((k, i) => found.set(id(k), read[n]![i])));
  return keys.map((k) => found.get(id(k)));
}

/**
 * Several items by key in one BatchGetItem (strongly consistent unless `consistent` is false:
 * half the read cost, for bulk reads that tolerate a second's lag), in the order of `keys`;
 * `undefined` where an item does not exist. At most 100 keys.
 */
export async function getItems(keys: { PK: string; SK: string }[], consistent = true): Promise<(Item | undefined)[]> {
  if (keys.length > 100) throw new Error(`BatchGetItem reads at most 100 keys, got ${keys.length}`);
  const found = new Map<string, Item>();
  let pending: Record<string, unknown>[] = keys;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** Math.min(attempt, 6)));
    const out = await db.send(new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: pending, ConsistentRead: consistent } } }));
    for (const item of out.Responses?.[tableName()] ?? []) found.set(`${item.PK}\u0000${item.SK}`, item);
    pending = out.UnprocessedKeys?.[tableName()]?.Keys ?? [];
  }
  return keys.map((k) => found.get(`${k.PK}\u0000${k.SK}`));
}
