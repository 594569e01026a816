/**
 * A ticket's two SLA clocks (api/service.md "SLA policy and business hours"), as pure functions of
 * the ticket: due times, pauses, priority changes, late settlements, and the next instant the
 * `sla-escalation` job has to look at. The business-time arithmetic is business-hours.ts; how each
 * rule maps onto it is docs/sla.md "Pauses, priority changes, warnings".
 */
import { addBusinessMs, businessMsBetween, MINUTE_MS, subtractBusinessMinutes, type SlaPolicy } from '#domain/service/business-hours.ts';
import type { SlaClock, Ticket, TicketPriority, TicketSla } from '#domain/service/ticket.ts';

const iso = (d: Date) => d.toISOString();

/** Both due times from the creation, for a priority, with the business time paused so far added to the resolution clock. */
export function dueTimes(policy: SlaPolicy, createdAt: string, priority: TicketPriority, pausedMs: number) {
  const start = new Date(createdAt);
  const target = policy.targets[priority];
  return {
    firstResponseDueAt: iso(addBusinessMs(policy, start, target.firstResponseMinutes * MINUTE_MS)),
    resolutionDueAt: iso(addBusinessMs(policy, start, target.resolutionMinutes * MINUTE_MS + pausedMs)),
  };
}

export function initialSla(policy: SlaPolicy, createdAt: string, priority: TicketPriority): TicketSla {
  return {
    policy: priority,
    ...dueTimes(policy, createdAt, priority, 0),
    firstResponseBreachedAt: null,
    resolutionBreachedAt: null,
    pausedSince: null,
  };
}

const dueOf = (t: Pick<Ticket, 'sla'>, clock: SlaClock) => (clock === 'firstResponse' ? t.sla.firstResponseDueAt : t.sla.resolutionDueAt);
const breachedOf = (t: Pick<Ticket, 'sla'>, clock: SlaClock) => (clock === 'firstResponse' ? t.sla.firstResponseBreachedAt : t.sla.resolutionBreachedAt);

/**
 * Is the clock still running toward its due time? First response: no response yet, never solved
 * (a solve settles it), not breached. Resolution: `new` or `open` (stopped while `pending`,
 * settled while `solved` or `closed`), not breached.
 */
export function clockRunning(t: Ticket, clock: SlaClock): boolean {
  if (breachedOf(t, clock) !== null) return false;
  if (clock === 'firstResponse') return t.firstRespondedAt === null && t.firstSolvedAt === null && t.status !== 'solved' && t.status !== 'closed';
  return t.status === 'new' || t.status === 'open';
}

export const dueAt = (t: Ticket, clock: SlaClock) => dueOf(t, clock);

/** The moment the warning of a clock is due: `warnBeforeMinutes` business minutes before its due time. */
export function warnAt(t: Ticket, clock: SlaClock): string {
  return iso(subtractBusinessMinutes(t.slaPolicy, new Date(dueOf(t, clock)), t.slaPolicy.warnBeforeMinutes));
}

/**
 * The next instant the job must look at the ticket: per running clock its warning (unless
 * `warned` says it was given) or else its due time; null when no clock runs.
 */
export function nextSlaInstant(t: Ticket, warned: Partial<Record<SlaClock, boolean>> = {}): string | null {
  let next: string | null = null;
  for (const clock of ['firstResponse', 'resolution'] as SlaClock[]) {
    if (!clockRunning(t, clock)) continue;
    const at = warned[clock] ? dueOf(t, clock) : warnAt(t, clock);
    if (next === null || at < next) next = at;
  }
  return next;
}

export interface Breach {
  clock: SlaClock;
  dueAt: string;
}

/** Marks a clock breached at its due time (for good); returns the breach. */
export function breach(t: Ticket, clock: SlaClock): { ticket: Ticket; breach: Breach } {
  const due = dueOf(t, clock);
  const sla = clock === 'firstResponse' ? { ...t.sla, firstResponseBreachedAt: due } : { ...t.sla, resolutionBreachedAt: due };
  return { ticket: { ...t, sla }, breach: { clock, dueAt: due } };
}

/**
 * Applies the SLA rules to a change of the ticket from `before` to `after` (status, priority,
 * first response already applied by the caller) at `now`:
 *   1. a priority change recomputes both due times from the creation with the ticket's policy,
 *      the resolution one plus the pause already counted;
 *   2. leaving `pending` (or reopening a solved ticket) moves the resolution due time later by
 *      the business time spent stopped, to the millisecond; entering `pending` stops the clock;
 *   3. a first response or a solve after a due time whose clock was still running breaches it
 *      (at its due time), whether or not the job got there first.
 * Returns the ticket and the breaches this change recorded.
 */
export function evolveSla(before: Ticket, after: Ticket, now: Date): { ticket: Ticket; breaches: Breach[] } {
  const at = iso(now);
  const policy = after.slaPolicy;
  let t: Ticket = { ...after, sla: { ...after.sla } };

  if (after.priority !== before.priority) {
    t.sla = { ...t.sla, policy: after.priority, ...dueTimes(policy, t.createdAt, after.priority, t.slaPausedMs) };
  }

  const stoppedSince = before.status === 'pending' ? before.sla.pausedSince : before.status === 'solved' ? before.solvedAt : null;
  const resumes = (before.status === 'pending' && after.status !== 'pending') || (before.status === 'solved' && after.status === 'open');
  if (resumes && stoppedSince) {
    const paused = businessMsBetween(policy, new Date(stoppedSince), now);
    t.slaPausedMs += paused;
    t.sla = { ...t.sla, resolutionDueAt: iso(addBusinessMs(policy, new Date(t.sla.resolutionDueAt), paused)), pausedSince: null };
  }
  if (after.status === 'pending' && before.status !== 'pending') t.sla = { ...t.sla, pausedSince: at };
  if (before.status === 'solved' && after.status === 'open') t = { ...t, solvedAt: null };
  if (after.status === 'solved' && before.status !== 'solved') t = { ...t, solvedAt: at, firstSolvedAt: t.firstSolvedAt ?? at };
  if (after.status === 'closed' && before.status !== 'closed') t = { ...t, closedAt: at };

  // Late settlements: judged against the clocks as they ran before this change settled them.
  const breaches: Breach[] = [];
  const settlesFirstResponse = (before.firstRespondedAt === null && t.firstRespondedAt !== null) || (after.status === 'solved' && before.status !== 'solved');
  const running = { ...t, status: before.status, firstRespondedAt: before.firstRespondedAt, firstSolvedAt: before.firstSolvedAt } as Ticket;
  if (settlesFirstResponse && clockRunning(running, 'firstResponse') && at > t.sla.firstResponseDueAt) {
    const b = breach(t, 'firstResponse');
    t = b.ticket;
    breaches.push(b.breach);
  }
  if (after.status === 'solved' && before.status !== 'solved' && t.sla.resolutionBreachedAt === null && at > t.sla.resolutionDueAt) {
    const b = breach(t, 'resolution');
    t = b.ticket;
    breaches.push(b.breach);
  }
  return { ticket: t, breaches };
}
