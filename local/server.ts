/**
 * The whole backend on one machine (what `npm start` runs): DynamoDB Local and the
 * table, the HTTP API behind the same router and handlers Lambda runs, the outbox relay
 * feeding the in-process event bus, and the scheduled jobs on their real cron times.
 *
 * One backend per process: the DynamoDB client is created once per process (as in a
 * Lambda container) from `DYNAMODB_ENDPOINT`, which this sets before loading it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { createTableInput } from '#domain/table/definition.ts';
import { countingInto, emptyStats, formatStats } from '#domain/table/request-stats.ts';
import { usePublisher, publisher } from '#events/publisher.ts';
import { schedules as scheduleTable } from '#events/schedules.ts';
import type { IncomingRequest } from '#local/api-gateway-event.ts';
import { loadOrCreateKeys } from '#local/auth.ts';
import { inProcessPublisher } from '#local/bus.ts';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { jobHandlers } from '#local/registry.ts';
import { createRouter, type LocalResponse } from '#local/router.ts';
import { startScheduler, type ScheduledJob } from '#local/scheduler.ts';

export interface LocalBackendOptions {
  /** Default 3000; 0 picks a free port (see `url`). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Where local state lives (JWT keys in `keys/`, the database in `dynamodb/`).
   * Default `$CRM_DATA_DIR`; without either, the database is in memory and the keys
   * are in the default folder of local/auth.ts.
   */
  dataDir?: string;
  /** Default `$TABLE_NAME`, else `crm-local`. */
  tableName?: string;
  /** Which schedules to run. Default: the schedule table of events/schedules.ts. */
  schedules?: readonly ScheduledJob[];
  /** Informational lines (requests, job runs). Default: stdout. Errors always go to stderr. */
  log?: (line: string) => void;
}

export interface LocalBackend {
  /** `http://<host>:<port>` */
  url: string;
  port: number;
  dynamoDb: { endpoint: string; pid: number; persistedIn: string | null };
  tableName: string;
  /** Closes the server, stops the scheduler and the relay, then DynamoDB Local. Safe to call twice. */
  stop(): Promise<void>;
}

/** API Gateway's own cap on a request body; the handlers enforce the API's smaller limits. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const RELAY_DEBOUNCE_MS = 25;
/** How long stop() waits for each part (requests, job runs, deliveries) before moving on. */
const STOP_WAIT_MS = 5_000;

export async function startLocalBackend(opts: LocalBackendOptions = {}): Promise<LocalBackend> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logError = (line: string) => process.stderr.write(`${line}\n`);
  const port = opts.port ?? 3000;
  const host = opts.host ?? '127.0.0.1';
  const tableName = opts.tableName ?? process.env.TABLE_NAME ?? 'crm-local';
  const dataDirOpt = opts.dataDir ?? (process.env.CRM_DATA_DIR?.trim() || undefined);
  const dataDir = dataDirOpt ? path.resolve(dataDirOpt) : undefined;
  // The router checks tokens against the keys of `dataDir()`, i.e. of $CRM_DATA_DIR.
  if (dataDir) process.env.CRM_DATA_DIR = dataDir;

  // Everything started so far, stopped in reverse order on failure or stop().
  const started: { name: string; stop: () => Promise<void> }[] = [];
  const stopAll = async () => {
    for (const part of started.splice(0).reverse()) {
      try {
        await withTimeout(part.stop(), STOP_WAIT_MS + 2_000, () => logError(`stop: ${part.name} did not stop in time`));
      } catch (err) {
        logError(`stop: ${part.name}: ${errorText(err)}`);
      }
    }
  };

  try {
    const dbDir = dataDir ? path.join(dataDir, 'dynamodb') : undefined;
    const ddb = await startDynamoDbLocal(dbDir ? { dataDir: dbDir } : {});
    started.push({ name: 'DynamoDB Local', stop: () => ddb.stop() });
    process.env.DYNAMODB_ENDPOINT = ddb.endpoint;
    process.env.TABLE_NAME = tableName;
    // Webhooks may also go to receivers on this machine (http://127.0.0.1:<port>, api/integrations.md).
    process.env.WEBHOOKS_ALLOW_LOOPBACK ??= '1';

    // Loaded only now: the client reads DYNAMODB_ENDPOINT when its module loads.
    const { db } = await import('#domain/table/client.ts');
    await assertClientEndpoint(db, ddb.port);
    await ensureTable(db, tableName);
    await loadOrCreateKeys();

    usePublisher(inProcessPublisher());
    const { deliverPending } = await import('#events/outbox.ts');
    const relay = createRelay(
      async () => {
        // With CRM_REQUEST_STATS, each delivery's own line: what the background costs the requests beside it.
        const stats = process.env.CRM_REQUEST_STATS ? emptyStats() : undefined;
        const started = performance.now();
        const report = await (stats ? countingInto(stats, () => deliverPending(publisher())) : deliverPending(publisher()));
        if (stats) log(`relay: ${report.delivered} events ${Math.round(performance.now() - started)}ms ${formatStats(stats)}`);
        if (report.failedIds.length) {
          logError(`relay: ${report.failedIds.length} event(s) not delivered; they stay pending and are retried`);
        }
      },
      { delayMs: RELAY_DEBOUNCE_MS, onError: (err) => logError(`relay: delivering events failed: ${errorText(err)}`) },
    );
    started.push({ name: 'event relay', stop: () => relay.stop() });

    const wanted = opts.schedules ?? scheduleTable;
    const runnable = wanted.filter((s) => {
      if (jobHandlers[s.name]) return true;
      logError(`scheduler: no handler registered for job ${s.name}; it is not scheduled`);
      return false;
    });
    const scheduler = startScheduler(
      runnable,
      async (name, firedAt) => {
        const { handler } = await jobHandlers[name]!();
        const stats = process.env.CRM_REQUEST_STATS ? emptyStats() : undefined;
        const started = performance.now();
        const result = await (stats ? countingInto(stats, () => handler({ now: firedAt.toISOString() })) : handler({ now: firedAt.toISOString() }));
        if (stats) log(`job: ${name} ${Math.round(performance.now() - started)}ms ${formatStats(stats)}`);
        if (result.processed > 0) log(`job ${name} at ${firedAt.toISOString()}: ${JSON.stringify(result)}`);
        relay.kick();
      },
      {
        onError: (name, err) => logError(`scheduler: job ${name} failed: ${errorText(err)}`),
        onSkip: (name) => log(`scheduler: ${name} is still running; this firing is skipped`),
      },
    );
    started.push({ name: 'scheduler', stop: () => scheduler.stop() });

    const httpServer = await startHttpServer(createRouter({ afterRequest: relay.kick }), {
      port,
      host,
      log,
      logError,
      // Jobs run on demand may have recorded events too.
      onAnswered: (path) => {
        if (path.startsWith('/_local/jobs/')) relay.kick();
      },
    });
    started.push({ name: 'HTTP server', stop: httpServer.stop });

    return {
      url: httpServer.url,
      port: httpServer.port,
      dynamoDb: { endpoint: ddb.endpoint, pid: ddb.pid, persistedIn: dbDir ?? null },
      tableName,
      stop: once(stopAll),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// HTTP

type Route = (req: IncomingRequest) => Promise<LocalResponse>;

export interface HttpServerOptions {
  port: number;
  host: string;
  /** Requests run at once; more wait in arrival order. Default `$LOCAL_MAX_CONCURRENCY`, else 32. */
  maxConcurrency?: number;
  /** Instead of `maxConcurrency`: an admission of the caller's (a test watches its queue). */
  admission?: Admission;
  log?: (line: string) => void;
  logError?: (line: string) => void;
  /** After each answer, with the request's path. */
  onAnswered?: (path: string) => void;
}

/**
 * The HTTP server of `npm start` in front of a router (local/router.ts). Also started alone by
 * tests that need a real HTTP endpoint but not the scheduler (the reference page in a browser).
 */
export async function startHttpServer(
  route: Route,
  opts: HttpServerOptions,
): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const log = opts.log ?? (() => undefined);
  const logError = opts.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const admission = opts.admission ?? createAdmission(opts.maxConcurrency ?? (Number(process.env.LOCAL_MAX_CONCURRENCY) || DEFAULT_MAX_CONCURRENCY));
  const server = http.createServer((req, res) => {
    handleRequest(req, res, route, admission, log, logError).then(
      (path) => opts.onAnswered?.(path),
      (err: unknown) => {
        logError(`server: ${errorText(err)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      },
    );
  });
  await listen(server, opts.port, opts.host);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    port,
    stop: once(() => closeServer(server)),
  };
}

/** Answers one request; resolves with its path (for logging and the relay). */
async function handleRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  route: Route,
  admission: Admission,
  log: (line: string) => void,
  logError: (line: string) => void,
): Promise<string> {
  const started = performance.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const url = req.url ?? '/';
  const [path = '/'] = url.split('?');

  const { body, tooLarge } = await readBody(req, MAX_REQUEST_BYTES);
  if (req.socket.destroyed || !(await admission.enter(req.socket))) {
    // The client left while it waited (its timeout): nothing has run, nobody reads an answer.
    log(`${method} ${path} dropped: the client left after ${Math.round(performance.now() - started)}ms in the queue`);
    return path;
  }
  try {
    return await answer(req, res, route, { started, method, url, path, body, tooLarge }, log, logError);
  } finally {
    admission.leave();
  }
}

async function answer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  route: Route,
  { started, method, url, path, body, tooLarge }: { started: number; method: string; url: string; path: string; body: Buffer | undefined; tooLarge: boolean },
  log: (line: string) => void,
  logError: (line: string) => void,
): Promise<string> {
  const stats = process.env.CRM_REQUEST_STATS ? emptyStats() : undefined;
  let out: LocalResponse;
  if (tooLarge) {
    out = problem(413, 'payload_too_large', `The request body is larger than ${MAX_REQUEST_BYTES} bytes.`);
  } else {
    try {
      const incoming = {
        method,
        url,
        headers: req.headersDistinct,
        body,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      };
      out = await (stats ? countingInto(stats, () => route(incoming)) : route(incoming));
    } catch (err) {
      // The handlers map every error themselves; this is a fault of the runtime.
      logError(`server: ${method} ${path} failed: ${errorText(err)}`);
      out = problem(500, 'internal_error', 'The server failed to answer this request.');
    }
  }

  const noBody = out.status === 204 || out.status === 304 || method === 'HEAD';
  const headers: Record<string, string | number> = { ...out.headers };
  if (noBody) {
    delete headers['content-length'];
  } else {
    headers['content-length'] = out.bytes ? out.bytes.length : Buffer.byteLength(out.body);
  }
  res.writeHead(out.status, headers);
  res.end(noBody ? undefined : (out.bytes ?? out.body));
  log(`${method} ${path} ${out.status} ${Math.round(performance.now() - started)}ms${stats ? ` ${formatStats(stats)}` : ''}`);
  return path;
}

/**
 * Requests in progress at once, the rest waiting in arrival order: the local stand-in for
 * Lambda's concurrency. One process running every request at once shares the table calls of all
 * of them round-robin, so under load a request with four calls waits its turn four times behind
 * everyone (the tail of bench/load.ts); in order, each admitted request's calls are quick and the
 * wait is the same for all. 32 keeps DynamoDB Local and this process busy on 2 cores.
 */
export const DEFAULT_MAX_CONCURRENCY = 32;

export interface Admission {
  /** Resolves true once the request may run; false if `client` closed while it waited (it left the queue then). */
  enter(client?: { once(event: 'close', fn: () => void): unknown; off(event: 'close', fn: () => void): unknown }): Promise<boolean>;
  leave(): void;
  /** Requests waiting for a turn. */
  readonly waiting: number;
}

export function createAdmission(max: number): Admission {
  let running = 0;
  const queue: ((admitted: boolean) => void)[] = [];
  return {
    enter(client) {
      if (running < max) {
        running++;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => {
        const left = () => {
          queue.splice(queue.indexOf(admit), 1);
          resolve(false);
        };
        const admit = (admitted: boolean) => {
          client?.off('close', left);
          resolve(admitted);
        };
        client?.once('close', left);
        queue.push(admit);
      });
    },
    leave() {
      // The place passes straight from the leaving request to the first waiting one.
      const next = queue.shift();
      if (next) next(true);
      else running--;
    },
    get waiting() {
      return queue.length;
    },
  };
}

/**
 * Reads the whole body. Past `limit` bytes the rest is read and dropped (so the client,
 * still sending, gets the 413 instead of a reset connection).
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<{ body: Buffer | undefined; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      if (size > limit) resolve({ body: undefined, tooLarge: true });
      else resolve({ body: size > 0 ? Buffer.concat(chunks, size) : undefined, tooLarge: false });
    });
    req.on('error', reject);
  });
}

function problem(status: number, code: string, detail: string): LocalResponse {
  return {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({
      type: `https://crm.example.com/problems/${code.replaceAll('_', '-')}`,
      title: detail,
      status,
      detail,
      code,
    }),
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is already in use; set PORT to another port`)
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Stops accepting, lets requests in progress finish (for a while), then drops what is left. */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), STOP_WAIT_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

// ---------------------------------------------------------------------------------------
// The relay

export interface Relay {
  /** Asks for a delivery soon; calls within the debounce window share one. */
  kick: () => void;
  /** Runs a last delivery if one was asked for, waits for the one in progress. */
  stop(): Promise<void>;
}

/**
 * Single-flight, debounced: `kick()` schedules one `deliver()` a little later; kicks
 * meanwhile share it; a kick while a delivery runs schedules one more after it. Two
 * deliveries never run at once. Errors go to `onError`, never to the caller of kick().
 */
export function createRelay(
  deliver: () => Promise<void>,
  opts: { delayMs?: number; onError?: (err: unknown) => void } = {},
): Relay {
  const delayMs = opts.delayMs ?? RELAY_DEBOUNCE_MS;
  const onError = opts.onError ?? ((err: unknown) => process.stderr.write(`relay: ${errorText(err)}\n`));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const run = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        await deliver();
      } catch (err) {
        onError(err);
      }
    })().finally(() => {
      running = undefined;
      if (again && !stopped) {
        again = false;
        schedule();
      }
    });
  };

  const schedule = () => {
    if (stopped || timer) return;
    timer = setTimeout(run, delayMs);
  };

  return {
    kick: schedule,
    async stop() {
      if (stopped) return running;
      stopped = true;
      const pending = timer !== undefined || again;
      if (timer) clearTimeout(timer);
      timer = undefined;
      again = false;
      await running;
      if (pending) {
        run();
        await running;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// The table

type TableClient = (typeof import('#domain/table/client.ts'))['db'];

/** The client is made once per process; one made earlier for another endpoint would miss this database. */
async function assertClientEndpoint(db: TableClient, port: number): Promise<void> {
  const endpoint = db.config.endpoint ? await db.config.endpoint() : undefined;
  if (!endpoint || String(endpoint.port) !== String(port)) {
    throw new Error(
      'the DynamoDB client of this process was created before DynamoDB Local started ' +
        `(it points at ${endpoint ? `${endpoint.hostname}:${endpoint.port}` : 'AWS'}); ` +
        'startLocalBackend must run in a process that has not used the table yet',
    );
  }
}

async function ensureTable(db: TableClient, tableName: string): Promise<void> {
  const status = async () => {
    try {
      return (await db.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  };
  if ((await status()) === 'ACTIVE') return;
  try {
    await db.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  const deadline = Date.now() + 20_000;
  while ((await status()) !== 'ACTIVE') {
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}

async function withTimeout(p: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
