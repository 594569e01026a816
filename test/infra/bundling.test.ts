/**
 * Real bundling (esbuild, no Docker), in two parts so it stays quick:
 *
 *  1. every function entry the stacks deploy, built in ONE esbuild run with the stack's own
 *     options (infra/crm-function.ts `BUNDLING`, as `ESBUILD_OPTIONS`): each output is an ESM bundle with the `require`
 *     banner that exports `handler` (a build that fails names the entry);
 *  2. the CDK path itself, NodejsFunction bundling for real, for the docs function (its S3 assets:
 *     the OpenAPI document built at synth time, Swagger UI's files) and one plain function; every
 *     other entry points at a one-line placeholder, so the app still synthesizes whole.
 *
 * Building each of the 50-odd functions through CDK (one esbuild process each) took 70-90 s of
 * `npm test`; the bundles themselves are the same in both (bench/bundles.ts builds them the same way).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { assetSource, DOCS_ASSETS, DOCS_OBJECTS, documentBytes, OPENAPI_DOCUMENT } from '#functions/openapi/assets.ts';
import { apiDocument } from '#functions/openapi/operations.ts';
import { buildApp } from '#infra/build-app.ts';
import { buildNormalizersLayer, NORMALIZERS_LAYER_PATH, normalizes } from '#infra/bundling/normalizers-layer.ts';
import { ESBUILD_OPTIONS, functionEntry } from '#infra/crm-function.ts';
import { expectedEntries, missingEntries, resourcesOfType, type CfnTemplate } from './support.ts';

const missing = missingEntries();
const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const PLACEHOLDER = path.join(import.meta.dirname, 'fixtures', 'placeholder-handler.ts');
/** Bundled by CDK for real in part 2: the docs function (its S3 assets) and one plain function. */
const REAL = new Set([functionEntry('http', 'docs'), functionEntry('http', 'accounts')]);

/** The banner and the handler export every deployed bundle must have. */
function expectLambdaBundle(code: string, what: string): void {
  expect(code.startsWith('import { createRequire }'), `${what}: banner`).toBe(true);
  expect(code, `${what}: exports handler`).toMatch(/export\s*\{[^}]*\bhandler\b/);
}

describe('real bundling', () => {
  it.skipIf(missing.length > 0)('every function entry bundles with the stack\'s esbuild options: ESM, the require banner, a handler export', async () => {
    const entries = [...new Set(expectedEntries())];
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'crm-esbuild-'));
    const names = new Map(entries.map((file) => [path.relative(REPO_ROOT, file).replace(/\.ts$/, '').replaceAll(path.sep, '__'), file]));
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: Object.fromEntries(names),
      outdir,
      outExtension: { '.js': '.mjs' },
      ...ESBUILD_OPTIONS,
      mainFields: [...ESBUILD_OPTIONS.mainFields],
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    for (const [name, file] of names) {
      const code = readFileSync(path.join(outdir, `${name}.mjs`), 'utf8');
      expectLambdaBundle(code, path.relative(REPO_ROOT, file));
      // NORMALIZING_FUNCTIONS is exact: a listed function loads the layer, an unlisted one must not
      // (it would fail in Lambda).
      const loadsLayer = code.includes(NORMALIZERS_LAYER_PATH);
      expect(loadsLayer, `${path.relative(REPO_ROOT, file)}: loads the normalizers layer iff NORMALIZING_FUNCTIONS names it`).toBe(normalizes(file));
    }
  });

  it('the normalizers layer\'s module, built as the stacks build it, runs alone and keeps the data builds (private suffixes too)', async () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'crm-layer-'));
    const file = buildNormalizersLayer(outdir, { ...ESBUILD_OPTIONS, mainFields: [...ESBUILD_OPTIONS.mainFields] });
    const lib = (await import(pathToFileURL(file).href)) as typeof import('#domain/accounts/normalizer-libraries.ts');
    expect(lib.getDomain('www.example.co.uk')).toBe('example.co.uk');
    // foo.github.io and bar.github.io are two domains, not one (the private part of the list, as domain/accounts/normalize.ts asks).
    expect(lib.getDomain('foo.github.io', { allowPrivateDomains: true })).toBe('foo.github.io');
    expect(lib.parsePhoneNumberFromString('+44 20 7946 0958')?.number).toBe('+442079460958');
  });

  it.skipIf(missing.length > 0)(
    'CDK stages each function as a zip asset: bundled for real (no source map), the others beside them; the docs function\'s files are S3 file assets, the document the local runtime serves',
    async () => {
      const outdir = mkdtempSync(path.join(os.tmpdir(), 'crm-cdk-bundle-'));
      const { api, workers } = buildApp({
        bundle: true,
        nag: false,
        outdir,
        entry: (kind, name) => {
          const real = functionEntry(kind, name);
          return REAL.has(real) ? real : PLACEHOLDER;
        },
      });
      const fns = [api, workers].flatMap((stack) => {
        const t = Template.fromStack(stack).toJSON() as CfnTemplate;
        // Each stack's asset manifest maps each code asset (S3 key = <hash>.zip) to its staged directory.
        const manifest = JSON.parse(readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8'));
        return resourcesOfType(t, 'AWS::Lambda::Function').map(([id, fn]) => [id, fn, manifest, t] as const);
      });
      expect(fns.length).toBe(expectedEntries().length);
      let docsBundles = 0;
      let realBundles = 0;
      for (const [id, fn, manifest, template] of fns) {
        const hash = String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '');
        const asset = manifest.files[hash];
        expect(asset, `${id}: asset ${hash} in the manifest`).toBeDefined();
        expect(asset.source.packaging).toBe('zip');
        const assetDir = path.join(outdir, asset.source.path);
        const bundle = path.join(assetDir, 'index.mjs');
        expect(existsSync(bundle), `${id}: ${bundle}`).toBe(true);
        expect(existsSync(`${bundle}.map`), `${id}: no source map ships`).toBe(false);
        expectLambdaBundle(readFileSync(bundle, 'utf8'), id);
        if (fn.Properties!.Description === 'HTTP: accounts') {
          realBundles++;
          // The normalizers' data comes from the stack's layer, built for real beside the functions.
          const layers = fn.Properties!.Layers as { Ref: string }[];
          expect(layers).toHaveLength(1);
          const layer = template.Resources[layers[0]!.Ref]!;
          expect(layer.Type).toBe('AWS::Lambda::LayerVersion');
          const layerAsset = manifest.files[String(layer.Properties!.Content.S3Key).replace(/\.zip$/, '')];
          expect(layerAsset.source.packaging).toBe('zip');
          const layerFile = path.join(outdir, layerAsset.source.path, path.relative('/opt', NORMALIZERS_LAYER_PATH));
          expect(/export\s*\{[^}]*\bgetDomain\b/.test(readFileSync(layerFile, 'utf8')), `${layerFile} exports getDomain`).toBe(true);

          // BUNDLE_ALIASES reach CDK's esbuild too: the environment provider, not the default chain's other links.
          const code = readFileSync(bundle, 'utf8');
          expect(code).toContain('AWS_SECRET_ACCESS_KEY');
          for (const link of ['AWS_WEB_IDENTITY_TOKEN_FILE', 'sso_start_url', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) expect(code, link).not.toContain(link);
          expect(code).toContain(`import("${NORMALIZERS_LAYER_PATH}")`);
        }
        if (fn.Properties!.Description !== 'HTTP: docs') continue;
        docsBundles++;
        // The function carries neither the renderer nor the handlers the document describes: it reads S3 assets,
        // each staged as the file itself (packaging `file`, uploaded as is), under the key its environment names.
        const code = readFileSync(bundle, 'utf8');
        expect(code).not.toContain('Minified React error');
        expect(code).not.toContain('createAccount');
        const keys = JSON.parse(fn.Properties!.Environment.Variables[DOCS_OBJECTS]) as Record<string, string>;
        const staged = (name: string) => {
          const file = manifest.files[keys[name]!.replace(/\.\w+$/, '')];
          expect(file?.source.packaging, name).toBe('file');
          expect(file.destinations[Object.keys(file.destinations)[0]!].objectKey, name).toBe(keys[name]);
          return readFileSync(path.join(outdir, file.source.path));
        };
        expect(keys[OPENAPI_DOCUMENT]).toMatch(/\.json$/);
        // Built at synth time, the same bytes the local runtime serves (same answers, same ETag).
        expect(staged(OPENAPI_DOCUMENT).equals(documentBytes((await apiDocument()).document))).toBe(true);
        for (const a of DOCS_ASSETS) expect(staged(a.name).equals(readFileSync(assetSource(a))), a.name).toBe(true);
      }
      expect(docsBundles).toBe(1);
      expect(realBundles).toBe(1);
    },
    // A hang guard: one esbuild process per function (most of them the placeholder) on a loaded machine.
    300_000,
  );
});
