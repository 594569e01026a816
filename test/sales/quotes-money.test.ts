/**
 * Money (domain/sales/money.ts), as properties (fast-check): amounts at the edge are
 * numbers in major units with at most 2 decimals, inside they are integer minor units;
 * parse and format are exact inverses, sums are exact to the cent, and quote lines round
 * half up, each on its own. Pure functions, no I/O.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as money from '#domain/sales/money.ts';
import type { Minor } from '#domain/sales/money.ts';

const minor = (max = money.MAX_MINOR as number) => fc.integer({ min: 0, max }).map((n) => n as Minor);

describe('parse and format', () => {
  it('minor → JSON number → minor is the identity over the whole range', () => {
    fc.assert(
      fc.property(minor(), (m) => {
        const major = money.fromMinor(m);
        expect(money.toMinor(major)).toBe(m);
        // What a client gets back and sends again, through JSON text.
        expect(money.toMinor(JSON.parse(JSON.stringify({ a: major })).a)).toBe(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('the edges of the range', () => {
    for (const m of [0, 1, 9, 10, 99, 100, 101, 999_999_999_999_999]) {
      expect(money.toMinor(money.fromMinor(m as Minor))).toBe(m);
    }
    expect(money.fromMinor(money.MAX_MINOR)).toBe(money.MAX_MAJOR);
    expect(money.toMinor(money.MAX_MAJOR + 0.01)).toBeUndefined();
  });

  it('formatMinor writes exactly 2 decimals and parseMinor reads it back', () => {
    fc.assert(
      fc.property(minor(), (m) => {
        const text = money.formatMinor(m);
        expect(text).toMatch(/^\d+\.\d{2}$/);
        expect(money.parseMinor(text)).toBe(m);
        // The text and the number agree digit for digit.
        expect(Number(text)).toBe(money.fromMinor(m));
      }),
      { numRuns: 2000 },
    );
  });

  it('more than 2 decimals is refused, whatever the digits', () => {
    fc.assert(
      fc.property(minor(999_999_999_999), fc.integer({ min: 1, max: 9 }), (m, digit) => {
        const value = Number(`${money.formatMinor(m)}${digit}`);
        expect(money.toMinor(value)).toBeUndefined();
        expect(money.parseMinor(`${money.formatMinor(m)}${digit}`)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
    for (const v of [0.1 + 0.2, 1.005, 1e-7, 0.001, 33.333, Number.EPSILON, -0.01, -1, Infinity, Number.NaN, 1e21]) {
      expect(money.toMinor(v), String(v)).toBeUndefined();
    }
    expect(money.toMinor(-0)).toBe(0);
    expect(money.toMinor(1.1)).toBe(110);
    expect(money.toMinor(1.10)).toBe(110);
  });
});

describe('sums are exact to the cent', () => {
  it('the sum of amounts is the exact sum of their cents (floating point would drift)', () => {
    fc.assert(
      fc.property(fc.array(minor(100_000_000), { maxLength: 200 }), (amounts) => {
        const exact = amounts.reduce((s, a) => s + BigInt(a), 0n);
        const total = money.sum(amounts);
        expect(BigInt(total)).toBe(exact);
        expect(money.formatMinor(total)).toBe(money.formatMinor(exact));
      }),
      { numRuns: 500 },
    );
    // The classic: ten payments of 0.1 are 1.00, not 0.9999999999999999.
    expect(money.fromMinor(money.sum(Array.from({ length: 10 }, () => money.toMinor(0.1)!)))).toBe(1);
    expect(Array.from({ length: 10 }, () => 0.1).reduce((a, b) => a + b, 0)).not.toBe(1);
  });

  it('add and subtract are inverse and stay in range, or throw', () => {
    fc.assert(
      fc.property(minor(), minor(), (a, b) => {
        if (BigInt(a) + BigInt(b) <= BigInt(money.MAX_MINOR)) expect(money.subtract(money.add(a, b), b)).toBe(a);
        else expect(() => money.add(a, b)).toThrow(RangeError);
      }),
    );
    expect(() => money.subtract(1 as Minor, 2 as Minor)).toThrow(RangeError);
  });
});

describe('quote lines: half up, per line', () => {
  const line = fc.record({
    unitPrice: minor(1_000_000_00),
    quantityMilli: fc.bigInt({ min: 1n, max: 1_000_000_000n }),
    discountBp: fc.bigInt({ min: 0n, max: 10_000n }),
  });

  it('subtotal = quantity × unit price, rounded to the cent, a half cent up', () => {
    fc.assert(
      fc.property(line, (l) => {
        const { subtotal } = money.lineTotals(l);
        // In thousandths of a cent: the error is within half a cent, and an exact half rounds up.
        const exact = BigInt(l.unitPrice) * l.quantityMilli;
        const diff = subtotal * 1000n - exact;
        expect(diff > -500n && diff <= 500n, `${l.unitPrice} × ${l.quantityMilli}/1000 → ${subtotal}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('discount = subtotal × pct / 100, rounded the same way; total = subtotal − discount, never negative', () => {
    fc.assert(
      fc.property(line, (l) => {
        const { subtotal, discount, total } = money.lineTotals(l);
        const exact = subtotal * l.discountBp; // in 1/10000 of a cent
        const diff = discount * 10_000n - exact;
        expect(diff > -5_000n && diff <= 5_000n).toBe(true);
        expect(total).toBe(subtotal - discount);
        expect(total >= 0n).toBe(true);
        if (l.discountBp === 0n) expect(discount).toBe(0n);
        if (l.discountBp === 10_000n) expect(total).toBe(0n);
      }),
      { numRuns: 2000 },
    );
  });

  it("a document's totals are the exact sums of its rounded lines", () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 50 }), (lines) => {
        const each = lines.map(money.lineTotals);
        const doc = money.documentTotals(each);
        expect(doc.subtotal).toBe(each.reduce((s, x) => s + x.subtotal, 0n));
        expect(doc.discount).toBe(each.reduce((s, x) => s + x.discount, 0n));
        expect(doc.total).toBe(doc.subtotal - doc.discount);
      }),
    );
  });

  it('worked examples of the rule', () => {
    const t = (price: number, qty: number, pct = 0) =>
      money.lineTotals({ unitPrice: money.toMinor(price)!, quantityMilli: money.toScaled(qty, 3)!, discountBp: money.toScaled(pct, 2)! });
    // 1.5 × 0.67 = 1.005 → 1.01 (half up), not 1.00 (half even, or 1.5 * 0.67 = 1.0050000000000001 truncated).
    expect(t(0.67, 1.5)).toEqual({ subtotal: 101n, discount: 0n, total: 101n });
    // 2.5 × 0.01 = 0.025 → 0.03; 0.5 × 0.01 = 0.005 → 0.01.
    expect(t(0.01, 2.5).subtotal).toBe(3n);
    expect(t(0.01, 0.5).subtotal).toBe(1n);
    // 2.5 days at 1,999.99 = 4,999.975 → 4,999.98; 12.5 % of it = 624.9975 → 625.00.
    expect(t(1999.99, 2.5, 12.5)).toEqual({ subtotal: 499998n, discount: 62500n, total: 437498n });
    // 10 % of 0.05 = 0.005 → 0.01; 10 % of 0.04 = 0.004 → 0.00.
    expect(t(0.05, 1, 10).discount).toBe(1n);
    expect(t(0.04, 1, 10).discount).toBe(0n);
    // A third of a unit: 0.333 × 100.00 = 33.30.
    expect(t(100, 0.333).subtotal).toBe(3330n);
  });
});

describe('edge schemas', () => {
  it('amount(1) refuses zero; amount(0) accepts it; both refuse more than 2 decimals and negatives', () => {
    expect(money.amount(0).safeParse(0).data).toBe(0);
    expect(money.amount(1).safeParse(0).success).toBe(false);
    expect(money.amount(1).safeParse(0.01).data).toBe(1);
    for (const v of [-0.01, 0.001, 1.005, '1', null]) {
      expect(money.amount(0).safeParse(v).success, String(v)).toBe(false);
    }
  });

  it('quantity: > 0 with at most 3 decimals; discountPct: 0..100 with at most 2', () => {
    expect(money.quantity.safeParse(2.5).data).toBe(2500n);
    expect(money.quantity.safeParse(0.001).data).toBe(1n);
    for (const v of [0, -1, 0.0001, 1e10]) expect(money.quantity.safeParse(v).success, String(v)).toBe(false);
    expect(money.discountPct.safeParse(12.5).data).toBe(1250n);
    expect(money.discountPct.safeParse(100).data).toBe(10000n);
    for (const v of [-1, 100.01, 12.345]) expect(money.discountPct.safeParse(v).success, String(v)).toBe(false);
  });

  it('currency: ISO 4217 codes in any case, upper case out', () => {
    expect(money.currency.safeParse('cny').data).toBe('CNY');
    expect(money.currency.safeParse(' USD ').data).toBe('USD');
    for (const v of ['RMB', 'XXXX', 'US', '123', '']) expect(money.currency.safeParse(v).success, v).toBe(false);
  });

  it('scaled values go back to the numbers they came from', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000_000_000 }), (n) => {
        const qty = money.fromScaled(BigInt(n), 3);
        expect(money.toScaled(qty, 3)).toBe(BigInt(n));
      }),
    );
  });
});
