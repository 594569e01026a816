/** The load bench's invariant check (bench/load.ts, issue 11 point 4) finds each kind of broken rule in a table's items. */
import { describe, expect, it } from 'vitest';
import { guardsOf } from '#domain/accounts/duplicates.ts';
import { checkInvariants, type Tally, type Tenant } from '../../bench/load.ts';

const T = 'inv';
const tenant = { id: T, tokens: new Map() } as unknown as Tenant;
const tally = (): Tally => ({ claimsWon: new Map(), poolEntries: new Map(), claimsByUser: new Map(), createdAccounts: new Set(), byOperation: new Map() });

function account(id: string, name: string, owner: string | null, extra: Record<string, unknown> = {}) {
  return {
    PK: `T#${T}#ACCOUNT#${id}`, SK: 'ACCOUNT', id, name,
    ...(owner ? { ownerId: owner, poolStatus: 'owned', ownerPk: `T#${T}#ACCOUNT#OWNER#${owner}` } : { poolStatus: 'pool', ownerPk: `T#${T}#ACCOUNT#POOL` }),
    ...extra,
  };
}
const guardOf = (id: string, name: string) => {
  const [g] = guardsOf('account', { name });
  return { PK: `T#${T}#UNIQUE#ACCOUNT#NAME#${g!.value}`, SK: 'UNIQUE', recordId: id };
};

/** A consistent table: c0 claimed one account (once, after it entered the pool once), one account is in the pool, one open opportunity. */
function consistent() {
  return [
    account('A1', 'Alpha 公司', 'c0', { openOpportunityCount: 1 }),
    account('A2', 'Beta 公司', null),
    guardOf('A1', 'Alpha 公司'),
    guardOf('A2', 'Beta 公司'),
    { PK: `T#${T}#POOLREP#c0`, SK: 'POOLREP', userId: 'c0', owned: 1, locked: 0 },
    { PK: `T#${T}#POOLCLAIMS#c0#2026-12-05`, SK: 'POOLCLAIMS', claims: 1 },
    { PK: `T#${T}#OPPORTUNITY#O1`, SK: 'OPPORTUNITY', id: 'O1', accountId: 'A1', stageId: 'S1', status: 'open' },
    { PK: `T#${T}#STAGE#S1`, SK: 'STAGE', opportunityCount: 1 },
  ];
}
function claimed(): Tally {
  const t = tally();
  t.claimsWon.set('A1', 1);
  t.poolEntries.set('A1', 1);
  t.claimsByUser.set(`${T}/c0`, 1);
  t.createdAccounts.add('A1');
  return t;
}

describe('load invariants', () => {
  it('a consistent table has none', async () => {
    expect(await checkInvariants(consistent(), [tenant], claimed())).toEqual([]);
  });

  it('finds counters, guards, owners and claim winners out of line', async () => {
    const items = consistent();
    (items[4] as { owned: number }).owned = 2;
    (items[7] as { opportunityCount: number }).opportunityCount = 0;
    items.push(guardOf('GONE', 'Gamma'));
    items.push({ ...account('A3', 'Delta', 'r0'), ownerPk: `T#${T}#ACCOUNT#POOL` });
    const t = claimed();
    t.claimsWon.set('A1', 2);
    t.createdAccounts.add('LOST');
    const found = (await checkInvariants(items, [tenant], t)).join('\n');
    expect(found).toMatch(/c0's owned counter is 2, owns 1/);
    expect(found).toMatch(/stage S1 counts 0 opportunities, holds 1/);
    expect(found).toMatch(/names ACCOUNT GONE, which does not exist/);
    expect(found).toMatch(/ACCOUNT A3 holds name \S+ without its guard/);
    expect(found).toMatch(/account A3 of r0 is in partition/);
    expect(found).toMatch(/account A1 was claimed 2 times but entered the pool 1 times/);
    expect(found).toMatch(/account LOST was created \(201\) but is not in the table/);
  });
});
