/**
 * Bundle size and start-up time of every Lambda function the stacks deploy (issue 11 point 6).
 *
 * Which functions: the CrmFunction constructs of the synthesized app (infra/build-app.ts,
 * bundling skipped), so a function added to a stack is measured without a list here.
 * How: esbuild with the stack's own options (infra/crm-function.ts BUNDLING): bundle, minify,
 * no source map (see there why), platform node, ESM, target node22, main fields module,main, the
 * `require` banner, the AWS SDK bundled, the build-time aliases (BUNDLE_ALIASES: the environment
 * credential provider; the normalizers' module from the layer, measured once as its own figure,
 * `bundle.normalizers_layer.gz_kb`). What ships: the `.mjs` (and its `.map` if the stack
 * ever ships maps again) and the files a function copies into its asset (the docs function's
 * renderer); `gz_kb` is their gzip -9 size, about what Lambda stores (the asset zip) and
 * fetches on a cold start.
 *
 * Start-up: a fresh `node` process per sample, timing `await import(bundle)` with
 * `performance.now()`, with the environment a function has (table name, region, an
 * endpoint and dummy credentials, so the DynamoDB client is created at load).
 * Samples run one after another (never in parallel, to keep the CPU to one process),
 * round-robin over the functions and the two baselines (an empty handler; the DynamoDB
 * document client alone, the reference of the `init ≤ 1.5 × baseline` target).
 *
 * Alone: `npx tsx bench/bundles.ts [--update-results]` (no DynamoDB Local needed).
 * A frame of a deployed function's stack trace back to the source:
 * `npx tsx bench/bundles.ts --where <function> <line>:<column>` (same commit as deployed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { buildApp } from '#infra/build-app.ts';
import { buildNormalizersLayer, NORMALIZERS_LAYER_PATH } from '#infra/bundling/normalizers-layer.ts';
import { BUNDLING, CrmFunction, ESBUILD_OPTIONS } from '#infra/crm-function.ts';
import { isEntry, updateResults } from './standalone.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const BUILD_DIR = path.join(REPO_ROOT, 'bench', '.build');

export type FunctionKind = 'http' | 'jobs' | 'events' | 'auth' | 'baseline';

export interface FunctionEntry {
  /** The figure's name: `bundle.<name>.gz_kb`, `init.<name>.ms`. */
  name: string;
  kind: FunctionKind;
  file: string;
  /** Files the asset holds besides the bundle, as the stack copies them: `<folder>/<basename>`. */
  /** The function has the normalizers layer (infra/bundling/normalizers-layer.ts). */
  normalizersLayer?: boolean;
  /** Built without BUNDLE_ALIASES (the SDK's own default credential chain): a reference only. */
  withoutAliases?: boolean;
}

/**
 * Every function the API and workers stacks deploy: the CrmFunctions of the app, synthesized
 * without bundling. Names are unique across kinds; a clash gets the kind as prefix.
 */
export function functionEntries(): FunctionEntry[] {
  const { app } = buildApp({ bundle: false, nag: false });
  const all = app.node
    .findAll()
    .filter((c): c is CrmFunction => c instanceof CrmFunction)
    .map(({ bundleSource: { entry, name, normalizersLayer } }): FunctionEntry => {
      const kind = path.basename(path.dirname(entry)) as FunctionKind;
      return { name, kind, file: entry, ...(normalizersLayer ? { normalizersLayer } : {}) };
    });
  const seen = new Map<string, number>();
  for (const e of all) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
  return all.map((e) => ((seen.get(e.name) ?? 0) > 1 ? { ...e, name: `${e.kind}-${e.name}` } : e));
}

export const EMPTY_HANDLER: FunctionEntry = {
  name: 'empty',
  kind: 'baseline',
  file: path.join(REPO_ROOT, 'bench', 'empty-handler.ts'),
};

/** `init.baseline_ddb.ms`: the DynamoDB document client alone. */
export const BASELINE_DDB: FunctionEntry = {
  name: 'baseline_ddb',
  kind: 'baseline',
  file: path.join(REPO_ROOT, 'bench', 'baseline-ddb.ts'),
};

/**
 * `init.baseline_ddb_sdk_chain.ms`: the same client built without BUNDLE_ALIASES, i.e. with the SDK's
 * default credential chain as a function built with the SDK's defaults has it. Reported, no target:
 * it shows how much of the gap to `init.baseline_ddb.ms` the aliases took from both sides.
 */
export const BASELINE_DDB_SDK_CHAIN: FunctionEntry = { ...BASELINE_DDB, name: 'baseline_ddb_sdk_chain', withoutAliases: true };

export interface BundleResult {
  entry: FunctionEntry;
  /** Absent when the entry file does not exist yet or the build failed. */
  outfile?: string;
  /** The minified `.mjs`. */
  bytes?: number;
  /** gzip -9 of everything the asset ships: the `.mjs` and its map, if any. */
  gzBytes?: number;
  /** gzip -9 of each part of the asset: `code`, `map`. */
  gzParts?: { code: number; map: number };
  missing?: boolean;
  error?: string;
  /** Largest inputs of the `.mjs` (bytes in the output): an npm package, or a project file. */
  topInputs?: { name: string; bytes: number }[];
}

const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;

/** Bundles one entry as the stack does; `withSourceMap` adds a linked map (not counted unless the stack ships maps). */
export async function bundle(entry: FunctionEntry, { withSourceMap = false } = {}): Promise<BundleResult> {
  if (!existsSync(entry.file)) return { entry, missing: true };
  const outdir = path.join(BUILD_DIR, withSourceMap ? 'with-maps' : '', `${entry.kind}-${entry.name}`);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, 'index.mjs');
  try {
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: [entry.file],
      outfile,
      ...ESBUILD_OPTIONS,
      mainFields: [...ESBUILD_OPTIONS.mainFields],
      sourcemap: ESBUILD_OPTIONS.sourcemap || withSourceMap,
      ...(entry.withoutAliases ? { alias: {} } : {}),
      metafile: true,
      logLevel: 'silent',
    });
    const code = gz(outfile);
    const map = BUNDLING.sourceMap ? gz(`${outfile}.map`) : 0;
    return {
      entry,
      outfile,
      bytes: statSync(outfile).size,
      gzBytes: code + map,
      gzParts: { code, map },
      topInputs: topInputs(result.metafile, outfile),
    };
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const text = errors?.length
      ? errors.slice(0, 3).map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ')
      : (err as Error).message;
    return { entry, error: text };
  }
}

/** The output's bytes by npm package (all of its files together) or by project file. */
function topInputs(meta: Metafile, outfile: string, n = 6): { name: string; bytes: number }[] {
  const key = Object.keys(meta.outputs).find((k) => path.resolve(REPO_ROOT, k) === outfile);
  const inputs = key ? meta.outputs[key]!.inputs : {};
  const byInput = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const name = m ? m[1]! : file;
    byInput.set(name, (byInput.get(name) ?? 0) + bytesInOutput);
  }
  return [...byInput.entries()]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

// ---- start-up ------------------------------------------------------------------------

/** Runs in the fresh process: times the import of the bundle and checks it exports a handler. */
const PROBE = `
const url = process.env.BENCH_BUNDLE_URL;
// The layer's file where Lambda would extract it (/opt/...): resolved to the one the bench built.
const layer = process.env.BENCH_LAYER_PATH;
if (layer) {
  const { registerHooks } = await import('node:module');
  registerHooks({ resolve: (spec, context, next) => (spec === layer ? { url: process.env.BENCH_LAYER_URL, shortCircuit: true } : next(spec, context)) });
}
const t0 = performance.now();
const mod = await import(url);
const t1 = performance.now();
if (typeof mod.handler !== 'function') { console.error('the bundle exports no handler function'); process.exit(3); }
process.stdout.write(JSON.stringify({ ms: t1 - t0 }));
`;

/** What a deployed function's environment holds (CrmFunction), with local stand-ins. */
export function functionEnvironment(name: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    TABLE_NAME: 'crm-bench',
    EVENT_BUS_NAME: 'crm-bench-bus',
    POWERTOOLS_SERVICE_NAME: `crm-${name}`,
    CURSOR_SECRET: 'bench-cursor-secret',
    AWS_REGION: 'us-east-1',
    // Only letters and digits: what DynamoDB Local accepts. Nothing is sent at load time.
    AWS_ACCESS_KEY_ID: 'benchaccesskey',
    AWS_SECRET_ACCESS_KEY: 'benchsecretkey',
    DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
  };
}

function sample(outfile: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE], {
      cwd: path.dirname(outfile),
      env: { ...env, BENCH_BUNDLE_URL: pathToFileURL(outfile).href },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`exit code ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve((JSON.parse(out) as { ms: number }).ms);
      } catch {
        reject(new Error(`unexpected output: ${out.slice(0, 200)}`));
      }
    });
  });
}

export interface InitResult {
  medianMs?: number;
  samples: number[];
  error?: string;
}

export interface InitTarget {
  outfile: string;
  env: Record<string, string>;
}

/**
 * Median load time of each target over `runs` fresh processes, after one unrecorded
 * round (cold disk cache). Samples go round-robin over the targets, one process at a
 * time, so a burst of load from elsewhere on the machine spreads over all figures
 * instead of landing on one function's samples.
 */
export async function measureInits(targets: readonly InitTarget[], runs: number): Promise<InitResult[]> {
  const results: InitResult[] = targets.map(() => ({ samples: [] }));
  for (let round = 0; round <= runs; round++) {
    for (const [i, t] of targets.entries()) {
      const r = results[i]!;
      if (r.error) continue;
      try {
        const ms = await sample(t.outfile, t.env);
        if (round > 0) r.samples.push(ms);
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
  }
  for (const r of results) if (!r.error && r.samples.length) r.medianMs = median(r.samples);
  return results;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---- the part: bundles, start-up, figures ------------------------------------------------

/** Issue 11 point 6. */
export const BUNDLE_TARGETS = {
  /** `bundle.<function>.gz_kb`: what the asset ships, gzip -9, KiB. */
  gzKb: 150,
  /** `init.<function>.ms` ≤ this × `init.baseline_ddb.ms`, measured in the same round-robin. */
  initRatio: 1.5,
};

export interface FunctionFigures {
  bundle: BundleResult;
  init?: InitResult;
}

export interface BundlesReport {
  functions: FunctionFigures[];
  empty: FunctionFigures;
  /** The normalizers layer, built as the stacks build it: its own figure, shared by the functions that have it. */
  normalizersLayer: { bytes: number; gzBytes: number };
  baseline: FunctionFigures;
  baselineSdkChain: FunctionFigures;
  /** 1-minute load average before and after the start-up measurements. */
  load: [number, number];
}

/** Bundles every function and both baselines, then times their start-up, round-robin over all of them. */
export async function measureBundles(runs: number, progress: (msg: string) => void = () => {}): Promise<BundlesReport> {
  const { loadavg } = await import('node:os');
  progress('listing the functions of the synthesized app');
  const functions: FunctionFigures[] = [];
  for (const entry of functionEntries()) {
    progress(`bundling ${path.relative(REPO_ROOT, entry.file)}`);
    functions.push({ bundle: await bundle(entry) });
  }
  const empty: FunctionFigures = { bundle: await bundle(EMPTY_HANDLER) };
  const layerDir = path.join(BUILD_DIR, 'layer-normalizers');
  rmSync(layerDir, { recursive: true, force: true });
  const layerFile = buildNormalizersLayer(layerDir, { ...ESBUILD_OPTIONS, mainFields: [...ESBUILD_OPTIONS.mainFields] });
  const normalizersLayer = { bytes: statSync(layerFile).size, gzBytes: gz(layerFile) };
  const baseline: FunctionFigures = { bundle: await bundle(BASELINE_DDB) };
  const baselineSdkChain: FunctionFigures = { bundle: await bundle(BASELINE_DDB_SDK_CHAIN) };
  const measured = [...functions, empty, baseline, baselineSdkChain].filter((f) => f.bundle.outfile);
  // A function with the layer loads it as in Lambda (a function that normalizes at load, duplicates, pays for it there).
  const withLayer = (f: FunctionFigures): Record<string, string> =>
    f.bundle.entry.normalizersLayer ? { BENCH_LAYER_PATH: NORMALIZERS_LAYER_PATH, BENCH_LAYER_URL: pathToFileURL(layerFile).href } : {};
  const targets = measured.map((f) => ({ outfile: f.bundle.outfile!, env: { ...functionEnvironment(f.bundle.entry.name), ...withLayer(f) } }));
  progress(`measuring start-up: ${runs} + 1 rounds of ${targets.length} fresh processes`);
  const before = loadavg()[0]!;
  const results = await measureInits(targets, runs);
  measured.forEach((f, i) => (f.init = results[i]));
  return { functions, empty, baseline, baselineSdkChain, normalizersLayer, load: [before, loadavg()[0]!] };
}

const round1 = (n: number) => Math.round(n * 10) / 10;
export const kib = (bytes: number) => round1(bytes / 1024);

/**
 * The part's figures: `bundle.<fn>.{kb,gz_kb}` and `init.<fn>.ms` for
 * every function and both baselines, and `init.max_ratio` (the slowest function ÷ the baseline).
 */
export function bundleFigures(report: BundlesReport, figures: Record<string, number>): void {
  for (const f of [...report.functions, report.empty, report.baseline, report.baselineSdkChain]) {
    const name = f.bundle.entry.name;
    if (f.bundle.bytes !== undefined) figures[`bundle.${name}.kb`] = kib(f.bundle.bytes);
    if (f.bundle.gzBytes !== undefined) figures[`bundle.${name}.gz_kb`] = kib(f.bundle.gzBytes);
    if (f.init?.medianMs !== undefined) figures[`init.${name}.ms`] = round1(f.init.medianMs);
  }
  figures['bundle.normalizers_layer.kb'] = kib(report.normalizersLayer.bytes);
  figures['bundle.normalizers_layer.gz_kb'] = kib(report.normalizersLayer.gzBytes);
  // What a function with the layer ships in all (its bundle + the layer), not held to the 150 of the bundle alone.
  for (const f of report.functions) {
    if (f.bundle.entry.normalizersLayer && f.bundle.gzBytes !== undefined) {
      figures[`bundle.${f.bundle.entry.name}.with_layers_gz_kb`] = kib(f.bundle.gzBytes + report.normalizersLayer.gzBytes);
    }
  }
  const base = report.baseline.init?.medianMs;
  const inits = report.functions.map((f) => f.init?.medianMs).filter((ms) => ms !== undefined);
  if (base && inits.length) figures['init.max_ratio'] = Math.round((Math.max(...inits) / base) * 100) / 100;
  const sizes = report.functions.map((f) => f.bundle.gzBytes).filter((b) => b !== undefined);
  if (sizes.length) figures['bundle.max.gz_kb'] = kib(Math.max(...sizes));
}

/** Notes: each function's biggest inputs (by the metafile), what the asset's gzip is made of, the load. */
export function bundleNotes(report: BundlesReport): string[] {
  const notes: string[] = [];
  const byGz = [...report.functions].sort((a, b) => (b.bundle.gzBytes ?? 0) - (a.bundle.gzBytes ?? 0));
  notes.push('Biggest inputs of each bundle (KiB of minified output, by the esbuild metafile), largest asset first; gz = code + map:');
  for (const f of byGz) {
    const b = f.bundle;
    if (!b.topInputs || !b.gzParts) continue;
    const parts = `${kib(b.gzParts.code)} + ${kib(b.gzParts.map)}`;
    const inputs = b.topInputs.map((i) => `${i.name} ${kib(i.bytes)}`).join(', ');
    const layer = b.entry.normalizersLayer ? ` + normalizers layer ${kib(report.normalizersLayer.gzBytes)}` : '';
    notes.push(`  ${b.entry.kind}/${b.entry.name}: gz ${kib(b.gzBytes!)} (${parts})${layer}; ${inputs}`);
  }
  const [before, after] = report.load;
  notes.push(`load average ${before.toFixed(2)} before / ${after.toFixed(2)} after the start-up measurements: init figures are indicative on a busy machine, their ratio to init.baseline_ddb.ms less so.`);
  return notes;
}

/** `--where <function> <line>:<column>`: the source position of a frame of the deployed bundle. */
async function where(name: string | undefined, position: string | undefined): Promise<void> {
  const [line, column] = (position ?? '').split(':').map(Number);
  const entry = functionEntries().find((e) => e.name === name || `${e.kind}/${e.name}` === name);
  if (!entry || !line || !column) throw new Error('usage: --where <function> <line>:<column>, e.g. --where accounts 2:23456');
  const built = await bundle(entry, { withSourceMap: true });
  if (!built.outfile) throw new Error(built.error ?? 'no bundle');
  const { SourceMap } = await import('node:module');
  const map = new SourceMap(JSON.parse(readFileSync(`${built.outfile}.map`, 'utf8')));
  const found = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number; name?: string };
  if (!found.originalSource) throw new Error(`no source position at ${line}:${column}`);
  const source = path.relative(REPO_ROOT, path.resolve(path.dirname(built.outfile), found.originalSource));
  console.log(`${source}:${found.originalLine! + 1}:${found.originalColumn! + 1}${found.name ? ` (${found.name})` : ''}`);
}

/** `npx tsx bench/bundles.ts [--update-results]`: this part alone. */
async function standalone(): Promise<void> {
  const at = process.argv.indexOf('--where');
  if (at > 0) return where(process.argv[at + 1], process.argv[at + 2]);
  const runs = Number(process.env.BENCH_INIT_RUNS ?? 7);
  const report = await measureBundles(runs, (msg) => process.stderr.write(`bundles: ${msg}\n`));
  const figures: Record<string, number> = { 'bench.init_runs': runs };
  bundleFigures(report, figures);
  console.log(JSON.stringify(figures, null, 2));
  for (const n of bundleNotes(report)) console.log(n);
  const base = figures['init.baseline_ddb.ms'];
  for (const f of report.functions) {
    const name = f.bundle.entry.name;
    const gzKb = figures[`bundle.${name}.gz_kb`];
    const ms = figures[`init.${name}.ms`];
    if (gzKb === undefined || gzKb > BUNDLE_TARGETS.gzKb) console.log(`MISS bundle.${name}.gz_kb = ${gzKb ?? f.bundle.error ?? 'missing'}, target ${BUNDLE_TARGETS.gzKb}`);
    if (base !== undefined && (ms === undefined || ms > BUNDLE_TARGETS.initRatio * base)) {
      console.log(`MISS init.${name}.ms = ${ms ?? f.init?.error ?? 'missing'}, target ${BUNDLE_TARGETS.initRatio} × ${base}`);
    }
  }
  if (process.argv.includes('--update-results')) await updateResults(figures, ['bundle.', 'init.', 'init_no_source_maps.']);
}

if (isEntry(import.meta.url)) {
  standalone().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
