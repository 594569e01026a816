/**
 * `npm start`: the whole backend on http://127.0.0.1:${PORT:-3000}. Prints one line
 * containing `listening on <url>` once it serves; Ctrl-C (SIGINT) or SIGTERM stops
 * everything it started and exits 0. A failure while starting stops what did start,
 * prints the error and exits 1.
 */
import { startLocalBackend, type LocalBackend } from '#local/server.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function portFromEnv(): number {
  const raw = process.env.PORT?.trim();
  if (!raw) return 3000;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) {
    err(`PORT must be a port number (0-65535), not ${JSON.stringify(process.env.PORT)}`);
    process.exit(1);
  }
  return port;
}

const port = portFromEnv();
const dataDir = process.env.CRM_DATA_DIR?.trim() || undefined;

let backend: LocalBackend | undefined;
let stopping = false;
const starting = startLocalBackend({ port, ...(dataDir ? { dataDir } : {}) });

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second Ctrl-C: leave now (DynamoDB Local's exit hook still kills the JVM).
    err(`${signal} again: exiting without waiting`);
    process.exit(1);
  }
  stopping = true;
  err(`${signal}: stopping`);
  try {
    // A signal while starting: let the start finish (or fail), then stop what it started.
    const b = backend ?? (await starting.catch(() => undefined));
    await b?.stop();
  } catch (e) {
    err(`error while stopping: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exit(0);
}
process.on('SIGINT', (s) => void shutdown(s));
process.on('SIGTERM', (s) => void shutdown(s));

try {
  backend = await starting;
} catch (e) {
  // startLocalBackend has already stopped whatever it started.
  if (!stopping) {
    err(`could not start the local backend: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

if (backend && !stopping) {
  const { url, dynamoDb, tableName } = backend;
  out(`dynamodb-local pid ${dynamoDb.pid} at ${dynamoDb.endpoint}, table ${tableName}, ${dynamoDb.persistedIn ? `data in ${dynamoDb.persistedIn}` : 'in memory'}`);
  out(`mint a token: npm run --silent token -- --tenant t1 --user u1 --role admin${dataDir ? ` (with CRM_DATA_DIR=${dataDir})` : ''}`);
  out(`listening on ${url}`);
}
