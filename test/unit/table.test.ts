/** Pure rules of the table layer: cursors, sort keys, shards. Property-based where it pays. */
import fc from 'fast-check';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#domain/errors.ts';
import { decodeCursor, encodeCursor, type CursorScope } from '#domain/table/cursor.ts';
import { invertedTime, nameKey, OUTBOX_SHARDS, outboxShard } from '#domain/table/keys.ts';

const scope = fc.record({ tenantId: fc.string({ minLength: 1 }), userId: fc.string({ minLength: 1 }), query: fc.string() });
const lastKey = fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.oneof(fc.string(), fc.integer()), { minKeys: 1 });

const rejects = (s: CursorScope, c: string) => {
  try {
    decodeCursor(s, c);
    return false;
  } catch (err) {
    return err instanceof DomainError && err.code === 'invalid_cursor';
  }
};

describe('cursors', () => {
  it('round-trip for the scope that minted them', () => {
    fc.assert(fc.property(scope, lastKey, (s, k) => {
        expect(decodeCursor(s, encodeCursor(s, k))).toEqual(k);
      }));
  });

  it('are refused for any other tenant, user or query', () => {
    fc.assert(
      fc.property(scope, scope, lastKey, (a, b, k) => {
        fc.pre(a.tenantId !== b.tenantId || a.userId !== b.userId || a.query !== b.query);
        expect(rejects(b, encodeCursor(a, k))).toBe(true);
      }),
    );
  });

  it('are refused after any single-character edit', () => {
    fc.assert(
      fc.property(scope, lastKey, fc.nat(), fc.constantFrom(...'ABCxyz019-_.'), (s, k, at, ch) => {
        const c = encodeCursor(s, k);
        const i = at % c.length;
        fc.pre(c[i] !== ch);
        expect(rejects(s, c.slice(0, i) + ch + c.slice(i + 1))).toBe(true);
      }),
    );
  });

  it('are refused when they are not cursors at all', () => {
    fc.assert(fc.property(scope, fc.string(), (s, junk) => {
        expect(rejects(s, junk)).toBe(true);
      }));
  });
});

describe('nameKey', () => {
  it('is case- and width-insensitive and idempotent', () => {
    expect(nameKey('ＡＣＭＥ　Inc')).toBe(nameKey('acme inc'));
    expect(nameKey('星辰科技')).toBe('星辰科技');
    fc.assert(fc.property(fc.string(), (s) => {
        expect(nameKey(nameKey(s))).toBe(nameKey(s));
      }));
    fc.assert(fc.property(fc.string(), (s) => {
        expect(nameKey(s.toUpperCase())).toBe(nameKey(s.toLowerCase()));
      }));
  });
});

describe('invertedTime', () => {
  it('sorts later times first, as fixed-width strings', () => {
    const times = fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString());
    fc.assert(
      fc.property(times, times, (a, b) => {
        fc.pre(a !== b);
        expect(invertedTime(a) < invertedTime(b)).toBe(a > b);
        expect(invertedTime(a)).toHaveLength(13);
      }),
    );
  });
});

describe('outboxShard', () => {
  it('is always a valid shard for any ULID', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (t) => {
        const shard = outboxShard(ulid(t));
        expect(Number.isInteger(shard) && shard >= 0 && shard < OUTBOX_SHARDS).toBe(true);
      }),
    );
  });
});
