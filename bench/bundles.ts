/**
 * Bundle size and start-up time of every Lambda entry.
 *
 * Bundles are built with esbuild exactly as the CDK stack's NodejsFunction does
 * (infra/crm-function.ts): bundle, minify, linked external source map, platform node,
 * ESM, target node22, main fields module,main, the `require` banner, the AWS SDK bundled.
 * The size counted is the `.mjs` file alone (the map is not deployed code that loads).
 *
 * Start-up: a fresh `node` process per sample, timing `await import(bundle)` with
 * `performance.now()`, with the environment a function has (table name, region, an
 * endpoint and dummy credentials, so the DynamoDB client is created at load), and with
 * `--enable-source-maps` as the functions' NODE_OPTIONS set it in the cloud.
 * Samples run one after another (never in parallel, to keep the CPU to one process),
 * round-robin over the functions.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { httpFunctions } from '#functions/routes.ts';
import { schedules } from '#events/schedules.ts';
import { consumers } from '#events/consumers.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const BUILD_DIR = path.join(REPO_ROOT, 'bench', '.build');

/** The same banner as the CDK stack: ESM bundles have no `require`, some CommonJS dependencies call it. */
const BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface FunctionEntry {
  /** The figure's name: `bundle.<name>.kb`, `init.<name>.ms`. */
  name: string;
  kind: 'http' | 'jobs' | 'events' | 'auth' | 'baseline';
  file: string;
}

/**
 * Every entry the API and workers stacks deploy, from the same tables it reads: one HTTP
 * function per resource group, the health check, the authorizer, each scheduled job, each event
 * consumer and the outbox relay. Names are unique across kinds; a clash gets the kind as prefix.
 */
export function functionEntries(): FunctionEntry[] {
  const entry = (kind: 'http' | 'jobs' | 'events' | 'auth', name: string): FunctionEntry => ({
    name,
    kind,
    file: path.join(REPO_ROOT, 'functions', kind, `${name}.ts`),
  });
  const all = [
    ...Object.keys(httpFunctions).map((n) => entry('http', n)),
    entry('http', 'health'),
    entry('auth', 'authorizer'),
    ...schedules.map((s) => entry('jobs', s.name)),
    ...consumers.map((c) => entry('events', c.name)),
    entry('events', 'outbox-relay'),
  ];
  const seen = new Map<string, number>();
  for (const e of all) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
  return all.map((e) => ((seen.get(e.name) ?? 0) > 1 ? { ...e, name: `${e.kind}-${e.name}` } : e));
}

export const EMPTY_HANDLER: FunctionEntry = {
  name: 'empty',
  kind: 'baseline',
  file: path.join(REPO_ROOT, 'bench', 'empty-handler.ts'),
};

export interface BundleResult {
  entry: FunctionEntry;
  /** Absent when the entry file does not exist yet or the build failed. */
  outfile?: string;
  bytes?: number;
  missing?: boolean;
  error?: string;
  /** Largest contributors to the bundle, by package (bytes in the output). */
  topPackages?: { name: string; bytes: number }[];
}

export async function bundle(entry: FunctionEntry): Promise<BundleResult> {
  if (!existsSync(entry.file)) return { entry, missing: true };
  const outdir = path.join(BUILD_DIR, `${entry.kind}-${entry.name}`);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, 'index.mjs');
  try {
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: [entry.file],
      outfile,
      bundle: true,
      minify: true,
      sourcemap: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      mainFields: ['module', 'main'],
      banner: { js: BANNER },
      external: [],
      metafile: true,
      logLevel: 'silent',
    });
    return { entry, outfile, bytes: statSync(outfile).size, topPackages: topPackages(result.metafile, outfile) };
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const text = errors?.length
      ? errors.slice(0, 3).map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)).join('; ')
      : (err as Error).message;
    return { entry, error: text };
  }
}

function topPackages(meta: Metafile, outfile: string, n = 4): { name: string; bytes: number }[] {
  const key = Object.keys(meta.outputs).find((k) => path.resolve(REPO_ROOT, k) === outfile);
  const inputs = key ? meta.outputs[key]!.inputs : {};
  const byPackage = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const name = m ? m[1]! : '(project code)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

// ---- start-up ------------------------------------------------------------------------

/** Runs in the fresh process: times the import of the bundle and checks it exports a handler. */
const PROBE = `
const url = process.env.BENCH_BUNDLE_URL;
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
    NODE_OPTIONS: '--enable-source-maps',
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
