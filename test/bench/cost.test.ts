/** The cost model (issue 11 point 10): docs/cost.md is what `npm run cost` writes from bench/results.json. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COST_DOC, RESULTS_FILE, renderCostDoc, runsPerMonth, tenantMonth, USAGE } from '../../bench/cost.ts';

const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Record<string, number>;

describe('cost model', () => {
  it('docs/cost.md is up to date with bench/results.json (run `npm run cost`)', () => {
    expect(readFileSync(COST_DOC, 'utf8')).toBe(renderCostDoc(results));
  });

  it('counts schedule runs from the cron expressions', () => {
    expect(runsPerMonth('* * * * *')).toBe(30 * 24 * 60);
    expect(runsPerMonth('*/15 * * * *')).toBe(30 * 24 * 4);
    expect(runsPerMonth('5 * * * *')).toBe(30 * 24);
  });

  it('grows with usage: a tenant of 50 users costs more than one of 10, every line at least as much', () => {
    const small = tenantMonth(results, 10);
    const large = tenantMonth(results, 50);
    small.forEach((line, i) => expect(large[i]!.usd, line.item).toBeGreaterThanOrEqual(line.usd));
    expect(large.reduce((s, l) => s + l.usd, 0)).toBeGreaterThan(small.reduce((s, l) => s + l.usd, 0));
  });

  it('refuses to guess a figure the bench did not measure', () => {
    const { ['duration.accounts.get.ms']: _gone, ...partial } = results;
    expect(USAGE.perUserPerDay['accounts.get']).toBeGreaterThan(0);
    expect(() => tenantMonth(partial, 10)).toThrow(/duration\.accounts\.get\.ms/);
  });
});
