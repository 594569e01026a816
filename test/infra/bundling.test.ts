/**
 * The one test that bundles for real (esbuild, no Docker): every function entry becomes
 * an ESM asset with the `require` banner and no source map. Needs every entry file of the
 * route/schedule/consumer tables to exist; until then it is skipped and says which are missing.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DOCS_ASSETS } from '#functions/openapi/assets.ts';
import { buildApp } from '#infra/build-app.ts';
import { missingEntries, resourcesOfType, type CfnTemplate } from './support.ts';

const missing = missingEntries();

describe('real bundling', () => {
  it.skipIf(missing.length > 0)(
    `bundles every function into an ESM asset${missing.length ? ` (skipped, missing: ${missing.map((f) => path.relative(process.cwd(), f)).join(', ')})` : ''}`,
    () => {
      const outdir = mkdtempSync(path.join(os.tmpdir(), 'crm-cdk-bundle-'));
      const { api, workers } = buildApp({ bundle: true, nag: false, outdir });
      const fns = [api, workers].flatMap((stack) => {
        const t = Template.fromStack(stack).toJSON() as CfnTemplate;
        // Each stack's asset manifest maps each code asset (S3 key = <hash>.zip) to its staged directory.
        const manifest = JSON.parse(readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8'));
        return resourcesOfType(t, 'AWS::Lambda::Function').map(([id, fn]) => [id, fn, manifest] as const);
      });
      expect(fns.length).toBeGreaterThan(0);
      let docsBundles = 0;
      for (const [id, fn, manifest] of fns) {
        const hash = String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '');
        const asset = manifest.files[hash];
        expect(asset, `${id}: asset ${hash} in the manifest`).toBeDefined();
        expect(asset.source.packaging).toBe('zip');
        const assetDir = path.join(outdir, asset.source.path);
        const bundle = path.join(assetDir, 'index.mjs');
        expect(existsSync(bundle), `${id}: ${bundle}`).toBe(true);
        // No source map ships (infra/crm-function.ts BUNDLING: the issue's 150 KB per function).
        expect(existsSync(`${bundle}.map`), `${id}: no source map`).toBe(false);
        const code = readFileSync(bundle, 'utf8');
        expect(code, `${id}: no source map link`).not.toContain('sourceMappingURL');
        expect(code.startsWith('import { createRequire }'), `${id}: banner`).toBe(true);
        expect(code, `${id}: exports handler`).toMatch(/export\s*\{[^}]*\bhandler\b/);
        // The reference page's renderer is in the docs function's bundle, and in no other.
        const isDocs = fn.Properties!.Description === 'HTTP: docs';
        if (isDocs) docsBundles++;
        for (const a of DOCS_ASSETS) expect(existsSync(path.join(assetDir, 'docs-assets', a.name)), `${id}: docs-assets/${a.name}`).toBe(isDocs);
      }
      expect(docsBundles).toBe(1);
    },
    // A hang guard: 26 bundles take about 30 s alone, and passed 180 s once on a machine loaded to 15.
    400_000,
  );
});
