/**
 * The service report (api/service.md "Service report"), kept from the ticket events exactly like
 * the analytics aggregates (domain/analytics/aggregates.ts `applySubject`): each ticket is one
 * subject whose facts (below) are stored in its CONTRIB item with the ticket's version; a newer
 * version adds new − old to the rows in one transaction, so an event delivered twice or out of
 * order changes nothing, and the report never reads a ticket.
 *
 * Rows: partition `T#t#SVCAGG`, sort keys `D#<month>#S` (the month's figures) and `NOW#S` (the
 * backlog). Columns:
 *   created, solved, pc|<priority>, ps|<priority>   (created / solved by priority)
 *   frm, frb, frh|<minutes>                          (first responses met / breached; histogram of business minutes)
 *   rsm, rsb                                         (resolution met / breached, at the solve)
 *   cr, cs                                           (CSAT responses / satisfied)
 *   tg|<tag>                                         (tags of the month's created tickets)
 *   backlog                                          (NOW: tickets neither solved nor closed)
 *
 * MEDIAN: a histogram of whole business minutes per month (`frh|<m>` → count): exact, bounded by
 * the number of distinct minute values (≤ 525,600, the largest target; in practice a few hundred
 * attributes), one GetItem to read. Minutes are business minutes of the ticket's own SLA policy
 * (`slaPolicy`, stored on the ticket), from creation to the first response, rounded down.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { requireRole } from '#domain/identity.ts';
import { applySubject, rowOf, type Fact } from '#domain/analytics/aggregates.ts';
import { monthOf } from '#domain/analytics/periods.ts';
import { cachedRules } from '#domain/pool/rules.ts';
import { businessMinutesBetween, SLA_PRIORITIES } from '#domain/service/business-hours.ts';
import { ticketOf, type Ticket } from '#domain/service/ticket.ts';
import { entityKey, t } from '#domain/table/keys.ts';
import { getItem, getItems } from '#domain/table/query.ts';
import type { DomainEvent } from '#events/catalog.ts';

/** The most frequent tags a report names. */
export const TOP_TAGS = 10;
export const REPORT_ROLES = ['support', 'admin', 'manager'] as const;
export const svcAggPartition = (tenantId: string) => `${t(tenantId)}#SVCAGG`;
const SUBJECT_KIND = 'svc-ticket';

/** What one ticket adds to the report's rows, as it is now. */
export function ticketReportFacts(ticket: Ticket, timeZone: string): Fact[] {
  const facts: Fact[] = [];
  const add = (at: string, attrs: Record<string, number>) => facts.push({ period: monthOf(at, timeZone), userId: null, teamId: null, attrs });
  const created: Record<string, number> = { created: 1, [`pc|${ticket.priority}`]: 1 };
  for (const tag of new Set(ticket.tags)) created[`tg|${tag}`] = 1;
  add(ticket.createdAt, created);
  if (ticket.firstRespondedAt) {
    const breached = ticket.sla.firstResponseBreachedAt !== null;
    const minutes = businessMinutesBetween(ticket.slaPolicy, new Date(ticket.createdAt), new Date(ticket.firstRespondedAt));
    add(ticket.firstRespondedAt, { [breached ? 'frb' : 'frm']: 1, [`frh|${Math.max(0, Math.floor(minutes))}`]: 1 });
  }
  if (ticket.solvedAt && (ticket.status === 'solved' || ticket.status === 'closed')) {
    add(ticket.solvedAt, { solved: 1, [`ps|${ticket.priority}`]: 1, [ticket.sla.resolutionBreachedAt !== null ? 'rsb' : 'rsm']: 1 });
  }
  if (ticket.csat) add(ticket.csat.answeredAt, { cr: 1, cs: ticket.csat.score >= 4 ? 1 : 0 });
  if (ticket.status !== 'solved' && ticket.status !== 'closed') facts.push({ period: 'NOW', userId: null, teamId: null, attrs: { backlog: 1 } });
  return facts;
}

/** Consumer: any ticket event → the ticket as it now is (GetItem) → its contribution at its version. */
export async function applyServiceEvent(event: DomainEvent): Promise<boolean> {
  if (!event.type.startsWith('ticket.')) return false;
  const tenantId = event.tenantId;
  const item = await getItem(entityKey(tenantId, 'TICKET', event.entity.id));
  if (!item) return false;
  const ticket = ticketOf(item);
  const { timeZone } = await cachedRules(tenantId);
  return applySubject(tenantId, { kind: SUBJECT_KIND, id: ticket.id }, ticket.version, ticketReportFacts(ticket, timeZone), svcAggPartition(tenantId));
}

export interface ServiceReport {
  period: string;
  created: number;
  solved: number;
  backlog: number;
  firstResponse: { met: number; breached: number; attainment: number | null; medianBusinessMinutes: number | null };
  resolution: { met: number; breached: number; attainment: number | null };
  csat: { responses: number; satisfied: number; score: number | null };
  byPriority: Record<(typeof SLA_PRIORITIES)[number], { created: number; solved: number }>;
  topTags: { tag: string; count: number }[];
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const count = builtOnFirstUse(() => z.int());
const attainment = builtOnFirstUse(() => z.nullable(z.number()).check(z.describe('met ÷ (met + breached), 4 decimals; null when neither')));
const priorityRow = builtOnFirstUse(() => z.object({ created: count(), solved: count() }));

/** What `GET /v1/reports/service` answers. */
export const serviceReportView = z.lazy(() =>
  z.object({
    period: f.out.code.check(z.describe('YYYY-MM in the tenant\'s time zone')),
    created: count(),
    solved: count(),
    backlog: count().check(z.describe('tickets neither solved nor closed now')),
    firstResponse: z.object({
      met: count(),
      breached: count(),
      attainment: attainment(),
      medianBusinessMinutes: z.nullable(z.int()).check(z.describe('whole business minutes from creation to the first response')),
    }),
    resolution: z.object({ met: count(), breached: count(), attainment: attainment() }),
    csat: z.object({
      responses: count(),
      satisfied: count().check(z.describe('scores 4–5')),
      score: z.nullable(z.number()).check(z.describe('satisfied ÷ responses, 4 decimals; null without responses')),
    }),
    byPriority: z.object({ urgent: priorityRow(), high: priorityRow(), normal: priorityRow(), low: priorityRow() } satisfies Record<(typeof SLA_PRIORITIES)[number], z.ZodMiniType>),
    topTags: z.array(z.object({ tag: f.out.name, count: count() })).check(z.maxLength(TOP_TAGS), z.describe(`the period's tickets' tags, most frequent first, at most ${TOP_TAGS}`)),
  }),
);

const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);

/** The lower median of a histogram (minute → count), in whole minutes. */
export function medianOf(histogram: Map<number, number>): number | null {
  const total = [...histogram.values()].reduce((s, n) => s + n, 0);
  if (total <= 0) return null;
  const rank = Math.ceil(total / 2);
  let seen = 0;
  for (const minute of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(minute)!;
    if (seen >= rank) return minute;
  }
  return null;
}

/** ONE BatchGetItem: the month's row and the backlog row. */
export async function getServiceReport(ctx: UseCaseContext, q: { period?: string | undefined }): Promise<ServiceReport> {
  requireRole(ctx.identity, ...REPORT_ROLES);
  const tenantId = ctx.identity.tenantId;
  const period = q.period ?? monthOf(ctx.now, (await cachedRules(tenantId)).timeZone);
  const [monthItem, nowItem] = await getItems([
    { PK: svcAggPartition(tenantId), SK: `D#${period}#S` },
    { PK: svcAggPartition(tenantId), SK: 'NOW#S' },
  ]);
  const row = rowOf(monthItem);
  const n = (k: string) => row[k] ?? 0;
  const histogram = new Map<number, number>();
  const tags: { tag: string; count: number }[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (k.startsWith('frh|') && v > 0) histogram.set(Number(k.slice(4)), v);
    if (k.startsWith('tg|') && v > 0) tags.push({ tag: k.slice(3), count: v });
  }
  tags.sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return {
    period,
    created: n('created'),
    solved: n('solved'),
    backlog: rowOf(nowItem).backlog ?? 0,
    firstResponse: { met: n('frm'), breached: n('frb'), attainment: ratio(n('frm'), n('frm') + n('frb')), medianBusinessMinutes: medianOf(histogram) },
    resolution: { met: n('rsm'), breached: n('rsb'), attainment: ratio(n('rsm'), n('rsm') + n('rsb')) },
    csat: { responses: n('cr'), satisfied: n('cs'), score: ratio(n('cs'), n('cr')) },
    byPriority: Object.fromEntries(SLA_PRIORITIES.map((p) => [p, { created: n(`pc|${p}`), solved: n(`ps|${p}`) }])) as ServiceReport['byPriority'],
    topTags: tags.slice(0, TOP_TAGS),
  };
}
