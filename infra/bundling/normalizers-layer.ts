/**
 * The phone and domain normalizers' data (libphonenumber-js `min` metadata, the public suffix
 * list of tldts with its private suffixes), about 74 KB gzip, as ONE Lambda layer instead of a
 * copy inside each function that normalizes (issue 11 point 6). The data builds are unchanged:
 * a smaller one would change which phones and domains count as the same.
 *
 * How: every bundle imports `domain/accounts/normalizer-libraries.ts` (which `loadNormalizers()`
 * loads on the first request that normalizes) from the layer's path instead of bundling it
 * (an esbuild alias to an external path, infra/crm-function.ts BUNDLE_ALIASES); the layer is that
 * module bundled alone with the same options. Only bundles see this: the local runtime and the
 * tests import the module from the sources.
 *
 * Which functions get the layer (infra/crm-function.ts): the ones named below. test/infra/bundling.test.ts checks the
 * list against the bundles (each listed bundle loads the layer, no other one may).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildSync, type BuildOptions } from 'esbuild';

const REPO_ROOT = path.join(import.meta.dirname, '..', '..');

/** The module the layer holds, as the sources name it. */
export const NORMALIZER_LIBRARIES = path.join(REPO_ROOT, 'domain', 'accounts', 'normalizer-libraries.ts');
/** Where it is in the layer's zip; Lambda extracts layers under /opt. */
const LAYER_FILE = 'crm/normalizer-libraries.mjs';
export const NORMALIZERS_LAYER_PATH = `/opt/${LAYER_FILE}`;

/** The functions that normalize phones or domains: by kind, the entry's file name. */
export const NORMALIZING_FUNCTIONS = {
  http: ['accounts', 'contacts', 'leads', 'duplicates', 'intake'],
  jobs: ['import-runner', 'workflow-runner'],
  events: ['imports', 'workflows'],
  auth: [],
} as const satisfies Record<'http' | 'jobs' | 'events' | 'auth', readonly string[]>;

/** Whether the function of this entry file normalizes (gets the layer). */
export function normalizes(entry: string): boolean {
  const kind = path.basename(path.dirname(entry)) as keyof typeof NORMALIZING_FUNCTIONS;
  const names: readonly string[] = NORMALIZING_FUNCTIONS[kind] ?? [];
  return path.dirname(path.dirname(entry)) === path.join(REPO_ROOT, 'functions') && names.includes(path.basename(entry, '.ts'));
}

/**
 * Bundles the layer's module into `outputDir` as the layer's zip holds it, with the functions'
 * esbuild options (infra/crm-function.ts ESBUILD_OPTIONS); returns the file.
 */
export function buildNormalizersLayer(outputDir: string, options: BuildOptions): string {
  const outfile = path.join(outputDir, LAYER_FILE);
  mkdirSync(path.dirname(outfile), { recursive: true });
  buildSync({
    absWorkingDir: REPO_ROOT,
    entryPoints: [NORMALIZER_LIBRARIES],
    outfile,
    ...options,
    logLevel: 'error',
  });
  return outfile;
}
