/**
 * The rebuild path (admin tooling, `npm run rebuild-aggregates -- --tenant T`): recomputes a
 * tenant's aggregates from its records, for when a bug or a lost consumer left them wrong.
 *   1. Each record that changes (opportunity, order, activity) and each payment gets its
 *      contribution computed afresh from the record as stored, with the same fact functions
 *      the consumer uses; a contribution whose record is gone is emptied.
 *   2. The rows are dropped and written again as the sum of every contribution (the facts
 *      kept only as events said them — creations, conversions, pool moves — and targets keep
 *      the contribution the consumer recorded).
 * It reads everything the tenant has, so it is a tool, not a request path; run it while the
 * tenant's consumer is quiet (a contribution applied during step 2 may be counted twice).
 */
import { batchWrite, type WriteRequest } from '#domain/table/batch.ts';
import { db, tableName } from '#domain/table/client.ts';
import { typePartition, type EntityType } from '#domain/table/keys.ts';
import { queryAll } from '#domain/table/query.ts';
import { loadRules } from '#domain/pool/rules.ts';
import { aggPartition, contribPartition, rowSums, type Fact } from '#domain/analytics/aggregates.ts';
import { GONE, recordSubjectId, SUBJECT_KINDS } from '#domain/analytics/consumer.ts';
import { activityFacts, opportunityFacts, orderFacts, paymentFacts } from '#domain/analytics/facts.ts';
import { PAYMENT_PREFIX } from '#domain/sales/order.ts';

type Item = Record<string, unknown>;

const RECORD_KINDS: { kind: string; type: EntityType; facts: (item: Item, timeZone: string) => Fact[] }[] = [
  { kind: 'opportunity', type: 'OPPORTUNITY', facts: opportunityFacts },
  { kind: 'order', type: 'ORDER', facts: orderFacts },
  { kind: 'activity', type: 'ACTIVITY', facts: activityFacts },
];

export async function rebuildAggregates(tenantId: string): Promise<{ records: number; contributions: number; rows: number }> {
  const { timeZone } = await loadRules(tenantId);
  let records = 0;
  // 1. Contributions of the records that change, from the records themselves.
  for (const { kind, type, facts } of RECORD_KINDS) {
    const items = await queryAll({ index: 'byType', pk: typePartition(tenantId, type) }, () => false);
    const live = new Set<string>();
    const puts: Item[] = items.map((item) => {
      const id = recordSubjectId({ PK: String(item.PK), SK: String(item.SK) });
      live.add(id);
      return contribution(tenantId, kind, id, Number(item.version), facts(item, timeZone));
    });
    const stored = await queryAll({ pk: contribPartition(tenantId, kind) }, () => false);
    for (const c of stored) if (!live.has(String(c.SK))) puts.push(contribution(tenantId, kind, String(c.SK), GONE, []));
    await batchWrite(puts.map((Item) => ({ PutRequest: { Item } })));
    records += items.length;
    if (kind === 'order') records += await rebuildPayments(tenantId, items, timeZone);
  }
  // 2. The rows: dropped, then the sum of every contribution.
  const all: Fact[] = [];
  let contributions = 0;
  for (const kind of SUBJECT_KINDS) {
    for (const c of await queryAll({ pk: contribPartition(tenantId, kind) }, () => false)) {
      all.push(...(JSON.parse(String(c.facts)) as Fact[]));
      contributions++;
    }
  }
  const old = await queryAll({ pk: aggPartition(tenantId) }, () => false);
  await batchWrite(old.map((item) => ({ DeleteRequest: { Key: { PK: item.PK, SK: item.SK } } })));
  const rows = [...rowSums(all)].map(([SK, attrs]) => ({
    PK: aggPartition(tenantId),
    SK,
    tenantId,
    entityType: 'AGG',
    ...Object.fromEntries([...attrs].filter(([, v]) => v !== 0)),
  }));
  await batchWrite(rows.map((Item) => ({ PutRequest: { Item } })));
  return { records, contributions, rows: rows.length };
}

/** Payments, in their orders' partitions; one that predates stored attribution is credited to its order's owner. */
async function rebuildPayments(tenantId: string, orders: Item[], timeZone: string): Promise<number> {
  let count = 0;
  for (const order of orders) {
    const payments = await queryAll({ pk: String(order.PK), sk: { beginsWith: PAYMENT_PREFIX } }, () => false);
    const puts = payments.map((p) => {
      const attributed = p.ownerId !== undefined;
      return contribution(tenantId, 'payment', String(p.id), 1, paymentFacts({
        receivedAt: String(p.receivedAt),
        amountMinor: Number(p.amountMinor),
        currency: String(p.currency),
        ownerId: ((attributed ? p.ownerId : order.ownerId) as string | null) ?? null,
        ownerTeamId: ((attributed ? p.ownerTeamId : order.ownerTeamId) as string | null) ?? null,
      }, timeZone));
    });
    await batchWrite(puts.map((Item) => ({ PutRequest: { Item } })));
    count += payments.length;
  }
  return count;
}

const contribution = (tenantId: string, kind: string, id: string, version: number, facts: Fact[]): Item => ({
  PK: contribPartition(tenantId, kind),
  SK: id,
  tenantId,
  entityType: 'CONTRIB',
  kind,
  version,
  facts: JSON.stringify(facts),
});

