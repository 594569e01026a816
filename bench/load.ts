/**
 * Load held (issue 11 point 4): `autocannon` against the local runtime as `npm start` runs it
 * (local/start.ts in a child process on a free port, with its own data directory, DynamoDB
 * Local and table), 200 concurrent connections over 10 tenants for `LOAD_SECONDS` (default 60)
 * on a realistic mix: lists, gets, creates (accounts, leads, opportunities, some with a name
 * already taken), stage moves, claims from the public pool and releases back to it.
 *
 * Figures: `load.http.errors` (5xx answers, connection errors and timeouts: target 0),
 * `load.http.p99_ms`, `load.http.rps`, `load.http.requests`, `load.http.4xx`; then every cap,
 * counter and uniqueness invariant is checked over the data the run left
 * (`load.invariant_violations`, target 0; each violation is printed in the notes).
 *
 * Registered in bench/scenarios.ts; also runs alone: `LOAD_SECONDS=10 npx tsx bench/load.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import type { GuardEntity } from '#domain/accounts/duplicates.ts';
import { emptyStats, parseStats, type RequestStats } from '#domain/table/request-stats.ts';
import { mintToken } from '#local/auth.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface LoadBenchInput {
  call?: Call;
  figures: Record<string, number>;
  notes: string[];
}

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 200);
const TENANTS = 10;
/** Small caps, so that the load reaches them: claims then race for the last place. */
const RULES = { maxAccountsPerRep: 6, maxClaimsPerDay: 40, maxLockedPerRep: 5, reclaimCooldownDays: 0, releaseAfterDays: 30, remindBeforeDays: [3, 1] };
const CREATORS = ['r0', 'r1', 'r2', 'r3'];
const CLAIMERS = ['c0', 'c1'];
const REPO_ROOT = path.resolve(import.meta.dirname, '..');

const progress = (msg: string) => process.stderr.write(`bench: load: ${msg}\n`);
const round1 = (n: number) => Math.round(n * 10) / 10;

// ---- the server -------------------------------------------------------------------------------

interface Server {
  url: string;
  endpoint: string;
  tableName: string;
  dataDir: string;
  child: ChildProcess;
  errors: string[];
  /** Requests answered so far (the server logs one line per answer), and when the last one was. */
  answered: { count: number; at: number };
  /** Every answer and relay delivery the server logged, while `recording` is on. */
  log: { recording: boolean; answers: ServerAnswer[]; background: Background[]; dropped: number };
  stop(): Promise<void>;
}

/** How local/server.ts logs an answer: `POST /v1/accounts 201 12ms`, then its stats (CRM_REQUEST_STATS). */
const ANSWER_LINE = /^([A-Z]+) (\S+) (\d{3}) (\d+)ms(?: (.*))?$/;
/** …each delivery of the in-process outbox relay: `relay: 12 events 340ms db=…`, and each job run: `job: outbox-sweep 80ms db=…`. */
const RELAY_LINE = /^relay: (\d+) events (\d+)ms (.*)$/;
const JOB_LINE = /^job: (\S+) (\d+)ms (.*)$/;
/** …and a request whose client left while it waited for its turn: `GET /v1/pool dropped: …`. */
const DROPPED_LINE = /^[A-Z]+ \S+ dropped: /;

/**
 * Waits until the server has answered `expected` requests, or has answered nothing for
 * `quietMs` (a request cut off mid-send never arrives): requests the client stopped waiting
 * for may still be landing, and a Scan is not isolated from a transaction in flight.
 */
async function settled(server: Server, expected: number, quietMs = 3000, maxMs = 120_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (server.answered.count >= expected && Date.now() - server.answered.at >= 500) return;
    if (Date.now() - server.answered.at >= quietMs) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * `npm start` (local/start.ts) as a child process on a free port and its own table, as `npm start`
 * runs: DynamoDB Local in memory (a data directory would put it on disk, whose transactions are
 * about twice as slow under load) and the JWT keys in the default folder, `.crm-local/keys`.
 */
async function startServer(): Promise<Server> {
  const dataDir = path.join(REPO_ROOT, '.crm-local');
  const tableName = `crm-load-${randomUUID().slice(0, 8)}`;
  // CRM_REQUEST_STATS: each answer line carries the request's table calls and retries (domain/table/request-stats.ts).
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', TABLE_NAME: tableName, LOG_LEVEL: 'SILENT', CRM_REQUEST_STATS: '1' };
  delete env.DYNAMODB_ENDPOINT;
  delete env.CRM_DATA_DIR;
  // LOAD_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
  const profile = process.env.LOAD_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.LOAD_CPU_PROF)}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'local/start.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const errors: string[] = [];
  const answered = { count: 0, at: Date.now() };
  const log: Server['log'] = { recording: false, answers: [], background: [], dropped: 0 };
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (errors.length < 200) errors.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const started = await new Promise<{ url: string; endpoint: string }>((resolve, reject) => {
      let endpoint = '';
      const timer = setTimeout(() => reject(new Error('npm start did not listen within 60 s')), 60_000);
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${errors.slice(-5).join(' | ')}`)));
      // Every request is logged on stdout: the lines are read (and dropped) so the pipe never fills.
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (DROPPED_LINE.test(line)) {
          // Settled as an answer is: nothing of it will land.
          answered.count++;
          answered.at = Date.now();
          if (log.recording) log.dropped++;
          return;
        }
        const answer = ANSWER_LINE.exec(line);
        if (answer) {
          answered.count++;
          answered.at = Date.now();
          if (log.recording) {
            const [, method, urlPath, status, ms, rest] = answer;
            log.answers.push({ route: `${method} ${routeOf(urlPath!)}`, status: Number(status), ms: Number(ms), endedAt: Date.now(), stats: parseStats(rest ?? '') });
          }
          return;
        }
        const relay = RELAY_LINE.exec(line);
        const job = JOB_LINE.exec(line);
        if (relay || job) {
          const [what, ms, stats] = relay ? [`relay (${relay[1]} events)`, relay[2], relay[3]] : [`job ${job![1]}`, job![2], job![3]];
          if (log.recording) log.background.push({ what, ms: Number(ms), endedAt: Date.now(), stats: parseStats(stats!) ?? emptyStats() });
          return;
        }
        const db = /^dynamodb-local pid \d+ at (\S+),/.exec(line);
        if (db) endpoint = db[1]!;
        const listening = /listening on (\S+)/.exec(line);
        if (listening) {
          clearTimeout(timer);
          resolve({ url: listening[1]!, endpoint });
        }
      });
    });
    return { ...started, tableName, dataDir, child, errors, answered, log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- the tail ---------------------------------------------------------------------------------

/** One answer as the server logged it: its route (ids as `{id}`), status, time inside the server, table stats. */
interface ServerAnswer {
  route: string;
  status: number;
  ms: number;
  /** When its line arrived (Date.now()). */
  endedAt: number;
  stats: RequestStats | undefined;
}

/** A relay delivery or a job run of the server, as logged. */
interface Background {
  what: string;
  ms: number;
  endedAt: number;
  stats: RequestStats;
}

/** `/v1/pool/01J…/claim` → `/v1/pool/{id}/claim`: a segment of 10 characters or more with a digit is an id. */
const routeOf = (urlPath: string) => urlPath.split('/').map((seg) => (seg.length >= 10 && /\d/.test(seg) ? '{id}' : seg)).join('/');

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

/** p50 / p99 / max of a list of milliseconds. */
function spread(ms: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1) ?? 0) };
}

function sumStats(all: (RequestStats | undefined)[]): RequestStats {
  const total = emptyStats();
  for (const s of all) if (s) for (const k of Object.keys(total) as (keyof RequestStats)[]) total[k] = k === 'peakCalls' ? Math.max(total[k], s[k]) : total[k] + s[k];
  return total;
}

/**
 * Where the time went: per operation the client's latency (and its timeouts), per route the
 * server's own time with its table calls and retries, the slowest answers one by one, and the
 * relay's deliveries. Returns the figures it adds.
 */
function tailReport(
  clientMs: Map<string, number[]>,
  clientTimeouts: Map<string, number>,
  answers: ServerAnswer[],
  background: Background[],
  loadStart: number,
  notes: string[],
): Record<string, number> {
  // Seconds into the load, and the wall clock's second of the minute (jobs and rate-limit windows turn at :00).
  const span = (endedAt: number, ms: number) =>
    `${((endedAt - ms - loadStart) / 1000).toFixed(1)}–${((endedAt - loadStart) / 1000).toFixed(1)} s, from :${String(new Date(endedAt - ms).getUTCSeconds()).padStart(2, '0')}`;
  for (const [op, ms] of [...clientMs].sort()) {
    const d = spread(ms);
    notes.push(`load.tail: client ${op}: ${d.n} answers, p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms${clientTimeouts.get(op) ? `, ${clientTimeouts.get(op)} past 10 s` : ''}`);
  }
  const byRoute = new Map<string, ServerAnswer[]>();
  for (const a of answers) byRoute.set(a.route, [...(byRoute.get(a.route) ?? []), a]);
  for (const [route, list] of [...byRoute].sort((a, b) => spread(b[1].map((x) => x.ms)).max - spread(a[1].map((x) => x.ms)).max)) {
    const d = spread(list.map((x) => x.ms));
    const t = sumStats(list.map((x) => x.stats));
    notes.push(
      `load.tail: server ${route}: ${d.n}, p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms; ` +
        `${round1(t.dbCalls / d.n)} table calls a request (${Math.round(t.dbMs / Math.max(1, t.dbCalls))} ms each), retries: ${t.versionRetries} version, ${t.conflictRetries} transaction, ${t.sdkRetries} SDK, ${Math.round(t.backoffMs)} ms slept`,
    );
  }
  for (const a of [...answers].sort((x, y) => y.ms - x.ms).slice(0, 8)) {
    const st = a.stats;
    notes.push(`load.tail: slowest: ${a.route} ${a.status} ${a.ms} ms (${span(a.endedAt, a.ms)})${st ? `: ${st.dbCalls} table calls awaited ${Math.round(st.dbMs)} ms, retries ${st.versionRetries} version / ${st.conflictRetries} transaction / ${st.sdkRetries} SDK, slept ${Math.round(st.backoffMs)} ms` : ''}`);
  }
  const total = sumStats(answers.map((a) => a.stats));
  const backgroundStats = sumStats(background.map((b) => b.stats));
  notes.push(`load.tail: background: ${background.length} relay deliveries and job runs, ${backgroundStats.dbCalls} table calls (the requests made ${total.dbCalls})`);
  // The long ones, and when they ran: a burst of background calls delays every request beside it.
  for (const b of background.filter((x) => x.ms >= 1000 || x.stats.dbCalls >= 50).slice(0, 12)) {
    notes.push(`load.tail: background: ${b.what} ${b.ms} ms (${span(b.endedAt, b.ms)}): ${b.stats.dbCalls} table calls, up to ${b.stats.peakCalls} at once, awaited ${Math.round(b.stats.dbMs)} ms, ${b.stats.sdkRetries} SDK retries`);
  }
  const relayStats = backgroundStats;
  const allClient = [...clientMs.values()].flat();
  return {
    'load.http.max_ms': spread(allClient).max,
    'load.server.max_ms': spread(answers.map((a) => a.ms)).max,
    'load.retries.version': total.versionRetries,
    'load.retries.transaction': total.conflictRetries,
    'load.retries.sdk': total.sdkRetries + relayStats.sdkRetries,
    'load.retries.slept_ms': Math.round(total.backoffMs),
  };
}

// ---- the tenants ------------------------------------------------------------------------------

interface Opportunity {
  id: string;
  owner: string;
}

/** What the client knows of one tenant; the load adds to it from the answers. */
export interface Tenant {
  id: string;
  tokens: Map<string, string>;
  stages: { id: string; kind: string }[];
  /** Accounts each creator keeps (opportunities go on them). */
  kept: Map<string, string[]>;
  opportunities: Opportunity[];
  /** Every account that was ever in the pool (some are claimed by now: their claims answer 409). */
  poolIds: string[];
  held: Map<string, Set<string>>;
  names: string[];
  leads: string[];
}

export interface Tally {
  /** Successful claims per account, and how often each entered the pool (setup releases included). */
  claimsWon: Map<string, number>;
  poolEntries: Map<string, number>;
  claimsByUser: Map<string, number>;
  createdAccounts: Set<string>;
  byOperation: Map<string, Map<string, number>>;
}

type Who = { user: string; role: 'admin' | 'manager' | 'rep'; team?: string };
const PEOPLE: Who[] = [
  { user: 'root', role: 'admin' },
  { user: 'mia', role: 'manager', team: 'east' },
  ...CREATORS.map((user, i) => ({ user, role: 'rep' as const, team: i % 2 ? 'west' : 'east' })),
  ...CLAIMERS.map((user) => ({ user, role: 'rep' as const, team: 'east' })),
];

let sequence = 0;
const unique = (prefix: string) => `${prefix} ${Date.now().toString(36)}${(sequence++).toString(36)}`;
const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];

async function send(base: string, token: string, method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function expectStatus(p: Promise<{ status: number; json: any }>, status: number, what: string) {
  const res = await p;
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
  return res.json;
}

const accountBody = (name: string) => ({ name, tier: pick(['A', 'B', 'C']), email: `${name.replace(/\W+/g, '.')}@load.example.cn`, industry: 'Retail' });

/** Rules, the default pipeline, accounts (some released to the pool) and opportunities on the rest. */
async function seedTenant(server: Server, index: number, tally: Tally): Promise<Tenant> {
  const id = `load${index}x${Date.now().toString(36)}`;
  const tokens = new Map<string, string>();
  for (const p of PEOPLE) {
    tokens.set(p.user, await mintToken({ tenant: id, user: p.user, role: p.role, ...(p.team ? { team: p.team } : {}), expiresInSeconds: 3 * 3600 }, server.dataDir));
  }
  const as = (user: string) => (method: string, url: string, body?: unknown) => send(server.url, tokens.get(user)!, method, url, body);
  // Every person's first request (the users directory) before the load.
  for (const p of PEOPLE) await expectStatus(as(p.user)('GET', '/v1/tasks?limit=1'), 200, `${p.user}'s first request`);
  await expectStatus(as('root')('PUT', '/v1/pool/rules', RULES), 200, 'pool rules');
  // The load is ~20 connections a tenant, far past the default 1,000 requests a minute: the tenant's
  // admin raises its limit, as a busy tenant would (the limiter still runs on every request).
  await expectStatus(as('root')('PUT', '/v1/rate-limits', { requestsPerMinute: 1_000_000 }), 200, 'rate limits');
  const pipelines = await expectStatus(as('root')('GET', '/v1/pipelines'), 200, 'pipelines');
  const stages = (pipelines.items[0].stages as { id: string; kind: string }[]).map((s) => ({ id: s.id, kind: s.kind }));
  const tenant: Tenant = { id, tokens, stages, kept: new Map(), opportunities: [], poolIds: [], held: new Map(CLAIMERS.map((c) => [c, new Set()])), names: [], leads: [] };
  await Promise.all(
    CREATORS.map(async (user) => {
      const kept: string[] = [];
      for (let i = 0; i < 8; i++) {
        const name = unique(`Load ${user} 客户`);
        const account = await expectStatus(as(user)('POST', '/v1/accounts', accountBody(name)), 201, 'seed account');
        tenant.names.push(name);
        tally.createdAccounts.add(account.id);
        if (i < 5) {
          await expectStatus(as(user)('POST', `/v1/accounts/${account.id}/release`, { reason: 'load seed' }), 200, 'seed release');
          tenant.poolIds.push(account.id);
          tally.poolEntries.set(account.id, 1);
        } else {
          kept.push(account.id);
          const opp = await expectStatus(as(user)('POST', '/v1/opportunities', opportunityBody(account.id)), 201, 'seed opportunity');
          tenant.opportunities.push({ id: opp.id, owner: user });
        }
      }
      tenant.kept.set(user, kept);
    }),
  );
  return tenant;
}

const opportunityBody = (accountId: string) => ({ accountId, name: unique('Load deal 商机'), amount: 1000 + Math.floor(Math.random() * 90_000), currency: 'CNY', expectedCloseDate: '2027-03-31' });

// ---- the mix --------------------------------------------------------------------------------------

interface Planned {
  tenant: Tenant;
  /** When autocannon asked for it (about when it is sent: one request at a time per connection). */
  at?: number;
  answered?: boolean;
  op: string;
  method: string;
  path: string;
  user: string;
  body?: unknown;
  /** Applied to the client's knowledge when the answer is a success. */
  onSuccess?: (json: any) => void;
  onAnswer?: (status: number) => void;
  /** No answer came (the client timed out, or the run ended first): the request may still have landed. */
  onLost?: () => void;
}

/** One request of the mix, for a random tenant: weights in percent. */
function plan(tenants: Tenant[], tally: Tally): Planned {
  const t = pick(tenants)!;
  return { tenant: t, ...planFor(t, tally) };
}

function planFor(t: Tenant, tally: Tally): Omit<Planned, 'tenant'> {
  const creator = pick(CREATORS)!;
  const reader = pick(['root', 'mia', ...CREATORS, ...CLAIMERS])!;
  const r = Math.random() * 100;
  if (r < 30) {
    const lists = ['/v1/accounts?limit=25', '/v1/opportunities?limit=25', '/v1/pool?limit=25', '/v1/leads?limit=25', '/v1/tasks?limit=25', '/v1/opportunities?status=open&limit=25'];
    return { op: 'list', method: 'GET', path: pick(lists)!, user: reader };
  }
  if (r < 52) {
    const opp = pick(t.opportunities);
    if (opp && Math.random() < 0.4) return { op: 'get', method: 'GET', path: `/v1/opportunities/${opp.id}`, user: pick([opp.owner, 'root'])! };
    // Pool accounts are open to every rep; kept ones to their owner and the admin.
    if (Math.random() < 0.3) return { op: 'get', method: 'GET', path: `/v1/accounts/${pick(t.poolIds)!}`, user: reader };
    return { op: 'get', method: 'GET', path: `/v1/accounts/${pick(t.kept.get(creator)!)!}`, user: pick([creator, 'root'])! };
  }
  if (r < 62) {
    // One create in ten reuses a name the tenant already holds: 409 duplicate, never a second record.
    const name = Math.random() < 0.1 ? pick(t.names)! : unique(`Load ${creator} 新客户`);
    return {
      op: 'create.account', method: 'POST', path: '/v1/accounts', user: creator, body: accountBody(name),
      onSuccess: (json) => {
        t.names.push(name);
        tally.createdAccounts.add(json.id);
        t.kept.get(creator)!.push(json.id);
      },
    };
  }
  if (r < 67) {
    return { op: 'create.lead', method: 'POST', path: '/v1/leads', user: creator, body: { name: unique('李雷'), company: pick(t.names), email: `${randomUUID().slice(0, 12)}@lead.example.cn`, source: 'website' } };
  }
  if (r < 72) {
    const account = pick(t.kept.get(creator)!)!;
    return {
      op: 'create.opportunity', method: 'POST', path: '/v1/opportunities', user: creator, body: opportunityBody(account),
      onSuccess: (json) => t.opportunities.push({ id: json.id, owner: creator }),
    };
  }
  if (r < 84) {
    const opp = pick(t.opportunities)!;
    const stage = Math.random() < 0.85 ? pick(t.stages.filter((s) => s.kind === 'open'))! : pick(t.stages.filter((s) => s.kind !== 'open'))!;
    return {
      op: 'move.opportunity', method: 'PATCH', path: `/v1/opportunities/${opp.id}`, user: opp.owner,
      body: { stageId: stage.id, ...(stage.kind === 'lost' ? { lostReason: 'price' } : {}) },
    };
  }
  const claimer = pick(CLAIMERS)!;
  const held = t.held.get(claimer)!;
  if (r < 94 || held.size === 0) {
    const account = pick(t.poolIds)!;
    return {
      op: 'claim', method: 'POST', path: `/v1/pool/${account}/claim`, user: claimer,
      onSuccess: () => {
        held.add(account);
        tally.claimsWon.set(account, (tally.claimsWon.get(account) ?? 0) + 1);
        const key = `${t.id}/${claimer}`;
        tally.claimsByUser.set(key, (tally.claimsByUser.get(key) ?? 0) + 1);
      },
    };
  }
  const account = pick([...held])!;
  return {
    op: 'release', method: 'POST', path: `/v1/accounts/${account}/release`, user: claimer, body: { reason: 'load: back to the pool' },
    onSuccess: () => {
      held.delete(account);
      tally.poolEntries.set(account, (tally.poolEntries.get(account) ?? 0) + 1);
    },
    // Answered either way: a release that did not land leaves it held, one that did is in the pool.
    onAnswer: (status) => {
      if (status === 409 || status === 404) held.delete(account);
    },
    // A release without an answer may have landed (the server goes on after the client's timeout):
    // the account may have entered the pool once more, and a second claim of it won fairly.
    onLost: () => tally.poolEntries.set(account, (tally.poolEntries.get(account) ?? 0) + 1),
  };
}

// ---- the invariants -----------------------------------------------------------------------------

type Item = Record<string, any>;

async function scanAll(server: Server): Promise<Item[]> {
  const raw = new DynamoDBClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const doc = DynamoDBDocumentClient.from(raw);
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  try {
    do {
      const out = await doc.send(new ScanCommand({ TableName: server.tableName, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
  } finally {
    raw.destroy();
  }
  return items;
}

const ENTITIES: Record<string, GuardEntity> = { ACCOUNT: 'account', CONTACT: 'contact', LEAD: 'lead' };

/**
 * Every rule the load could break, over the whole table: one line per violation.
 * - pool: a claimer (who only ever gains accounts by claims) holds at most `maxAccountsPerRep`;
 *   a day's claims are at most `maxClaimsPerDay` and count every claim answered 200; each rep's
 *   `owned` / `locked` counters equal the accounts they own / lock; an account was claimed
 *   successfully at most once per time it entered the pool;
 * - one owner per account: owned accounts have an owner and sit in that owner's partition, pool
 *   accounts have none and sit in the pool's;
 * - uniqueness: every guard names an existing record holding that normalized value, and every
 *   record holds the guards of its values;
 * - counters: each stage's `opportunityCount` = its opportunities; each account's
 *   `openOpportunityCount` = its open opportunities;
 * - nothing lost: every account created with a 201 exists (or was merged or deleted, which the mix never does).
 */
export async function checkInvariants(items: Item[], tenants: Tenant[], tally: Tally): Promise<string[]> {
  // Loaded here: the table client it brings reads DYNAMODB_ENDPOINT when it loads (bench/standalone.ts sets it first).
  const { guardsOf, valuesOfRecord } = await import('#domain/accounts/duplicates.ts');
  const violations: string[] = [];
  const byPk = new Map<string, Item>();
  for (const it of items) byPk.set(`${it.PK}|${it.SK}`, it);
  for (const t of tenants) {
    const prefix = `T#${t.id}#`;
    const mine = items.filter((it) => typeof it.PK === 'string' && it.PK.startsWith(prefix));
    const records = (type: string) => mine.filter((it) => it.SK === type && it.PK.startsWith(`${prefix}${type}#`));
    const accounts = records('ACCOUNT');
    const opportunities = records('OPPORTUNITY');

    // Pool counters and caps.
    const owned = new Map<string, number>();
    const locked = new Map<string, number>();
    for (const a of accounts) {
      if (a.poolStatus === 'pool') {
        if (a.ownerId) violations.push(`${t.id}: pool account ${a.id} has an owner ${a.ownerId}`);
        if (a.ownerPk !== `${prefix}ACCOUNT#POOL`) violations.push(`${t.id}: pool account ${a.id} is in partition ${a.ownerPk}`);
        continue;
      }
      if (!a.ownerId) {
        violations.push(`${t.id}: account ${a.id} has no owner and is not in the pool`);
        continue;
      }
      if (a.ownerPk !== `${prefix}ACCOUNT#OWNER#${a.ownerId}`) violations.push(`${t.id}: account ${a.id} of ${a.ownerId} is in partition ${a.ownerPk}`);
      owned.set(a.ownerId, (owned.get(a.ownerId) ?? 0) + 1);
      if (a.locked) locked.set(a.ownerId, (locked.get(a.ownerId) ?? 0) + 1);
    }
    const counters = mine.filter((it) => it.SK === 'POOLREP');
    const users = new Set([...owned.keys(), ...counters.map((c) => c.userId as string)]);
    for (const user of users) {
      const c = counters.find((x) => x.userId === user);
      if ((c?.owned ?? 0) !== (owned.get(user) ?? 0)) violations.push(`${t.id}: ${user}'s owned counter is ${c?.owned ?? 0}, owns ${owned.get(user) ?? 0}`);
      if ((c?.locked ?? 0) !== (locked.get(user) ?? 0)) violations.push(`${t.id}: ${user}'s locked counter is ${c?.locked ?? 0}, locks ${locked.get(user) ?? 0}`);
    }
    for (const claimer of CLAIMERS) {
      const n = owned.get(claimer) ?? 0;
      if (n > RULES.maxAccountsPerRep) violations.push(`${t.id}: ${claimer} holds ${n} accounts, over maxAccountsPerRep ${RULES.maxAccountsPerRep}`);
      const days = mine.filter((it) => it.SK === 'POOLCLAIMS' && it.PK.startsWith(`${prefix}POOLCLAIMS#${claimer}#`));
      let claims = 0;
      for (const d of days) {
        claims += Number(d.claims ?? 0);
        if (Number(d.claims) > RULES.maxClaimsPerDay) violations.push(`${t.id}: ${claimer} made ${d.claims} claims on ${d.PK}, over maxClaimsPerDay ${RULES.maxClaimsPerDay}`);
      }
      const answered = tally.claimsByUser.get(`${t.id}/${claimer}`) ?? 0;
      if (claims < answered) violations.push(`${t.id}: ${claimer}'s claim counters hold ${claims}, ${answered} claims were answered 200`);
    }

    // Uniqueness guards ↔ records.
    const guards = mine.filter((it) => it.SK === 'UNIQUE');
    const guardPks = new Set(guards.map((g) => g.PK as string));
    for (const g of guards) {
      const m = /^T#[^#]+#UNIQUE#(ACCOUNT|CONTACT|LEAD)#(NAME|DOMAIN|EMAIL|PHONE)#(.*)$/s.exec(g.PK);
      if (!m) {
        violations.push(`${t.id}: guard ${g.PK} has an unknown shape`);
        continue;
      }
      const [, type, kind, value] = m as unknown as [string, string, string, string];
      const record = byPk.get(`${prefix}${type}#${g.recordId}|${type}`);
      if (!record) {
        violations.push(`${t.id}: guard ${g.PK} names ${type} ${g.recordId}, which does not exist`);
        continue;
      }
      const held = guardsOf(ENTITIES[type]!, valuesOfRecord(ENTITIES[type]!, record));
      if (!held.some((h) => h.kind.toUpperCase() === kind && h.value === value)) violations.push(`${t.id}: guard ${g.PK} names ${type} ${g.recordId}, which does not hold that value`);
    }
    for (const [type, entity] of Object.entries(ENTITIES)) {
      for (const record of records(type)) {
        if (type === 'LEAD' && record.status === 'converted') continue;
        for (const g of guardsOf(entity, valuesOfRecord(entity, record))) {
          const pk = `${prefix}UNIQUE#${type}#${g.kind.toUpperCase()}#${g.value}`;
          if (!guardPks.has(pk)) violations.push(`${t.id}: ${type} ${record.id} holds ${g.kind} ${g.value} without its guard`);
          else if (byPk.get(`${pk}|UNIQUE`)!.recordId !== record.id) violations.push(`${t.id}: ${type} ${record.id} holds ${g.kind} ${g.value}, whose guard names ${byPk.get(`${pk}|UNIQUE`)!.recordId}`);
        }
      }
    }

    // Stage and account counters.
    const inStage = new Map<string, number>();
    const openOf = new Map<string, number>();
    for (const o of opportunities) {
      inStage.set(o.stageId, (inStage.get(o.stageId) ?? 0) + 1);
      if (o.status === 'open') openOf.set(o.accountId, (openOf.get(o.accountId) ?? 0) + 1);
    }
    for (const s of records('STAGE')) {
      const stageId = s.PK.slice(`${prefix}STAGE#`.length);
      if (Number(s.opportunityCount ?? 0) !== (inStage.get(stageId) ?? 0)) violations.push(`${t.id}: stage ${stageId} counts ${s.opportunityCount ?? 0} opportunities, holds ${inStage.get(stageId) ?? 0}`);
    }
    for (const a of accounts) {
      if (Number(a.openOpportunityCount ?? 0) !== (openOf.get(a.id) ?? 0)) violations.push(`${t.id}: account ${a.id} counts ${a.openOpportunityCount ?? 0} open opportunities, has ${openOf.get(a.id) ?? 0}`);
    }
  }
  // One winner per claim; nothing created is lost.
  for (const [account, won] of tally.claimsWon) {
    const entries = tally.poolEntries.get(account) ?? 0;
    if (won > entries) violations.push(`account ${account} was claimed ${won} times but entered the pool ${entries} times`);
  }
  const accountIds = new Set(items.filter((it) => it.SK === 'ACCOUNT').map((it) => it.id as string));
  for (const id of tally.createdAccounts) if (!accountIds.has(id)) violations.push(`account ${id} was created (201) but is not in the table`);
  return violations;
}

// ---- the run ----------------------------------------------------------------------------------------

export async function loadScenarios({ figures, notes }: LoadBenchInput): Promise<void> {
  let server: Server | undefined;
  try {
    progress('starting npm start (local/start.ts) on a free port');
    server = await startServer();
    const tally: Tally = { claimsWon: new Map(), poolEntries: new Map(), claimsByUser: new Map(), createdAccounts: new Set(), byOperation: new Map() };
    progress(`seeding ${TENANTS} tenants`);
    const tenants: Tenant[] = [];
    for (let i = 0; i < TENANTS; i += 5) tenants.push(...(await Promise.all([0, 1, 2, 3, 4].map((k) => seedTenant(server!, i + k, tally)))));

    const count = (op: string, outcome: string) => {
      const m = tally.byOperation.get(op) ?? new Map<string, number>();
      m.set(outcome, (m.get(outcome) ?? 0) + 1);
      tally.byOperation.set(op, m);
    };
    let fiveXx = 0;
    const fiveXxSamples: string[] = [];
    const answeredBefore = server.answered.count;
    const clientMs = new Map<string, number[]>();
    const clientTimeouts = new Map<string, number>();
    /** Sent and not answered yet: what is left when the run ends may still land. */
    const unanswered = new Set<Planned>();
    server.log.recording = true;
    const loadStart = Date.now();
    progress(`${CONNECTIONS} connections over ${TENANTS} tenants for ${SECONDS} s`);
    const result = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: SECONDS,
      timeout: 10,
      requests: [
        {
          setupRequest: (req, context: object) => {
            // The connection's previous request got no answer: it timed out (or its connection broke).
            const previous = (context as { planned?: Planned }).planned;
            if (previous && !previous.answered) {
              clientTimeouts.set(previous.op, (clientTimeouts.get(previous.op) ?? 0) + 1);
              previous.onLost?.();
              unanswered.delete(previous);
            }
            const p = plan(tenants, tally);
            p.at = performance.now();
            unanswered.add(p);
            (context as { planned?: Planned }).planned = p;
            return {
              ...req,
              method: p.method as autocannon.Request['method'],
              path: p.path,
              headers: { authorization: `Bearer ${p.tenant.tokens.get(p.user)!}`, ...(p.body === undefined ? {} : { 'content-type': 'application/json' }) },
              ...(p.body === undefined ? {} : { body: JSON.stringify(p.body) }),
            };
          },
          onResponse: (status: number, body: string, context: object) => {
            const p = (context as { planned: Planned }).planned;
            p.answered = true;
            unanswered.delete(p);
            const ms = clientMs.get(p.op) ?? [];
            ms.push(performance.now() - p.at!);
            clientMs.set(p.op, ms);
            p.onAnswer?.(status);
            if (status < 300) {
              count(p.op, String(status));
              try {
                p.onSuccess?.(body ? JSON.parse(body) : undefined);
              } catch {
                // A success body that is not JSON: nothing to learn from it.
              }
              return;
            }
            let code = '';
            try {
              code = JSON.parse(body).code ?? '';
            } catch {
              code = 'not json';
            }
            count(p.op, `${status} ${code}`);
            if (status >= 500) {
              fiveXx++;
              if (fiveXxSamples.length < 5) fiveXxSamples.push(`${p.method} ${p.path} → ${status} ${body.slice(0, 200)}`);
            }
          },
        },
      ],
    });
    progress('load done; checking the invariants');
    for (const p of unanswered) p.onLost?.();
    await settled(server, answeredBefore + result.requests.sent);
    server.log.recording = false;
    const items = await scanAll(server);
    const violations = await checkInvariants(items, tenants, tally);
    // What the run left behind it: requests the rate limiter leased per request answered (1 at best;
    // each lease is a write), and outbox events the in-process relay has not delivered yet.
    const leased = items.filter((it) => String(it.PK).endsWith('#RATELIMIT') && String(it.SK).startsWith('W#')).reduce((n, it) => n + Number(it.used ?? 0), 0);
    const pendingEvents = items.filter((it) => it.entityType === 'OUTBOX' && it.duePk !== undefined).length;
    figures['load.ratelimit.leased_per_request'] = Math.round((leased / Math.max(1, server.answered.count)) * 100) / 100;
    figures['load.server.dropped'] = server.log.dropped;
    notes.push(`load.tail: ${server.log.dropped} requests dropped unrun by the server: their client had left (timed out) while they waited for their turn.`);
    notes.push(`load.tail: the rate limiter leased ${leased} requests for ${server.answered.count} answered (seeding included); ${pendingEvents} outbox events still pending delivery when the load ended.`);

    const errors = fiveXx + result.errors;
    figures['load.http.errors'] = errors;
    figures['load.http.p99_ms'] = round1(result.latency.p99);
    figures['load.http.rps'] = round1(result.requests.average);
    figures['load.http.requests'] = result.requests.total;
    figures['load.http.4xx'] = result['4xx'];
    figures['load.invariant_violations'] = violations.length;
    notes.push(
      `load.http: ${CONNECTIONS} connections over ${TENANTS} tenants for ${SECONDS} s against npm start: ${result.requests.total} requests, ` +
        `${round1(result.requests.average)} rps, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; ` +
        `${fiveXx} 5xx, ${result.errors} connection errors (${result.timeouts} timeouts), ${result['4xx']} 4xx.`,
    );
    for (const [op, outcomes] of [...tally.byOperation].sort()) {
      notes.push(`load.http: ${op}: ${[...outcomes].sort().map(([o, n]) => `${o} ×${n}`).join(', ')}`);
    }
    for (const s of fiveXxSamples) notes.push(`load.http: 5xx: ${s}`);
    Object.assign(figures, tailReport(clientMs, clientTimeouts, server.log.answers, server.log.background, loadStart, notes));
    const serverErrors = server.errors.filter((l) => l.trim());
    if (fiveXx && serverErrors.length) notes.push(`load.http: the server's stderr (first lines): ${serverErrors.slice(0, 5).join(' | ').slice(0, 1500)}`);
    notes.push(
      `load.invariants: ${violations.length} violations over ${items.length} items (pool caps and counters, one owner per account, one claim winner, uniqueness guards ↔ records, stage and open-opportunity counters, nothing created lost).`,
    );
    for (const v of violations.slice(0, 20)) notes.push(`load.invariants: ${v}`);
  } catch (err) {
    notes.push(`load.http: no figure: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await server?.stop();
  }
}

/** `LOAD_SECONDS=10 npx tsx bench/load.ts`: this part alone. */
if (isEntry(import.meta.url)) runStandalone('load', loadScenarios);
