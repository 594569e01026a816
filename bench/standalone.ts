/**
 * Runs one bench part alone (`npx tsx bench/<part>.ts`): its own DynamoDB Local and table, the
 * same meter `npm run bench` installs, then prints the part's figures and notes. No results.json.
 */
import { randomUUID } from 'node:crypto';
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
  try {
    // Set before the table client loads: it reads them once, when its module loads.
    process.env.DYNAMODB_ENDPOINT = ddb.endpoint;
    process.env.TABLE_NAME = `crm-bench-${name}-${randomUUID().slice(0, 8)}`;
    process.env.LOG_LEVEL ??= 'SILENT';
    const { createTableInput, indexes } = await import('#domain/table/definition.ts');
    const { db } = await import('#domain/table/client.ts');
    await db.send(new CreateTableCommand(createTableInput(process.env.TABLE_NAME)));
    const { DynamoMeter } = await import('./dynamo-meter.ts');
    const sideClient = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const meter = new DynamoMeter({ sideClient, keyAttributes: ['PK', 'SK'], indexes });
    meter.install(db);
    const api = await import('#test/support/api.ts');
    const figures: Record<string, number> = {};
    const notes: string[] = [];
    await part({ call: (who, method, url, body, opts) => api.call(who, method, url, body, opts), meter, figures, notes });
    console.log(JSON.stringify(figures, null, 2));
    for (const n of notes) console.log(n);
    sideClient.destroy();
  } finally {
    await ddb.stop();
  }
}
