/**
 * What a module used to build at load is built on first use (issue 11 point 6): once, and only
 * when asked for. The event types known without the catalog are exactly the catalog's.
 */
import { describe, expect, it } from 'vitest';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { eventCatalog } from '#events/catalog.ts';
import { ALL_EVENT_TYPES } from '#events/consumers.ts';
import { eventTypes, isEventType } from '#events/descriptions.ts';

describe('builtOnFirstUse', () => {
  it('builds nothing until asked, then once, and gives the same value every time', () => {
    let builds = 0;
    const value = builtOnFirstUse(() => ({ n: ++builds }));
    expect(builds).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(builds).toBe(1);
  });

  it('keeps a built undefined instead of building again', () => {
    let builds = 0;
    const value = builtOnFirstUse(() => void builds++);
    value();
    value();
    expect(builds).toBe(1);
  });
});

describe('event types without the catalog', () => {
  it('the descriptions name exactly the catalog types, with their versions', () => {
    const catalog = eventCatalog();
    expect([...ALL_EVENT_TYPES].sort()).toEqual(Object.keys(catalog).sort());
    expect(eventTypes().map((e) => [e.type, e.version])).toEqual(
      Object.keys(catalog)
        .sort()
        .map((type) => [type, catalog[type as keyof typeof catalog].version]),
    );
    expect(isEventType('account.created')).toBe(true);
    expect(isEventType('toString')).toBe(false);
  });
});
