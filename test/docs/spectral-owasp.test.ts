/**
 * The OpenAPI document against Spectral's OWASP API Security Top 10 2023 ruleset
 * (test/docs/owasp-ruleset.ts): 0 errors. Bounds on every string, list and integer
 * (API4:2023) are in the zod schemas the API validates with, so the document and the API agree.
 */
import { readFile } from 'node:fs/promises';
import { Document, Spectral, type ISpectralDiagnostic } from '@stoplight/spectral-core';
import Parsers from '@stoplight/spectral-parsers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OpenApiDocument } from '#functions/openapi/document.ts';
import { apiDocument } from '#functions/openapi/operations.ts';
import { DOCUMENT_SOURCE, owaspRuleset } from '#test/docs/owasp-ruleset.ts';

const ERROR = 0;
let document: OpenApiDocument;

beforeAll(async () => {
  document = (await apiDocument()).document;
});

async function lint(doc: OpenApiDocument): Promise<ISpectralDiagnostic[]> {
  const spectral = new Spectral();
  spectral.setRuleset(owaspRuleset());
  return spectral.run(new Document(JSON.stringify(doc, null, 2), Parsers.Json, DOCUMENT_SOURCE));
}

const errorsOf = (results: ISpectralDiagnostic[]) =>
  results.filter((r) => r.severity === ERROR).map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`);

describe('the OpenAPI document and the OWASP ruleset', () => {
  it('has no error (spectral.owasp.errors = 0)', async () => {
    expect(errorsOf(await lint(document))).toEqual([]);
  });

  it('would catch an unbounded string, list or integer, and a JWT scheme without RFC 8725', async () => {
    // A small document of the same frame (the whole one takes seconds to lint).
    const doc = {
      ...document,
      paths: {},
      components: {
        schemas: { Probe: { type: 'object', properties: { s: { type: 'string' }, a: { type: 'array', items: { type: 'integer' } } } } },
        responses: {},
        headers: {},
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT.' } },
      },
    } as OpenApiDocument;
    const codes = new Set((await lint(doc)).filter((r) => r.severity === ERROR).map((r) => r.code));
    for (const code of ['owasp:api4:2023-string-limit', 'owasp:api4:2023-array-limit', 'owasp:api4:2023-integer-limit', 'owasp:api4:2023-integer-format', 'owasp:api2:2023-jwt-best-practices']) {
      expect(codes, code).toContain(code);
    }
  });

  it('turns a rule off only with a written reason', async () => {
    const source = await readFile(new URL('./owasp-ruleset.ts', import.meta.url), 'utf8');
    const lines = source.split('\n');
    const offs = lines.flatMap((line, i) => (/'off'/.test(line) ? [i] : []));
    expect(offs.length).toBeGreaterThan(0);
    for (const i of offs) {
      // The reason is the comment just above the rule or its override (within the block).
      const above = lines.slice(Math.max(0, i - 12), i + 1).join('\n');
      expect(above, `line ${i + 1}: ${lines[i]!.trim()}`).toMatch(/\/\/ Reason: \S/);
    }
  });
});
