/**
 * The single table: key attribute names and the overloaded indexes. The CDK state
 * stack, the local runtime and the tests all create the table from this, so the
 * three can never disagree. See docs/access-patterns.md for what lives where.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/** Index name → its partition and sort key attributes. */
export const indexes = {
  /** Children grouped under their parent (an account's contacts, activities, tasks...): Customer 360 is one Query. */
  byParent: { pk: 'parentPk', sk: 'parentSk' },
  /** Records by owner or assignee: a rep's own lists. */
  byOwner: { pk: 'ownerPk', sk: 'ownerSk' },
  /** Records by the owner's team: a manager's lists. */
  byTeam: { pk: 'teamPk', sk: 'teamSk' },
  /** Records by tenant and type: admin lists, name-prefix search. */
  byType: { pk: 'typePk', sk: 'typeSk' },
  /**
   * Sparse: only items with work due (pending outbox events, and later pool releases and reminders);
   * also tenant-first partitions no job sweeps: each sales pipeline's board of opportunities, and
   * the open leads naming each company (the duplicate search).
   */
  byDue: { pk: 'duePk', sk: 'dueSk' },
} as const;

export type IndexName = keyof typeof indexes;

/** Attribute holding an epoch-seconds expiry; DynamoDB TTL deletes the item after it. */
export const TTL_ATTRIBUTE = 'expiresAt';

export function createTableInput(tableName: string): CreateTableCommandInput {
  const names = new Set<string>(['PK', 'SK']);
  for (const ix of Object.values(indexes)) {
    names.add(ix.pk);
    names.add(ix.sk);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...names].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: Object.entries(indexes).map(([IndexName, ix]) => ({
      IndexName,
      KeySchema: [
        { AttributeName: ix.pk, KeyType: 'HASH' },
        { AttributeName: ix.sk, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
    // No stream here: the state stack adds it in the cloud, for the outbox relay. Locally nothing
    // reads one, and DynamoDB Local's stream bookkeeping makes every write slower as records pile
    // up (seeding 300,000 items slowed to a crawl with it).
  };
}
