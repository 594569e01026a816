/**
 * `npm run cost`: the monthly cost model (issue 11 point 10), written to docs/cost.md.
 *
 * It multiplies a usage profile (what a user does in a working day, what marketing sends) by the
 * figures `npm run bench` measured (bench/results.json: DynamoDB capacity units per operation,
 * handler durations, bundle-free init) and by list prices. Everything that is an assumption rather
 * than a measurement is named in USAGE or ASSUMED and printed in the document, so the model can be
 * argued with line by line. Free tiers are ignored (they matter only for the smallest accounts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { consumers } from '#events/consumers.ts';
import { schedules } from '#events/schedules.ts';

/** List prices, us-east-1, on-demand, as of the date given; check them before relying on the totals. */
export const PRICES = {
  asOf: '2026-12-05',
  region: 'us-east-1',
  /** Lambda, arm64: per GB-second and per request. */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** API Gateway HTTP API: per request (first 300 million a month). */
  httpApiRequest: 1.0 / 1e6,
  /** DynamoDB on-demand: per write request unit, per read request unit, per GB-month stored. */
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
  storageGbMonth: 0.25,
  /** EventBridge: per custom event published (rules delivering to Lambda add nothing). */
  busEvent: 1.0 / 1e6,
  /** EventBridge Scheduler: per invocation. */
  schedulerInvocation: 1.0 / 1e6,
  /** SES: per email sent. */
  sesEmail: 0.1 / 1000,
  /** CloudWatch Logs: per GB ingested; alarms per month. */
  logsIngestGb: 0.5,
  alarmMonth: 0.1,
  /** Secrets Manager: per secret per month (GetSecretValue, once per container start: $0.05 per 10,000, left out). */
  secretMonth: 0.4,
  /** KMS: per customer managed key per month (the signing secrets' key; requests $0.03 per 10,000, left out). */
  kmsKeyMonth: 1.0,
  /** STS AssumeRole (HTTP functions' tenant-scoped credentials, once per tenant per container per hour): no charge. */
  stsAssumeRole: 0,
  /** Cognito user pools, Essentials tier: per monthly active user. */
  cognitoMau: 0.015,
} as const;

/** What one active user does on a working day: operations of the API, as the bench names them. */
export const USAGE = {
  workingDaysPerMonth: 22,
  perUserPerDay: {
    'accounts.list': 30,
    'accounts.get': 40,
    'accounts.360': 10,
    'dashboard.read': 8,
    'activities.create': 12,
    'tasks.create': 5,
    'accounts.patch': 4,
    'accounts.create': 2,
    'leads.create': 3,
  } as Record<string, number>,
  /** The domain event each write emits (reads emit none). */
  eventOf: {
    'activities.create': 'activity.created',
    'tasks.create': 'task.created',
    'accounts.patch': 'account.updated',
    'accounts.create': 'account.created',
    'leads.create': 'lead.created',
  } as Record<string, string>,
  /** Marketing email per tenant per month, by profile size (users). */
  emailsPerMonth: { 10: 2_000, 50: 40_000, 500: 400_000 } as Record<number, number>,
  /** Stored data per user (records, their index copies, activity history), in MB. */
  storedMbPerUser: 5,
  profiles: [10, 50, 500],
  tenantCounts: [10, 1_000, 100_000],
};

/** Not measured (yet): stated so that they can be replaced by figures. */
export const ASSUMED = {
  memoryMb: 512,
  /** A consumer invocation: time and capacity (the analytics consumer's WCU per event is measured). */
  consumerMs: 30,
  consumerRcu: 1,
  consumerWcu: 1,
  /** The request authorizer: at most one invocation per request (its cache makes it fewer). */
  authorizerMs: 15,
  /** A scheduled run that finds nothing due: time and the due-index Query. */
  idleJobMs: 40,
  idleJobRcu: 1,
  /** DynamoDB writes per email recipient (freeze, claim, finish with its counters). */
  wcuPerRecipient: 6,
  /** Handler time per email recipient (the dispatch job, amortized over batches of 50). */
  msPerRecipient: 4,
  logKbPerRequest: 1,
};

type Results = Record<string, number>;

function figure(results: Results, key: string): number {
  const v = results[key];
  if (typeof v !== 'number') throw new Error(`bench/results.json has no "${key}": run \`npm run bench\` first`);
  return v;
}

const gbSeconds = (ms: number, memoryMb = ASSUMED.memoryMb) => (ms / 1000) * (memoryMb / 1024);

export interface Line {
  item: string;
  usd: number;
}

/** Monthly cost of one tenant of `users` active users, line by line. */
export function tenantMonth(results: Results, users: number): Line[] {
  const days = USAGE.workingDaysPerMonth;
  let requests = 0;
  let lambdaGbs = 0;
  let rru = 0;
  let wru = 0;
  let events = 0;
  let consumerRuns = 0;
  for (const [op, perDay] of Object.entries(USAGE.perUserPerDay)) {
    const n = perDay * days * users;
    requests += n;
    lambdaGbs += n * gbSeconds(figure(results, `duration.${op}.ms`));
    rru += n * figure(results, `${op}.rcu`);
    wru += n * (figure(results, `${op}.wcu`) + figure(results, `${op}.gsi_wcu`));
    const event = USAGE.eventOf[op];
    if (event) {
      events += n;
      consumerRuns += n * consumers.filter((c) => c.eventTypes.includes(event)).length;
    }
  }
  const consumerWru = consumerRuns * ASSUMED.consumerWcu + events * figure(results, 'aggregates.per_event.wcu');
  const emails = USAGE.emailsPerMonth[users] ?? 0;
  const lines: Line[] = [
    { item: 'API Gateway requests', usd: requests * PRICES.httpApiRequest },
    { item: 'Lambda: HTTP functions', usd: requests * PRICES.lambdaRequest + lambdaGbs * PRICES.lambdaGbSecond },
    { item: 'Lambda: request authorizer (upper bound)', usd: requests * (PRICES.lambdaRequest + gbSeconds(ASSUMED.authorizerMs) * PRICES.lambdaGbSecond) },
    { item: 'DynamoDB: reads of requests', usd: rru * PRICES.readRequestUnit },
    { item: 'DynamoDB: writes of requests (table + indexes)', usd: wru * PRICES.writeRequestUnit },
    {
      item: 'DynamoDB: rate limiter (leases from the shared counter)',
      usd: requests * (figure(results, 'ratelimit.per_request.wcu') * PRICES.writeRequestUnit + figure(results, 'ratelimit.per_request.rcu') * PRICES.readRequestUnit),
    },
    { item: 'EventBridge: domain events', usd: events * PRICES.busEvent },
    {
      item: 'Event consumers (Lambda + DynamoDB)',
      usd:
        consumerRuns * (PRICES.lambdaRequest + gbSeconds(ASSUMED.consumerMs) * PRICES.lambdaGbSecond + ASSUMED.consumerRcu * PRICES.readRequestUnit) +
        consumerWru * PRICES.writeRequestUnit,
    },
    {
      item: `Email: ${emails.toLocaleString('en-US')} a month (SES + dispatch)`,
      usd: emails * (PRICES.sesEmail + ASSUMED.wcuPerRecipient * PRICES.writeRequestUnit + gbSeconds(ASSUMED.msPerRecipient) * PRICES.lambdaGbSecond),
    },
    { item: 'DynamoDB storage', usd: ((users * USAGE.storedMbPerUser) / 1024) * PRICES.storageGbMonth },
    { item: 'CloudWatch Logs ingestion', usd: ((requests + consumerRuns) * ASSUMED.logKbPerRequest / 1024 / 1024) * PRICES.logsIngestGb },
    { item: 'Cognito monthly active users', usd: users * PRICES.cognitoMau },
  ];
  return lines;
}

/** Runs of a five-field cron in a 30-day month (a cron that runs every day: one day's runs × 30). */
export function runsPerMonth(cron: string): number {
  const daily = cron.trim().split(/\s+/).slice(2).join(' ') === '* * *';
  const start = new Date('2026-11-01T00:00:00Z');
  const end = new Date(start.getTime() + (daily ? 1 : 30) * 86_400_000);
  const job = new Cron(cron, { timezone: 'UTC' });
  let runs = 0;
  for (let at = job.nextRun(new Date(start.getTime() - 1)); at && at < end; at = job.nextRun(at)) runs++;
  return daily ? runs * 30 : runs;
}

/** What the deployment costs with no user active: the schedules, their idle runs, secrets and alarms. */
export function atRest(): Line[] {
  const runs = schedules.reduce((n, s) => n + runsPerMonth(s.cron), 0);
  const alarms = schedules.length + consumers.length + 2; // a DLQ alarm each, plus the outbox relay's and the SES events'
  return [
    { item: `EventBridge Scheduler: ${runs.toLocaleString('en-US')} runs of ${schedules.length} jobs`, usd: runs * PRICES.schedulerInvocation },
    { item: 'Lambda: those runs finding nothing due', usd: runs * (PRICES.lambdaRequest + gbSeconds(ASSUMED.idleJobMs) * PRICES.lambdaGbSecond) },
    { item: 'DynamoDB: their due-index reads', usd: runs * ASSUMED.idleJobRcu * PRICES.readRequestUnit },
    { item: `CloudWatch alarms (${alarms} dead-letter queues)`, usd: alarms * PRICES.alarmMonth },
    { item: 'Secrets Manager (cursor key, link-token key)', usd: 2 * PRICES.secretMonth },
    { item: 'KMS key (per-tenant signing secrets)', usd: PRICES.kmsKeyMonth },
  ];
}

const usd = (v: number) => (v >= 100 ? `$${Math.round(v).toLocaleString('en-US')}` : `$${v.toFixed(v >= 1 ? 2 : 4)}`);
const sum = (lines: Line[]) => lines.reduce((s, l) => s + l.usd, 0);

export function renderCostDoc(results: Results): string {
  const out: string[] = [];
  out.push('# What it costs', '');
  out.push(
    'Written by `npm run cost` (bench/cost.ts) from the figures of `npm run bench` (bench/results.json) and the list',
    `prices below (${PRICES.region}, as of ${PRICES.asOf}; free tiers ignored). Edit the usage profile or the assumptions in`,
    'bench/cost.ts, never this file. Figures measured locally lean high: DynamoDB Local and the local router stand in for',
    'the cloud.',
    '',
  );
  out.push('## Per tenant, per month', '');
  const profiles = USAGE.profiles.map((users) => ({ users, lines: tenantMonth(results, users) }));
  out.push(`| line | ${profiles.map((p) => `${p.users} users`).join(' | ')} |`, `| --- | ${profiles.map(() => '---:').join(' | ')} |`);
  for (let i = 0; i < profiles[0]!.lines.length; i++) {
    out.push(`| ${profiles[0]!.lines[i]!.item.replace(/: [\d,]+ a month/, '')} | ${profiles.map((p) => usd(p.lines[i]!.usd)).join(' | ')} |`);
  }
  out.push(`| **total per tenant** | ${profiles.map((p) => `**${usd(sum(p.lines))}**`).join(' | ')} |`);
  out.push(`| per user | ${profiles.map((p) => usd(sum(p.lines) / p.users)).join(' | ')} |`, '');

  const rest = atRest();
  out.push('## For many tenants, per month', '');
  out.push('All tenants of one profile, plus the deployment at rest (once, whatever the number of tenants).', '');
  out.push(`| tenants | ${profiles.map((p) => `${p.users} users each`).join(' | ')} |`, `| --- | ${profiles.map(() => '---:').join(' | ')} |`);
  for (const n of USAGE.tenantCounts) {
    out.push(`| ${n.toLocaleString('en-US')} | ${profiles.map((p) => usd(n * sum(p.lines) + sum(rest))).join(' | ')} |`);
  }
  out.push('');

  out.push('## At rest (no user active)', '');
  out.push('| line | per month |', '| --- | ---: |');
  for (const l of rest) out.push(`| ${l.item} | ${usd(l.usd)} |`);
  out.push(`| **total** | **${usd(sum(rest))}** |`, '');
  out.push(
    'Storage is per tenant (above) and stays at rest. Nothing else runs: no server, no provisioned capacity, no',
    'NAT gateway; the HTTP API, the functions and the table cost nothing without requests.',
    '',
  );

  out.push('## The usage profile', '');
  out.push(`A user's working day (${USAGE.workingDaysPerMonth} working days a month):`, '');
  out.push('| operation | per day | handler ms (median, measured) | RCU | WCU + index WCU | event |', '| --- | ---: | ---: | ---: | ---: | --- |');
  for (const [op, n] of Object.entries(USAGE.perUserPerDay)) {
    out.push(
      `| ${op} | ${n} | ${figure(results, `duration.${op}.ms`)} | ${figure(results, `${op}.rcu`)} | ${figure(results, `${op}.wcu`)} + ${figure(results, `${op}.gsi_wcu`)} | ${USAGE.eventOf[op] ?? ''} |`,
    );
  }
  out.push('', `Marketing email a month: ${Object.entries(USAGE.emailsPerMonth).map(([u, e]) => `${u} users ${e.toLocaleString('en-US')}`).join(', ')}. Stored data: ${USAGE.storedMbPerUser} MB per user.`, '');
  out.push('## Assumptions (not measured yet)', '');
  out.push('| what | value |', '| --- | ---: |');
  for (const [k, v] of Object.entries(ASSUMED)) out.push(`| ${k} | ${v} |`);
  out.push('', '## Prices', '', '| price | USD |', '| --- | ---: |');
  for (const [k, v] of Object.entries(PRICES)) if (typeof v === 'number') out.push(`| ${k} | ${v} |`);
  out.push('');
  return out.join('\n');
}

export const RESULTS_FILE = path.join(import.meta.dirname, 'results.json');
export const COST_DOC = path.join(import.meta.dirname, '..', 'docs', 'cost.md');

if (process.argv[1] === import.meta.filename) {
  const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Results;
  writeFileSync(COST_DOC, renderCostDoc(results));
  console.log(`wrote ${path.relative(process.cwd(), COST_DOC)}`);
}
