/**
 * Start-up (issue 11 point 6): loading a function builds no zod schema but the `z.lazy` wrappers
 * of exported schemas (the convention of domain/fields.ts's header). Building every schema of every
 * imported module was a third of a function's start-up; a module that builds one again at its top
 * level fails here, named by the kind of schema it built.
 *
 * How: zod's `postProcessor` hook (`z.config`) sees every schema built; each Lambda entry module is
 * then imported for the first time in this file's fresh module graph.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';

const built: { type: string; entry: string }[] = [];
let loading = '(none)';
z.config({ postProcessor: (schema: { _zod: { def: { type: string } } }) => void built.push({ type: schema._zod.def.type, entry: loading }) });

const ROOT = path.join(import.meta.dirname, '..', '..');
const entries = ['http', 'jobs', 'events', 'auth'].flatMap((kind) =>
  readdirSync(path.join(ROOT, 'functions', kind))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `functions/${kind}/${f}`),
);

describe('schemas at load', () => {
  it('the hook sees a schema built (control)', () => {
    const before = built.length;
    z.string();
    expect(built.length).toBe(before + 1);
  });

  it('no Lambda entry module builds a schema at load other than a z.lazy wrapper', async () => {
    expect(entries.length).toBeGreaterThan(40);
    for (const entry of entries) {
      loading = entry;
      await import(path.join(ROOT, entry));
    }
    loading = '(none)';
    const eager = built.filter((b) => b.type !== 'lazy' && b.entry !== '(none)');
    expect(eager, 'schemas built at load: make them z.lazy / builtOnFirstUse (domain/fields.ts header)').toEqual([]);
    // Loading them built the lazy wrappers, so the hook did watch the imports.
    expect(built.filter((b) => b.type === 'lazy').length).toBeGreaterThan(100);
  });
});
