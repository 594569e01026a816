/**
 * The `sla-escalation` job (api/service.md "The sla-escalation job"): every minute, for all
 * tenants, breaches the SLA clocks whose due time has passed unmet and warns the assignee
 * `warnBeforeMinutes` (business minutes) before.
 *
 * WHAT IT READS. Each ticket with a running clock has ONE due item beside it (`T#t#TICKET#<id>` /
 * `SLA`) in the sparse `byDue` partitions `DUE#SLA#<shard 0..3>`, sort key
 * `<next instant>#<tenant>#<ticketId>`: the earliest of its running clocks' warning (until given)
 * or due time. The job reads `dueSk < <now>$` per shard, so every item it reads is work, then the
 * tickets and their due items (one strongly consistent BatchGetItem per page): its reads grow with
 * the tickets due, never with the tickets stored. After acting it points the item at the ticket's
 * next instant (warning → breach, per clock), or takes it out of the index when no clock runs.
 * A ticket write that moves a clock (priority, pending, response, solve, reopen) points the item
 * at the earliest instant again (it does not know whether a warning was given: the job, reading
 * the item's `warned` flags, just moves it on).
 *
 * EXACTLY ONCE. Per ticket, one transaction: the ticket with `…BreachedAt` set (conditioned on
 * the version read; only warnings: a ConditionCheck of it), `ticket.sla_breached`, the
 * notifications (ids derived from ticket, clock and recipient, `attribute_not_exists`), and the
 * due item's flags and next instant (conditioned on the `rev` read). Killed anywhere, what it did
 * has left the range it reads and what it did not is still there; two runs at once: one
 * transaction lands, the other fails a condition, re-reads and finds nothing left to do.
 */
import { ulid } from 'ulid';
import type { UseCaseContext } from '#domain/context.ts';
import { nextVersion, toItem, VersionRace } from '#domain/records.ts';
import { entityKey, t, typePartition } from '#domain/table/keys.ts';
import { getItems, queryAll } from '#domain/table/query.ts';
import { sweepDue } from '#domain/table/due-sweep.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { addNotification, derivedId, NotificationExists } from '#domain/notifications/notifications.ts';
import { breach, clockRunning, dueAt, nextSlaInstant, warnAt, type Breach } from '#domain/service/sla-clock.ts';
import { SLA_CLOCKS, ticketOf, ticketSnapshot, ticketSpec, type SlaClock, type Ticket } from '#domain/service/ticket.ts';

type Item = Record<string, unknown>;

export const SLA_SHARDS = 4;
export const JOB_USER = 'system:sla-escalation';
export const slaDueKey = (tenantId: string, ticketId: string) => ({ PK: `${t(tenantId)}#TICKET#${ticketId}`, SK: 'SLA' });
export const slaDuePartition = (shard: number) => `DUE#SLA#${shard}`;
const shardOf = (ticketId: string) => ticketId.charCodeAt(ticketId.length - 1) % SLA_SHARDS;
const WARNED_ATTR: Record<SlaClock, string> = { firstResponse: 'firstResponseWarned', resolution: 'resolutionWarned' };

function pointer(tenantId: string, ticketId: string, instant: string | null) {
  return instant === null ? null : { duePk: slaDuePartition(shardOf(ticketId)), dueSk: `${instant}#${tenantId}#${ticketId}` };
}

/**
 * For a ticket write (domain/service/tickets.ts): points the due item at the ticket's next
 * instant when that moved (a new ticket: always). Leaves the `warned` flags alone.
 */
export function slaDueWrites(ctx: UseCaseContext, uow: UnitOfWork, before: Ticket | undefined, after: Ticket): UnitOfWork {
  const tenantId = ctx.identity.tenantId;
  const next = nextSlaInstant(after);
  if (before && nextSlaInstant(before) === next && before.sla.resolutionDueAt === after.sla.resolutionDueAt && before.sla.firstResponseDueAt === after.sla.firstResponseDueAt) return uow;
  const p = pointer(tenantId, after.id, next);
  return uow.update(slaDueKey(tenantId, after.id), {
    expression: `SET tenantId = :tenant, ticketId = :id, entityType = :type${p ? ', duePk = :pk, dueSk = :sk' : ''}${p ? '' : ' REMOVE duePk, dueSk'}`,
    values: { ':tenant': tenantId, ':id': after.id, ':type': 'SLADUE', ...(p ? { ':pk': p.duePk, ':sk': p.dueSk } : {}) },
  });
}

// ---------------------------------------------------------------------------------------
// The job

export interface SlaEscalationOptions {
  now?: Date;
  /** Milliseconds left in this invocation; none: run to completion. */
  timeLeftMs?: () => number;
  /** Fault injection for tests: throw once this many tickets have been acted on. */
  failAfter?: number;
  /** Query page size. */
  pageSize?: number;
  /** Test hook: after the job has read a ticket and before it writes. */
  beforeWrite?: (ticketId: string) => Promise<void>;
}

export type SlaEscalationReport = {
  job: 'sla-escalation';
  now: string;
  /** Due items acted on (a breach, a warning, or moving the item on). */
  processed: number;
  breaches: number;
  warnings: number;
  notifications: number;
  /** Due items of tickets that changed meanwhile and had nothing due after all (moved on or dropped). */
  moved: number;
  complete: boolean;
};

export class InjectedFailure extends Error {}
class RevMoved extends Error {}
const SAFETY_MS = 20_000;
const MAX_ATTEMPTS = 8;

export async function runSlaEscalation(opts: SlaEscalationOptions = {}): Promise<SlaEscalationReport> {
  const now = opts.now ?? new Date();
  const report: SlaEscalationReport = { job: 'sla-escalation', now: now.toISOString(), processed: 0, breaches: 0, warnings: 0, notifications: 0, moved: 0, complete: true };
  const supportCache = new Map<string, Promise<string[]>>();
  const run = { now, opts, report, supportOf: (tenantId: string) => supportCache.get(tenantId) ?? cacheSet(supportCache, tenantId, supportUsers(tenantId)) };
  const partitions = Array.from({ length: SLA_SHARDS }, (_, shard) => slaDuePartition(shard));
  report.complete = await sweepDue(
    { partitions, before: now.toISOString(), pageSize: opts.pageSize ?? 50, safetyMs: SAFETY_MS, ...(opts.timeLeftMs ? { timeLeftMs: opts.timeLeftMs } : {}) },
    async (dues) => {
      // The tickets and their due items as they are now (the index may lag): one BatchGetItem.
      const keys = dues.flatMap((d) => [entityKey(d.tenantId as string, 'TICKET', d.ticketId as string), slaDueKey(d.tenantId as string, d.ticketId as string)]);
      const fresh = await getItems(keys);
      for (let i = 0; i < dues.length; i++) {
        await escalate(run, dues[i]!.tenantId as string, dues[i]!.ticketId as string, fresh[2 * i], fresh[2 * i + 1]);
        report.processed++;
        if (opts.failAfter !== undefined && report.processed >= opts.failAfter) throw new InjectedFailure(`injected failure after ${report.processed} tickets`);
      }
    },
  );
  return report;
}

function cacheSet<K, V>(m: Map<K, V>, k: K, v: V): V {
  m.set(k, v);
  return v;
}

/** Every `support` user of the tenant's directory: who hears of a breach on an unassigned ticket. */
async function supportUsers(tenantId: string): Promise<string[]> {
  const users = await queryAll({
    index: 'byType',
    pk: typePartition(tenantId, 'USER'),
    filter: { expression: '#role = :support', names: { '#role': 'role' }, values: { ':support': 'support' } },
  }, () => false);
  return users.map((u) => u.userId as string).sort();
}

interface Run {
  now: Date;
  opts: SlaEscalationOptions;
  report: SlaEscalationReport;
  supportOf(tenantId: string): Promise<string[]>;
}

/** One ticket: decide from the ticket as stored, write once; a lost condition re-reads and decides again. */
async function escalate(run: Run, tenantId: string, ticketId: string, ticketItem: Item | undefined, dueItem: Item | undefined): Promise<void> {
  const ctx: UseCaseContext = { identity: { tenantId, userId: JOB_USER, role: 'admin' }, now: run.now };
  for (let attempt = 0; ; attempt++) {
    if (!dueItem) return; // gone meanwhile
    try {
      await escalateOnce(run, ctx, ticketId, ticketItem ? ticketOf(ticketItem) : undefined, dueItem);
      return;
    } catch (err) {
      const lost = err instanceof VersionRace || err instanceof RevMoved || err instanceof NotificationExists;
      if (!lost || attempt >= MAX_ATTEMPTS) throw err;
      [ticketItem, dueItem] = await getItems([entityKey(tenantId, 'TICKET', ticketId), slaDueKey(tenantId, ticketId)]);
    }
  }
}

async function escalateOnce(run: Run, ctx: UseCaseContext, ticketId: string, ticket: Ticket | undefined, due: Item): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  const now = run.now.toISOString();
  const uow = new UnitOfWork(ctx);
  const warned: Record<SlaClock, boolean> = { firstResponse: due.firstResponseWarned === true, resolution: due.resolutionWarned === true };
  const breaches: Breach[] = [];
  const warnings: SlaClock[] = [];
  let current = ticket;
  let notified = 0;
  if (ticket) {
    let next = ticket;
    for (const clock of SLA_CLOCKS) {
      if (!clockRunning(next, clock)) continue;
      if (now >= dueAt(next, clock)) {
        const b = breach(next, clock);
        next = b.ticket;
        breaches.push(b.breach);
        warned[clock] = true; // past the due time a warning says nothing more
      } else if (!warned[clock] && now >= warnAt(next, clock)) {
        warnings.push(clock);
        warned[clock] = true;
      }
    }
    await run.opts.beforeWrite?.(ticketId);
    if (breaches.length) {
      current = nextVersion(ctx, ticket, next);
      uow.put(toItem(ticketSpec, tenantId, current), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': ticket.version },
        onConditionFailed: () => new VersionRace(),
      });
      for (const b of breaches) {
        uow.emit('ticket.sla_breached', { type: 'ticket', id: ticketId }, { ...ticketSnapshot(current), clock: b.clock, dueAt: b.dueAt });
        const recipients = current.assigneeId ? [current.assigneeId] : await run.supportOf(tenantId);
        for (const userId of recipients) {
          addNotification(ctx, uow, {
            id: derivedId(tenantId, 'ticket.sla_breached', ticketId, b.clock, userId),
            userId,
            kind: 'ticket.sla_breached',
            message: `Ticket #${current.number} "${current.subject}" breached its ${b.clock === 'firstResponse' ? 'first response' : 'resolution'} target (due ${b.dueAt}).`,
            entityType: 'ticket',
            entityId: ticketId,
            data: { clock: b.clock, dueAt: b.dueAt, number: current.number },
          });
          notified++;
        }
      }
    } else {
      uow.check(entityKey(tenantId, 'TICKET', ticketId), {
        condition: '#v = :v',
        names: { '#v': 'version' },
        values: { ':v': ticket.version },
        onConditionFailed: () => new VersionRace(),
      });
    }
    for (const clock of warnings) {
      if (!current!.assigneeId) continue; // nobody to warn yet; the breach will reach support
      addNotification(ctx, uow, {
        id: derivedId(tenantId, 'ticket.sla_warning', ticketId, clock),
        userId: current!.assigneeId,
        kind: 'ticket.sla_warning',
        message: `Ticket #${current!.number} "${current!.subject}": its ${clock === 'firstResponse' ? 'first response' : 'resolution'} is due at ${dueAt(current!, clock)}.`,
        entityType: 'ticket',
        entityId: ticketId,
        data: { clock, dueAt: dueAt(current!, clock), number: current!.number },
      });
      notified++;
    }
  }
  // The due item: its flags and the next instant (none: out of the index), conditioned on the rev read.
  const p = current ? pointer(tenantId, ticketId, nextSlaInstant(current, warned)) : null;
  const sets = ['#fw = :fw', '#rw = :rw', 'rev = :rev'];
  if (p) sets.push('duePk = :pk', 'dueSk = :sk');
  uow.update(
    slaDueKey(tenantId, ticketId),
    {
      expression: `SET ${sets.join(', ')}${p ? '' : ' REMOVE duePk, dueSk'}`,
      names: { '#fw': WARNED_ATTR.firstResponse, '#rw': WARNED_ATTR.resolution },
      values: { ':fw': warned.firstResponse, ':rw': warned.resolution, ':rev': ulid(), ...(p ? { ':pk': p.duePk, ':sk': p.dueSk } : {}) },
    },
    due.rev === undefined
      ? { condition: 'attribute_exists(PK) AND attribute_not_exists(rev)', onConditionFailed: () => new RevMoved() }
      : { condition: 'rev = :readRev', values: { ':readRev': due.rev }, onConditionFailed: () => new RevMoved() },
  );
  await uow.commit(undefined);
  run.report.breaches += breaches.length;
  run.report.warnings += warnings.filter(() => current?.assigneeId).length;
  run.report.notifications += notified;
  if (!breaches.length && !warnings.length) run.report.moved++;
}
