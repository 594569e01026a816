/**
 * Segment evaluation (issue 8): what reading a segment's members costs per member, for a tenant
 * with 10,000 contacts on 500 accounts (tiers A–D evenly) and a segment `account.tier eq A`
 * (a quarter of the contacts match).
 *
 * - `segment.members.rcu_per_member`: walking `GET /v1/segments/{id}/members?limit=100` to the
 *   end, every request's RCU (the contacts' Query pages and the accounts' BatchGetItems, with the
 *   caller's users-directory write and the segment's read) ÷ the members returned;
 * - `segment.members.requests_per_page`, `segment.count.rcu`, and `segment.walk.rcu_per_member`
 *   (the domain's `walkSegmentMembers`, which campaigns read their audience with: one walk, each
 *   account read once).
 *
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/segments.ts` (starts its own
 * DynamoDB Local; about a minute).
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchPut } from './seed.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface SegmentBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const CONTACTS = 10_000;
const ACCOUNTS = 500;
const TIERS = ['A', 'B', 'C', 'D'] as const;
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;
const progress = (msg: string) => process.stderr.write(`bench: segments: ${msg}\n`);

type Item = Record<string, unknown>;

/** Accounts and contacts as the API stores them (records.ts `toItem` with their specs), written with BatchWriteItem. */
async function seedTenant(tenant: string): Promise<void> {
  const { toItem } = await import('#domain/records.ts');
  const { accountSpec } = await import('#domain/accounts/account.ts');
  const { contactSpec } = await import('#domain/accounts/contact.ts');
  const at = new Date().toISOString();
  const base = { createdAt: at, updatedAt: at, version: 1, ownerId: 'alice', ownerTeamId: 'east', createdBy: 'alice', tags: ['bench'] };
  const items: Item[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    items.push(toItem(accountSpec, tenant, {
      ...base, id: `ACC${String(i).padStart(5, '0')}`, name: `分段客户 ${i} 有限公司`, tier: TIERS[i % 4], lifecycleStage: 'customer',
      poolStatus: 'owned', lastFollowUpAt: null, ownerSince: at, industry: 'Retail',
    } as never));
  }
  for (let i = 0; i < CONTACTS; i++) {
    items.push(toItem(contactSpec, tenant, {
      ...base, id: `CON${String(i).padStart(6, '0')}`, name: `联系人 ${i}`, email: `c${i}@bench-segments.cn`, title: 'Buyer',
      accountId: `ACC${String(i % ACCOUNTS).padStart(5, '0')}`,
    } as never));
  }
  const raw = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const seeder = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const table = process.env.TABLE_NAME!;
  await batchPut(seeder, table, items);
  raw.destroy();
}

export async function segmentScenarios({ call, meter, figures, notes }: SegmentBenchInput): Promise<void> {
  const tenant = `benchseg${Date.now().toString(36)}`;
  const mark: Caller = { tenant, user: 'mark', role: 'marketer' };
  try {
    progress(`seeding ${CONTACTS} contacts on ${ACCOUNTS} accounts`);
    await seedTenant(tenant);
    await call(mark, 'GET', '/v1/segments?limit=1'); // the users directory's first write, outside the figures
    const created = await call(mark, 'POST', '/v1/segments', {
      name: 'A 级客户的联系人',
      entity: 'contacts',
      conditions: [{ field: 'account.tier', op: 'eq', value: 'A' }],
    });
    const id = (created.json as { id?: string } | undefined)?.id;
    if (created.status !== 201 || !id) throw new Error(`POST /v1/segments answered ${created.status} ${created.body.slice(0, 200)}`);

    const start = meter.mark();
    let members = 0;
    let pages = 0;
    let cursor: string | null = null;
    do {
      const res = await call(mark, 'GET', `/v1/segments/${id}/members?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (res.status !== 200) throw new Error(`members page ${pages + 1} answered ${res.status} ${res.body.slice(0, 200)}`);
      const page = res.json as { items: unknown[]; nextCursor: string | null };
      members += page.items.length;
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    const walk = meter.usageSince(start);
    figures['segment.members.count'] = members;
    figures['segment.members.rcu_per_member'] = round4(walk.rcu / members);
    figures['segment.members.requests_per_page'] = round4(walk.requests / pages);

    const countMark = meter.mark();
    const counted = await call(mark, 'GET', `/v1/segments/${id}/count`);
    const countUsage = meter.usageSince(countMark);
    figures['segment.count.rcu'] = round4(countUsage.rcu);
    figures['segment.count.requests'] = countUsage.requests;

    const { walkSegmentMembers } = await import('#domain/marketing/segments.ts');
    const domainMark = meter.mark();
    let walked = 0;
    for await (const page of walkSegmentMembers(tenant, id)) walked += page.length;
    const domainUsage = meter.usageSince(domainMark);
    figures['segment.walk.rcu_per_member'] = round4(domainUsage.rcu / walked);

    notes.push(
      `segment.members: ${members} members of ${CONTACTS} contacts (account.tier eq A) in ${pages} pages of 100: ` +
        `${round4(walk.rcu)} RCU, ${walk.requests} requests; count ${(counted.json as { count?: number }).count} for ${round4(countUsage.rcu)} RCU; ` +
        `walkSegmentMembers ${walked} members for ${round4(domainUsage.rcu)} RCU.`,
    );
  } catch (err) {
    notes.push(`segment.members: no figure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `npx tsx bench/segments.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('seg', segmentScenarios);
