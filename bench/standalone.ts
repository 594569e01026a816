/**
 * Runs one bench part alone (`npx tsx bench/<part>.ts`): its own DynamoDB Local, table and local
 * data directory, the same meter `npm run bench` installs, then prints the part's figures and
 * notes. With `--update-results` it also replaces that part's figures in bench/results.json
 * (the others stay as the last full run left them), for a part re-measured on a quiet machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';

export interface PartContext {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

/** True when `moduleUrl` (a part's `import.meta.url`) is the script node was started with. */
export const isEntry = (moduleUrl: string) => Boolean(process.argv[1]) && moduleUrl === pathToFileURL(process.argv[1]!).href;

export function runStandalone(name: string, part: (ctx: PartContext) => Promise<void>): void {
  run(name, part).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

async function run(name: string, part: (ctx: PartContext) => Promise<void>): Promise<void> {
  const { startDynamoDbLocal } = await import('#local/dynamodb-local.ts');
  const ddb = await startDynamoDbLocal();
  const dataDir = await mkdtemp(path.join(tmpdir(), `crm-bench-${name}-`));
  try {
    process.env.CRM_DATA_DIR = dataDir;
    // Set before the table client loads: it reads them once, when its module loads.
    process.env.DYNAMODB_ENDPOINT = ddb.endpoint;
    process.env.TABLE_NAME = `crm-bench-${name}-${randomUUID().slice(0, 8)}`;
    process.env.LOG_LEVEL ??= 'SILENT';
    // The bench sends thousands of requests per tenant a minute: the limiter's defaults would refuse
    // them. bench/ratelimit.ts sets the documented limits on its own tenant.
    process.env.RATE_LIMIT_REQUESTS_PER_MINUTE ??= '1000000';
    process.env.RATE_LIMIT_API_KEY_REQUESTS_PER_MINUTE ??= '1000000';
    process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE ??= '1000000';
    const { createTableInput, indexes } = await import('#domain/table/definition.ts');
    const { isRateLimitPartition } = await import('#domain/integrations/rate-limits.ts');
    const { db } = await import('#domain/table/client.ts');
    await db.send(new CreateTableCommand(createTableInput(process.env.TABLE_NAME)));
    const { DynamoMeter } = await import('./dynamo-meter.ts');
    const sideClient = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const meter = new DynamoMeter({ sideClient, keyAttributes: ['PK', 'SK'], indexes, exclude: isRateLimitPartition });
    meter.install(db);
    const api = await import('#test/support/api.ts');
    const figures: Record<string, number> = {};
    const notes: string[] = [];
    await part({ call: (who, method, url, body, opts) => api.call(who, method, url, body, opts), meter, figures, notes });
    console.log(JSON.stringify(figures, null, 2));
    for (const n of notes) console.log(n);
    if (process.argv.includes('--update-results')) await updateResults(figures);
    sideClient.destroy();
  } finally {
    await ddb.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');

/**
 * Replaces this part's figures in results.json, keeping the file's sorted keys. `ownPrefixes`:
 * key prefixes the part owns entirely; figures under them it no longer writes are dropped.
 */
export async function updateResults(figures: Record<string, number>, ownPrefixes: readonly string[] = []): Promise<void> {
  const results = JSON.parse(await readFile(RESULTS_FILE, 'utf8')) as Record<string, number>;
  const kept = Object.fromEntries(Object.entries(results).filter(([key]) => !ownPrefixes.some((p) => key.startsWith(p))));
  const merged = { ...kept, ...figures };
  const sorted = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
  await writeFile(RESULTS_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
  console.log(`updated ${Object.keys(figures).length} figures in ${RESULTS_FILE}`);
}
