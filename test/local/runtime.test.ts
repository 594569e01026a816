/**
 * `npm start` as a user runs it: a separate process with its own DynamoDB Local,
 * reached over HTTP, stopped by a signal. Also the outbox relay's single-flight rule.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken } from '#local/auth.ts';
import { createRelay, MAX_REQUEST_BYTES } from '#local/server.ts';

const root = path.resolve(import.meta.dirname, '../..');
// What `npm start` runs: one node process with tsx's loader. Not the `tsx` binary, a parent
// process that relays signals and SIGKILLs the backend when it does not answer within 30 ms
// (under load it sometimes does not: exit 130, JVM orphaned).
const startArgs = ['--import', 'tsx', 'local/start.ts'];
/** A hang guard, not a speed check: start-up under a loaded CI machine has taken over 15 s. */
const READY_WITHIN_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Pids of JVMs whose command line names this folder (each test has its own data dir). */
function jvmsUsing(dir: string): number[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .filter((line) => line.includes('DynamoDBLocal.jar') && line.includes(dir))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** Runs start.ts to its exit (for the ways it fails to start). */
function runToExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, startArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    // A guard against a hang, not a time limit: under load a cold start of DynamoDB Local takes a while.
    const timer = setTimeout(() => child.kill('SIGTERM'), 100_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // What the test worker's own setup put there must not leak into the backend.
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'TABLE_NAME' || k === 'DYNAMODB_ENDPOINT') delete env[k];
  return env;
}

interface Backend {
  child: ChildProcess;
  url: string;
  jvmPid: number;
  startedInMs: number;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Backend>();
const dirs: string[] = [];

async function startBackend(dataDir: string): Promise<Backend> {
  const port = await freePort();
  const env = cleanEnv({ PORT: String(port), CRM_DATA_DIR: dataDir });

  const t0 = Date.now();
  const child = spawn(process.execPath, startArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const ready = await new Promise<RegExpExecArray | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), READY_WITHIN_MS + 5_000);
    const check = () => {
      const m = /^.*listening on (http:\/\/127\.0\.0\.1:(\d+)).*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    void exit.then(() => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  const startedInMs = Date.now() - t0;
  const jvm = /^dynamodb-local pid (\d+)/m.exec(out);
  const backend: Backend = { child, url: ready?.[1] ?? '', jvmPid: Number(jvm?.[1] ?? 0), startedInMs, output: () => out, exit };
  running.add(backend);
  if (!ready) throw new Error(`the backend did not get ready:\n${out}`);
  expect(Number(ready[2])).toBe(port);
  expect(out.match(/listening on/g)).toHaveLength(1);
  expect(backend.jvmPid, out).toBeGreaterThan(0);
  return backend;
}

async function stopBackend(b: Backend, signal: NodeJS.Signals) {
  b.child.kill(signal);
  const result = await b.exit;
  running.delete(b);
  return result;
}

afterAll(async () => {
  // Only if a test failed half-way: never leave a backend or its JVM behind.
  for (const b of running) {
    b.child.kill('SIGTERM');
    await Promise.race([b.exit, new Promise((r) => setTimeout(r, 8_000))]);
    if (b.jvmPid && alive(b.jvmPid)) process.kill(b.jvmPid, 'SIGKILL');
  }
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function api(b: Backend, method: string, url: string, token?: string, body?: unknown) {
  const res = await fetch(`${b.url}${url}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('npm start (local/start.ts)', { timeout: 90_000 }, () => {
  it('is the command these tests run', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe(`node ${startArgs.join(' ')}`);
  });

  let dataDir: string;
  let adminToken: string;
  let accountId: string | undefined;

  it('serves health, /v1 and local jobs with real tokens, then stops on SIGTERM leaving no JVM', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'crm-runtime-'));
    dirs.push(dataDir);
    const b = await startBackend(dataDir);
    expect(b.startedInMs).toBeLessThan(READY_WITHIN_MS);
    expect(alive(b.jvmPid)).toBe(true);

    const health = await api(b, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });

    // Tokens minted against the backend's CRM_DATA_DIR, as `npm run token` would.
    adminToken = await mintToken({ tenant: 'rt-tenant', user: 'rt-admin', role: 'admin' }, dataDir);
    const repToken = await mintToken({ tenant: 'rt-tenant', user: 'rt-rep', role: 'rep' }, dataDir);
    const expired = await mintToken({ tenant: 'rt-tenant', user: 'rt-rep', role: 'rep', expiresInSeconds: -60 }, dataDir);

    const created = await api(b, 'POST', '/v1/accounts', repToken, { name: '上海示例贸易有限公司' });
    expect(created.status, created.text).toBe(201);
    accountId = created.json.id as string;
    expect(created.headers.get('location')).toBe(`/v1/accounts/${accountId}`);

    const read = await api(b, 'GET', `/v1/accounts/${accountId}`, repToken);
    expect(read.status, read.text).toBe(200);
    expect(read.json).toMatchObject({ id: accountId, name: '上海示例贸易有限公司', ownerId: 'rt-rep' });
    expect(read.headers.get('etag')).toBe('"1"');

    const noToken = await api(b, 'GET', `/v1/accounts/${accountId}`);
    expect(noToken.status).toBe(401);
    const late = await api(b, 'GET', `/v1/accounts/${accountId}`, expired);
    expect(late.status).toBe(401);
    expect(late.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(late.json.code).toBe('unauthenticated');

    expect((await api(b, 'POST', '/_local/jobs/nope', adminToken)).status).toBe(404);
    expect((await api(b, 'POST', '/_local/jobs/nope', repToken)).status).toBe(403);
    expect((await api(b, 'POST', '/_local/jobs/outbox-sweep', repToken)).status).toBe(403);
    const sweep = await api(b, 'POST', '/_local/jobs/outbox-sweep', adminToken, { now: new Date().toISOString() });
    expect(sweep.status, sweep.text).toBe(200);
    expect(sweep.json).toMatchObject({ job: 'outbox-sweep', processed: expect.any(Number) });

    // Beyond API Gateway's 10 MB the runtime answers 413 itself; below it, the handler's
    // own 256 KB limit answers.
    const huge = await fetch(`${b.url}/v1/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${repToken}`, 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { code: string }).code).toBe('payload_too_large');
    const big = await api(b, 'POST', '/v1/accounts', repToken, { name: 'x', description: 'y'.repeat(300 * 1024) });
    expect(big.status).toBe(413);

    const { code, signal } = await stopBackend(b, 'SIGTERM');
    expect({ code, signal }, b.output()).toEqual({ code: 0, signal: null });
    expect(alive(b.jvmPid)).toBe(false);
  });

  it('keeps data and keys in CRM_DATA_DIR across a restart, and stops on SIGINT', async () => {
    expect(accountId, 'the previous test creates the account').toBeDefined();
    const b = await startBackend(dataDir);
    expect(b.startedInMs).toBeLessThan(READY_WITHIN_MS);

    // A token minted before the restart is still good: same keys.
    const read = await api(b, 'GET', `/v1/accounts/${accountId}`, adminToken);
    expect(read.status, read.text).toBe(200);
    expect(read.json.name).toBe('上海示例贸易有限公司');

    const { code, signal } = await stopBackend(b, 'SIGINT');
    expect({ code, signal }, b.output()).toEqual({ code: 0, signal: null });
    expect(alive(b.jvmPid)).toBe(false);
    expect(jvmsUsing(dataDir)).toEqual([]);
  });

  it('exits 1 when its port is taken, having stopped the DynamoDB Local it started', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'crm-runtime-busy-'));
    dirs.push(dir);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const { code, output } = await runToExit(cleanEnv({ PORT: String(port), CRM_DATA_DIR: dir }));
      expect(code, output).toBe(1);
      expect(output).toMatch(new RegExp(`port ${port} .*already in use`));
      expect(output).not.toMatch(/listening on/);
      expect(jvmsUsing(dir)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('exits 1 with a clear message when Java is missing', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'crm-runtime-nojava-'));
    dirs.push(bin);
    await symlink(process.execPath, path.join(bin, 'node'));
    const { code, output } = await runToExit(cleanEnv({ PATH: bin, PORT: String(await freePort()), CRM_DATA_DIR: bin }));
    expect(code, output).toBe(1);
    expect(output).toMatch(/Java is not available.*Install one/s);
    expect(output).not.toMatch(/listening on/);
  });
});

describe('the outbox relay', () => {
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('debounces kicks, never runs two deliveries at once, and runs once more for a kick during a delivery', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    let release: (() => void) | undefined;
    const relay = createRelay(
      async () => {
        runs++;
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => (release = r));
        active--;
      },
      { delayMs: 5 },
    );

    for (let i = 0; i < 10; i++) relay.kick();
    await tick(30);
    expect(runs).toBe(1);

    relay.kick(); // while the first delivery runs
    relay.kick();
    await tick(30);
    expect(runs).toBe(1);
    release!();
    await tick(30);
    expect(runs).toBe(2);
    release!();
    await tick(30);
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
    await relay.stop();
  });

  it('logs a failed delivery instead of throwing, and keeps working', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const relay = createRelay(
      async () => {
        runs++;
        if (runs === 1) throw new Error('bus down');
      },
      { delayMs: 1, onError: (e) => errors.push(e) },
    );
    relay.kick();
    await tick(20);
    relay.kick();
    await tick(20);
    expect(runs).toBe(2);
    expect(errors).toHaveLength(1);
    await relay.stop();
  });

  it('stop() delivers what was asked for and ignores later kicks', async () => {
    let runs = 0;
    const relay = createRelay(async () => void runs++, { delayMs: 10_000 });
    relay.kick();
    await relay.stop();
    expect(runs).toBe(1);
    relay.kick();
    await tick(20);
    expect(runs).toBe(1);
  });
});
