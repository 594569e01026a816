/**
 * The benchmark's capacity arithmetic (bench/dynamo-meter.ts): DynamoDB's item-size
 * rules and the transactional formula. Pure: no table, no I/O.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  indexWriteUnits,
  itemSize,
  transactGetCost,
  transactReadUnits,
  transactWriteCost,
  transactWriteUnits,
  writeUnits,
} from '../../bench/dynamo-meter.ts';

describe('itemSize (bytes)', () => {
  it('counts a string as the UTF-8 bytes of its name and value', () => {
    expect(itemSize({ name: { S: 'abc' } })).toBe(4 + 3);
    expect(itemSize({ 名: { S: '星辰' } })).toBe(3 + 6);
    expect(itemSize({ e: { S: '' } })).toBe(1);
  });

  it('counts a number as 1 byte per two significant digits plus 1', () => {
    expect(itemSize({ n: { N: '123' } })).toBe(1 + 2 + 1);
    // Leading and trailing zeros do not count: 1700000000 has two significant digits.
    expect(itemSize({ n: { N: '1700000000' } })).toBe(1 + 1 + 1);
    expect(itemSize({ n: { N: '0.0012' } })).toBe(1 + 1 + 1);
    expect(itemSize({ n: { N: '-12.340' } })).toBe(1 + 2 + 1);
    expect(itemSize({ n: { N: '0' } })).toBe(1 + 0 + 1);
  });

  it('counts booleans and nulls as 1 byte, binaries as their raw length', () => {
    expect(itemSize({ ok: { BOOL: true } })).toBe(2 + 1);
    expect(itemSize({ x: { NULL: true } })).toBe(1 + 1);
    expect(itemSize({ b: { B: new Uint8Array(10) } })).toBe(1 + 10);
  });

  it('gives lists and maps 3 bytes plus 1 byte per element, map keys counted', () => {
    expect(itemSize({ l: { L: [] } })).toBe(1 + 3);
    expect(itemSize({ m: { M: {} } })).toBe(1 + 3);
    // 'ab' (2) and 1 (2), each element +1.
    expect(itemSize({ l: { L: [{ S: 'ab' }, { N: '1' }] } })).toBe(1 + 3 + (1 + 2) + (1 + 2));
    // key 'a' (1) + 'xy' (2) + 1.
    expect(itemSize({ m: { M: { a: { S: 'xy' } } } })).toBe(1 + 3 + (1 + 1 + 2));
    expect(itemSize({ m: { M: { a: { M: { b: { BOOL: false } } } } } })).toBe(1 + 3 + (1 + 1 + (3 + (1 + 1 + 1))));
  });

  it('sums set members', () => {
    expect(itemSize({ s: { SS: ['a', 'bc'] } })).toBe(1 + 3);
    expect(itemSize({ s: { NS: ['10', '123'] } })).toBe(1 + (1 + 1) + (2 + 1));
  });

  it('sizes a whole item the way the document client writes it', () => {
    const item = marshall({ PK: 'T#acme#ACCOUNT#1', SK: 'ACCOUNT', name: '星辰科技', version: 1, tags: ['vip'], ownerId: null });
    const expected =
      (2 + 16) + // PK
      (2 + 7) + // SK
      (4 + 12) + // name: four 3-byte characters
      (7 + 2) + // version: one digit → 1 + 1
      (4 + 3 + 1 + 3) + // tags: list of one 'vip'
      (7 + 1); // ownerId: null
    expect(itemSize(item)).toBe(expected);
    expect(itemSize(undefined)).toBe(0);
  });
});

describe('capacity formulas', () => {
  it('standard writes: 1 WCU per started KB, at least 1', () => {
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
  });

  it('transactional writes: 2 WCU per started KB of each item, at least 2', () => {
    expect(transactWriteUnits(0)).toBe(2);
    expect(transactWriteUnits(1)).toBe(2);
    expect(transactWriteUnits(1024)).toBe(2);
    expect(transactWriteUnits(1025)).toBe(4);
    expect(transactWriteUnits(3 * 1024 + 1)).toBe(8);
  });

  it('rounds each item of a transaction up on its own', () => {
    // Two small puts: 4 WCU (DynamoDB Local reports 2 for this).
    expect(transactWriteCost([{ kind: 'Put', before: 0, after: 100 }, { kind: 'Put', before: 0, after: 100 }])).toBe(4);
    // A record just over 1 KB and its event just over 1 KB: 4 + 4.
    expect(transactWriteCost([{ kind: 'Put', before: 0, after: 1182 }, { kind: 'Put', before: 0, after: 1042 }])).toBe(8);
  });

  it('charges Put and Update by the larger image, Delete and ConditionCheck by the item read', () => {
    expect(transactWriteCost([{ kind: 'Update', before: 3000, after: 500 }])).toBe(6);
    expect(transactWriteCost([{ kind: 'Put', before: 2100, after: 900 }])).toBe(6);
    expect(transactWriteCost([{ kind: 'Delete', before: 100, after: 0 }])).toBe(2);
    expect(transactWriteCost([{ kind: 'Delete', before: 0, after: 0 }])).toBe(2);
    expect(transactWriteCost([{ kind: 'ConditionCheck', before: 5000, after: 5000 }])).toBe(10);
    expect(transactWriteCost([])).toBe(0);
  });

  it('transactional reads: 2 RCU per started 4 KB of each item', () => {
    expect(transactReadUnits(0)).toBe(2);
    expect(transactReadUnits(4096)).toBe(2);
    expect(transactReadUnits(4097)).toBe(4);
    expect(transactGetCost([100, 5000])).toBe(6);
  });
});

describe('index write estimate', () => {
  const indexes = { byOwner: { pk: 'ownerPk', sk: 'ownerSk' }, byType: { pk: 'typePk', sk: 'typeSk' } };
  const base = { PK: { S: 'p' }, SK: { S: 's' }, typePk: { S: 't' }, typeSk: { S: 'a' } };

  it('counts one write per index an item enters or leaves', () => {
    const item = { ...base, ownerPk: { S: 'o' }, ownerSk: { S: 'a' } };
    expect(indexWriteUnits(indexes, undefined, item)).toBe(2);
    expect(indexWriteUnits(indexes, item, undefined)).toBe(2);
    // Enters byOwner, and byType (projecting ALL attributes) rewrites its changed entry.
    expect(indexWriteUnits(indexes, base, item)).toBe(2);
  });

  it('counts nothing for an unchanged item, one write for a change, two for a moved key', () => {
    expect(indexWriteUnits(indexes, base, { ...base })).toBe(0);
    expect(indexWriteUnits(indexes, base, { ...base, note: { S: 'x' } })).toBe(1);
    expect(indexWriteUnits(indexes, base, { ...base, typeSk: { S: 'b' } })).toBe(2);
  });
});
