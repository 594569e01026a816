/**
 * The one schedule table. The CDK workers stack (infra/workers-stack.ts) turns each entry into an EventBridge
 * Scheduler schedule targeting functions/jobs/<name>.ts; the local runtime fires the
 * same jobs on the same cron expressions, and `POST /_local/jobs/{name}` runs one on demand.
 * `cron` uses the five-field form (minute hour day-of-month month day-of-week), UTC.
 */
import type { TableAction } from '#functions/routes.ts';

export interface Schedule {
  name: string;
  cron: string;
  description: string;
  tableActions: TableAction[];
  /** Puts events on the bus. */
  publishesEvents?: boolean;
  /** Sends mail through the mail port (SES in the cloud). */
  sendsMail?: boolean;
  /** Puts public-route links in what it sends (signs tokens, knows the public base URL). */
  signsLinks?: boolean;
  /** Opens per-tenant signing secrets sealed under the KMS secrets key (domain/secrets/envelope.ts): KMS Decrypt. */
  opensSecrets?: boolean;
  /** Caps concurrent runs so a job can never starve the API of account concurrency. */
  reservedConcurrency: number;
  timeoutSeconds: number;
}

export const schedules: Schedule[] = [
  {
    name: 'outbox-sweep',
    cron: '*/5 * * * *',
    description: 'Delivers domain events whose first delivery failed (the outbox is the source of truth).',
    tableActions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    publishesEvents: true,
    reservedConcurrency: 1,
    timeoutSeconds: 300,
  },
  {
    name: 'pool-release',
    cron: '*/15 * * * *',
    description: 'Public pool: releases accounts whose releaseAt has passed and sends pool.reminder notifications (domain/pool/release-job.ts).',
    // The registry and due-index Queries, the accounts of a page (BatchGetItem), one
    // transaction per account (Put/Update/Delete/ConditionCheck), the checkpoint (Get/Put).
    tableActions: [
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem',
    ],
    // One run at a time: two runs would only contend on the same items (their conditions keep it exactly-once anyway).
    reservedConcurrency: 1,
    // A run stops 30 s before this and saves its checkpoint; the next run resumes.
    timeoutSeconds: 600,
  },
  {
    name: 'task-reminders',
    cron: '*/5 * * * *',
    description: 'task.due notifications 15 minutes before each open task is due (domain/notifications/tasks.ts).',
    tableActions: ['dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
    reservedConcurrency: 1,
    timeoutSeconds: 120,
  },
  {
    name: 'forecast-nightly',
    // Hourly, so every tenant gets its snapshot within the first hour of its own local day;
    // a tenant whose day already has one costs the run one GetItem (domain/analytics/snapshots.ts).
    cron: '5 * * * *',
    description: 'One forecast snapshot per tenant per local day, for the tenant, each team and each user (domain/analytics/snapshots.ts).',
    // The tenant registry, users and aggregate rows (Query), the day marker and MODEL row (Get), the snapshots (Put).
    tableActions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    reservedConcurrency: 1,
    // A run stops 30 s before this; the tenants left are taken by the next run.
    timeoutSeconds: 600,
  },
  {
    name: 'campaign-dispatch',
    cron: '* * * * *',
    description: 'Campaign sending: freezes audiences, sends in batches of at most 50, paced, at most once per recipient (domain/marketing/dispatch.ts).',
    // The due sweep and queues (Query), campaign, stats and settings (GetItem), the freeze
    // (BatchWriteItem), claims and finishes (one transaction each: UpdateItem), the start (UpdateItem).
    tableActions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
    sendsMail: true,
    signsLinks: true,
    // Two runs could overlap safely (per-recipient claims), but one at a time keeps the tenant's pace.
    reservedConcurrency: 1,
    // A run stops 20 s before this; the next run goes on. Well below the in-flight lease (15 min).
    timeoutSeconds: 300,
  },
  {
    name: 'workflow-runner',
    cron: '* * * * *',
    description: 'Runs the delayed workflow runs whose time has come (domain/marketing/workflow-engine.ts).',
    // The due index (Query), the run and its workflow (BatchGetItem), the actions' use cases (Get,
    // Query, Put, Update, Delete, ConditionCheck in their transactions), the run's outcome.
    tableActions: [
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem',
    ],
    // Actions are published as events of their own (a task's task.created...), through the outbox.
    // sendEmail actions send through the mail port (no public-route links in them).
    sendsMail: true,
    reservedConcurrency: 1,
    // A run stops 20 s before this; the runs left are due for the next minute's run.
    timeoutSeconds: 120,
  },
  {
    name: 'sla-escalation',
    cron: '* * * * *',
    description: 'Ticket SLA clocks: ticket.sla_breached at each missed due time, ticket.sla_warning before (domain/service/sla-escalation.ts).',
    // The due index and the support users of a tenant (Query), the tickets and due items of a page
    // (BatchGetItem), one transaction per ticket (Put ticket, ConditionCheck, Put notifications, Update due item, outbox).
    tableActions: ['dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
    reservedConcurrency: 1,
    // A run stops 20 s before this; what is left stays due for the next minute's run.
    timeoutSeconds: 120,
  },
  {
    name: 'webhook-retry',
    cron: '* * * * *',
    description: 'Webhook delivery attempts that are due: retries on the schedule, and attempts whose sender died (domain/integrations/webhook-deliveries.ts).',
    // The due index (Query), each delivery's webhook (GetItem), the claim and the outcome (UpdateItem each),
    // a webhook disabled by a 410 (UpdateItem).
    tableActions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    opensSecrets: true,
    reservedConcurrency: 1,
    // A page's attempts run at once, each at most 10 s; a run stops 20 s before this and the rest stays due.
    timeoutSeconds: 120,
  },
  {
    name: 'import-runner',
    cron: '* * * * *',
    description: 'Resumes unfinished CSV imports (a run out of time or killed) from their cursor (domain/integrations/import-runner.ts).',
    // The due index (Query), then what the imports consumer does: the lease and progress, chunks, row records, the rows' use cases.
    tableActions: [
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem',
    ],
    // One at a time: a second run would find every import leased anyway.
    reservedConcurrency: 1,
    // A run stops 20 s before this; the next minute's run goes on.
    timeoutSeconds: 300,
  },
];

/** EventBridge Scheduler wants six fields with `?` in day-of-month or day-of-week. */
export function toAwsCron(cron: string): string {
  const [minute, hour, dom, month, dow] = cron.trim().split(/\s+/);
  if (dow === undefined) throw new Error(`bad cron: ${cron}`);
  const awsDow = dow === '*' ? '?' : dow;
  const awsDom = awsDow === '?' ? dom : '?';
  return `cron(${minute} ${hour} ${awsDom} ${month} ${awsDow} *)`;
}
