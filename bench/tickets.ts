/**
 * Tickets and the `sla-escalation` job (issue 9):
 *
 * - `tickets.create.requests`: the DynamoDB requests of `POST /v1/tickets` (support, on an account,
 *   with an assignee), the caller already in the users directory: one BatchGetItem (policy,
 *   counter, account, assignee) and ONE transaction (counter, ticket, SLA due item, event, notification);
 * - `sla.escalation.rcu_ratio`: the job's consumed read capacity with 100,000 stored tickets ÷ the
 *   same with 1,000, 100 of them due in both. Each fixture is seeded with BatchWriteItem into a
 *   table of its own, in the stored form `POST /v1/tickets` writes (the ticket and its SLA due
 *   item): 100 tickets created 3 days ago (breached), the others created now (due later).
 *
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/tickets.ts` (starts its own
 * DynamoDB Local). `BENCH_TICKETS_STORED` lowers the large fixture for a quick run.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchPut } from './seed.ts';
import { ulid } from 'ulid';
import type { Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface TicketBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const progress = (msg: string) => process.stderr.write(`bench: tickets: ${msg}\n`);
const DAY = 86_400_000;

export async function ticketScenarios(input: TicketBenchInput): Promise<void> {
  await createFigures(input);
  if (process.env.BENCH_SKIP_SLA_JOB === '1') input.notes.push('sla.escalation: skipped (BENCH_SKIP_SLA_JOB=1)');
  else await escalationFigures(input);
}

async function createFigures({ call, meter, figures, notes }: TicketBenchInput): Promise<void> {
  const tenant = `bench-tickets-${randomUUID().slice(0, 6)}`;
  const sam: Caller = { tenant, user: 'sam', role: 'support' };
  const sue: Caller = { tenant, user: 'sue', role: 'support' };
  const root: Caller = { tenant, user: 'root', role: 'admin' };
  try {
    for (const c of [sam, sue, root]) await call(c, 'GET', '/v1/notifications');
    const account = (await call(root, 'POST', '/v1/accounts', { name: `工单基准 ${tenant} 有限公司` })).json as { id: string };
    await call(sam, 'POST', '/v1/tickets', { subject: 'warm-up', accountId: account.id });
    const mark = meter.mark();
    const res = await call(sam, 'POST', '/v1/tickets', { subject: '无法登录', accountId: account.id, assigneeId: 'sue', priority: 'high' });
    const usage = meter.usageSince(mark);
    if (res.status !== 201) throw new Error(`POST /v1/tickets answered ${res.status} ${res.body.slice(0, 200)}`);
    figures['tickets.create.requests'] = usage.requests;
    figures['tickets.create.rcu'] = round2(usage.rcu);
    figures['tickets.create.wcu'] = round2(usage.wcu);
    notes.push(
      `tickets.create: ${usage.requests} requests (${Object.entries(usage.byOperation).map(([op, n]) => `${n} ${op}`).join(', ')}), ` +
        `${round2(usage.rcu)} RCU, ${round2(usage.wcu)} WCU: one BatchGetItem (policy, counter, account, assignee), one transaction ` +
        '(counter, ticket, SLA due item, ticket.created, ticket.assigned notification).',
    );
  } catch (err) {
    notes.push(`tickets.create: no figure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function escalationFigures({ meter, figures, notes }: TicketBenchInput): Promise<void> {
  const { runSlaEscalation } = await import('#domain/service/sla-escalation.ts');
  const { createTableInput } = await import('#domain/table/definition.ts');
  const raw = new DynamoDBClient({
    endpoint: process.env.DYNAMODB_ENDPOINT!,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const seeder = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const mainTable = process.env.TABLE_NAME!;
  const now = new Date();
  const inTable = async <T>(fn: (table: string) => Promise<T>): Promise<T> => {
    const table = `crm-bench-sla-${randomUUID().slice(0, 8)}`;
    await raw.send(new CreateTableCommand(createTableInput(table)));
    process.env.TABLE_NAME = table;
    try {
      return await fn(table);
    } finally {
      process.env.TABLE_NAME = mainTable;
      await raw.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    }
  };
  try {
    const large = Number(process.env.BENCH_TICKETS_STORED ?? 100_000);
    const measured: Record<number, { rcu: number; requests: number; breaches: number }> = {};
    for (const stored of [1_000, large]) {
      measured[stored] = await inTable(async (table) => {
        const t0 = Date.now();
        await seed(seeder, table, `sla${stored}`, stored, 100, now);
        progress(`seeded ${stored} tickets (100 due) in ${Math.round((Date.now() - t0) / 1000)} s`);
        const mark = meter.mark();
        const report = await runSlaEscalation({ now });
        const usage = meter.usageSince(mark);
        return { rcu: usage.rcu, requests: usage.requests, breaches: report.breaches };
      });
    }
    const few = measured[1_000]!;
    const many = measured[large]!;
    const k = `${Math.round(large / 1000)}k`;
    figures['sla.escalation.1k.rcu'] = round2(few.rcu);
    figures[`sla.escalation.${k}.rcu`] = round2(many.rcu);
    figures['sla.escalation.rcu_ratio'] = round2(many.rcu / few.rcu);
    if (large !== 100_000) notes.push(`sla.escalation.rcu_ratio: measured against ${large} stored tickets (BENCH_TICKETS_STORED), not 100,000`);
    if (few.breaches !== 200 || many.breaches !== 200) notes.push(`sla.escalation: expected 200 breaches per run (100 tickets × 2 clocks), got ${few.breaches} and ${many.breaches}`);
    notes.push(
      `sla.escalation: ${round2(few.rcu)} RCU (${few.requests} requests) with 1,000 tickets stored, ${round2(many.rcu)} RCU (${many.requests} requests) ` +
        `with ${large.toLocaleString('en')} (100 due in both): the job reads the due index up to now, then the due tickets and their due items; ` +
        'the tickets not due are never read.',
    );
  } catch (err) {
    notes.push(`sla.escalation: no figure: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    process.env.TABLE_NAME = mainTable;
    raw.destroy();
  }
}

/** `stored` tickets in the stored form of POST /v1/tickets (ticket + SLA due item); `due` of them created 3 days before `now`. */
async function seed(client: DynamoDBDocumentClient, table: string, tenant: string, stored: number, due: number, now: Date): Promise<void> {
  const { toItem } = await import('#domain/records.ts');
  const { ticketSpec } = await import('#domain/service/ticket.ts');
  const { initialSla, nextSlaInstant } = await import('#domain/service/sla-clock.ts');
  const { slaPolicyBody } = await import('#domain/service/business-hours.ts');
  const { slaDueKey, slaDuePartition, SLA_SHARDS } = await import('#domain/service/sla-escalation.ts');
  const policy = slaPolicyBody.parse({ businessHours: null });
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < stored; i++) {
    const at = new Date(now.getTime() - (i < due ? 3 * DAY : 0)).toISOString();
    const id = ulid(Date.parse(at));
    const ticket = {
      id, createdAt: at, updatedAt: at, version: 1, ownerId: 'sam', ownerTeamId: null, number: i + 1, subject: `工单 ${i}`,
      accountId: null, contactId: null, priority: 'normal', type: 'question', channel: 'web', status: 'open', assigneeId: 'sam', tags: [],
      firstRespondedAt: null, solvedAt: null, closedAt: null, csat: null, sla: initialSla(policy, at, 'normal'), createdBy: 'sam',
      slaPolicy: policy, slaPausedMs: 0, firstSolvedAt: null,
    };
    items.push(toItem(ticketSpec, tenant, ticket as never));
    const next = nextSlaInstant(ticket as never)!;
    const shard = id.charCodeAt(id.length - 1) % SLA_SHARDS;
    items.push({ ...slaDueKey(tenant, id), tenantId: tenant, ticketId: id, entityType: 'SLADUE', duePk: slaDuePartition(shard), dueSk: `${next}#${tenant}#${id}` });
  }
  await batchPut(client, table, items);
}

/** `npx tsx bench/tickets.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('tickets', ticketScenarios);
