/**
 * NPS surveys (api/service.md "Satisfaction surveys"): create, read with stats, list, send, and
 * the one answer of each recipient.
 *
 * SENDING is the `campaign-dispatch` job's (domain/marketing/dispatch.ts): `/send` makes the
 * survey `sending` and due in `DUE#CAMP` at once; the next run freezes the segment (one recipient
 * per normalized email, suppressed ones `suppressed`), sends in batches of ≤ 50, paced, each
 * recipient at most once, and marks the survey `sent`. `surveyMailing` is what the job needs to
 * know of a survey: its keys, its template and a recipient's entry (the signed `/s/` link).
 *
 * Keys (docs/access-patterns.md "Service: surveys"):
 *   - survey      `T#t#SURVEY#<id>` / `SURVEY`; byType `T#t#SURVEY` / `<id>` (newest first); while due, byDue `DUE#CAMP`;
 *   - its stats   `T#t#SURVEY#<id>` / `STATS` (the job's counters and the answers' counters);
 *   - recipient   `T#t#SURVEY#<id>#SURVRCPT` / `<recipientId>`; byParent `…#SURVRCPT#<status>`.
 *
 * ANSWER: one transaction — the recipient (`attribute_not_exists(answeredAt)`: else 409
 * `already_answered`), the stats (`responses` and the score's bucket) and `survey.answered`.
 */
import { ulid } from 'ulid';
import * as z from 'zod/mini';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError, conflict, notFound, validationFailed } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { requireRole } from '#domain/identity.ts';
import type { BulkEntry } from '#domain/mail/mailer.ts';
import { audience } from '#domain/marketing/audience.ts';
import { CAMPAIGN_DUE_PARTITION, DUE_NOW, campaignDueSk } from '#domain/marketing/keys.ts';
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import { systemContext } from '#domain/marketing/tracking.ts';
import type { Mailing } from '#domain/marketing/dispatch.ts';
import { VersionRace, retryOnVersionRace } from '#domain/records.ts';
import { t } from '#domain/table/keys.ts';
import { getItem, getItems, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { alreadyAnswered, surveyUrl, type SurveyAnswer } from '#domain/service/surveys.ts';

type Item = Record<string, unknown>;

/** Who manages surveys (api/service.md). */
export const SURVEY_ROLES = ['admin', 'support', 'marketer'] as const;
export const SURVEY_STATUSES = ['draft', 'sending', 'sent'] as const;
export type SurveyStatus = (typeof SURVEY_STATUSES)[number];
export const DEFAULT_NPS_QUESTION = 'How likely are you to recommend us to a friend or colleague?';

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const surveyCreate = z.lazy(() => z.strictObject({ name: f.name, segmentId: f.id, question: z.optional(f.text(1, 500)) }));
export type SurveyCreate = z.infer<typeof surveyCreate>;

export interface Survey {
  id: string;
  kind: 'nps';
  name: string;
  segmentId: string;
  question: string;
  status: SurveyStatus;
  sentAt: string | null;
  completedAt?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface SurveyStats {
  sent: number;
  responses: number;
  promoters: number;
  passives: number;
  detractors: number;
  nps: number | null;
}
export type SurveyView = Survey & { stats: SurveyStats };

const count = builtOnFirstUse(() => z.int());
/** An NPS survey with its stats (create, get, list, send). */
export const surveyView = z.lazy(() =>
  z.object({
    id: f.out.id,
    kind: z.literal('nps'),
    name: f.out.name,
    segmentId: f.out.id,
    question: f.out.text,
    status: z.enum(SURVEY_STATUSES),
    sentAt: z.nullable(f.out.timestamp).check(z.describe('when `/send` was called')),
    completedAt: z.optional(f.out.timestamp).check(z.describe('when the last invitation went out')),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
    stats: z.object({
      sent: count(),
      responses: count(),
      promoters: count().check(z.describe('scores 9–10')),
      passives: count().check(z.describe('scores 7–8')),
      detractors: count().check(z.describe('scores 0–6')),
      nps: z.nullable(z.int()).check(z.describe('round(100 × (promoters − detractors) ÷ responses); null without responses')),
    } satisfies Record<keyof SurveyStats, z.ZodMiniType>),
  }),
);

// ---------------------------------------------------------------------------------------
// Keys

export const surveyKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#SURVEY#${id}`, SK: 'SURVEY' });
export const surveyStatsKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#SURVEY#${id}`, SK: 'STATS' });
export const surveyListPartition = (tenantId: string) => `${t(tenantId)}#SURVEY`;
const recipientPartition = (tenantId: string, surveyId: string) => `${t(tenantId)}#SURVEY#${surveyId}#SURVRCPT`;
export const surveyRecipientKey = (tenantId: string, surveyId: string, recipientId: string) => ({ PK: recipientPartition(tenantId, surveyId), SK: recipientId });

const INTERNAL = ['PK', 'SK', 'tenantId', 'entityType', 'typePk', 'typeSk', 'duePk', 'dueSk', 'frozen', 'freezeLeaseUntil'];

function surveyOf(item: Item): Survey {
  const out: Item = { ...item };
  for (const k of INTERNAL) delete out[k];
  return out as unknown as Survey;
}

/** NPS = round(100 × (promoters − detractors) ÷ responses); null without responses. */
export function npsOf(promoters: number, detractors: number, responses: number): number | null {
  if (responses <= 0) return null;
  // Math.round rounds .5 up (towards +∞), also for negative scores: -12.5 → -12. Documented in docs/api-decisions.md.
  return Math.round((100 * (promoters - detractors)) / responses);
}

function statsOf(item: Item | undefined): SurveyStats {
  const n = (k: string) => Number(item?.[k] ?? 0);
  return { sent: n('sent'), responses: n('responses'), promoters: n('promoters'), passives: n('passives'), detractors: n('detractors'), nps: npsOf(n('promoters'), n('detractors'), n('responses')) };
}

export const bucketOf = (score: number): 'promoters' | 'passives' | 'detractors' => (score >= 9 ? 'promoters' : score >= 7 ? 'passives' : 'detractors');

// ---------------------------------------------------------------------------------------
// Use cases (HTTP)

const manage = (ctx: UseCaseContext) => requireRole(ctx.identity, ...SURVEY_ROLES);

export async function createSurvey(ctx: UseCaseContext, input: SurveyCreate): Promise<SurveyView> {
  manage(ctx);
  const tenantId = ctx.identity.tenantId;
  try {
    await audience().segmentEntity(tenantId, input.segmentId);
  } catch (err) {
    if (err instanceof DomainError && err.status === 404) throw validationFailed([{ path: 'body.segmentId', message: 'no such segment' }]);
    throw err;
  }
  const at = ctx.now.toISOString();
  const survey: Survey = {
    id: ulid(ctx.now.getTime()),
    kind: 'nps',
    name: input.name,
    segmentId: input.segmentId,
    question: input.question ?? DEFAULT_NPS_QUESTION,
    status: 'draft',
    sentAt: null,
    createdBy: ctx.identity.userId,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  return new UnitOfWork(ctx)
    .put(
      { ...survey, ...surveyKey(tenantId, survey.id), tenantId, entityType: 'SURVEY', typePk: surveyListPartition(tenantId), typeSk: survey.id },
      { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on survey ${survey.id}`) },
    )
    .emit('survey.created', { type: 'survey', id: survey.id }, { id: survey.id, version: 1, name: survey.name, segmentId: survey.segmentId })
    .commit<SurveyView>({ ...survey, stats: statsOf(undefined) });
}

/** A missing survey is a 404 before the role is judged, as for campaigns (another tenant's id looks missing to everyone). */
export async function getSurvey(ctx: UseCaseContext, id: string): Promise<SurveyView> {
  const [item, stats] = await getItems([surveyKey(ctx.identity.tenantId, id), surveyStatsKey(ctx.identity.tenantId, id)]);
  if (!item) throw notFound('survey');
  manage(ctx);
  return { ...surveyOf(item), stats: statsOf(stats) };
}

/** Newest first; each item with its stats (one BatchGetItem per page). */
export async function listSurveys(ctx: UseCaseContext, page: PageRequest): Promise<Page<SurveyView>> {
  manage(ctx);
  const tenantId = ctx.identity.tenantId;
  const raw = await queryPage({ index: 'byType', pk: surveyListPartition(tenantId), newestFirst: true }, page, surveyOf);
  const stats = raw.items.length ? await getItems(raw.items.map((s) => surveyStatsKey(tenantId, s.id))) : [];
  return { items: raw.items.map((s, i) => ({ ...s, stats: statsOf(stats[i]) })), nextCursor: raw.nextCursor };
}

/** `draft` → `sending`, due at once: the next `campaign-dispatch` run mails the segment. Again → 409 `invalid_transition`. */
export async function sendSurvey(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<SurveyView> {
  const tenantId = ctx.identity.tenantId;
  return retryOnVersionRace(ifMatch, async () => {
    const item = await getItem(surveyKey(tenantId, id));
    if (!item) throw notFound('survey');
    manage(ctx);
    const before = surveyOf(item);
    if (ifMatch !== undefined && ifMatch !== before.version) throw new VersionRace();
    if (before.status !== 'draft') throw conflict('invalid_transition', `A ${before.status} survey cannot be sent again.`, { surveyStatus: before.status });
    const at = ctx.now.toISOString();
    const next: Survey = { ...before, status: 'sending', sentAt: at, updatedAt: at, version: before.version + 1 };
    const stats = await getItem(surveyStatsKey(tenantId, id));
    return new UnitOfWork(ctx)
      .put(
        {
          ...item,
          ...next,
          duePk: CAMPAIGN_DUE_PARTITION,
          dueSk: campaignDueSk(DUE_NOW, tenantId, id),
        },
        { condition: '#v = :v', names: { '#v': 'version' }, values: { ':v': before.version }, onConditionFailed: () => new VersionRace() },
      )
      .emit('survey.sent', { type: 'survey', id }, { id, version: next.version, segmentId: next.segmentId })
      .commit<SurveyView>({ ...next, stats: statsOf(stats) });
  });
}

// ---------------------------------------------------------------------------------------
// The dispatch job's view of a survey

export function surveyMailing(tenantId: string, item: Item): Mailing {
  const s = surveyOf(item);
  return {
    id: s.id,
    status: s.status,
    segmentId: s.segmentId,
    recipientType: 'SURVRCPT',
    keys: {
      record: surveyKey(tenantId, s.id),
      stats: surveyStatsKey(tenantId, s.id),
      recipient: (rid) => surveyRecipientKey(tenantId, s.id, rid),
      statusPartition: (status) => `${recipientPartition(tenantId, s.id)}#${status}`,
    },
    compose(settings) {
      return {
        template: {
          subject: s.name,
          html: `<p>${escapeHtml(s.question)}</p><p><a href="{{h_surveyUrl}}">Answer (0–10)</a></p>`,
          text: `${s.question}\nAnswer (0–10): {{t_surveyUrl}}\n`,
          slots: {},
        },
        from: { address: settings.fromAddress },
      };
    },
    entry(tenant, r): BulkEntry {
      const rid = String(r.recipientId);
      const url = surveyUrl({ tenantId: tenant, kind: 'nps', surveyId: s.id, recipientId: rid });
      return { to: String(r.email), data: { h_surveyUrl: escapeHtml(url), t_surveyUrl: url }, headers: {}, source: { kind: 'survey', surveyId: s.id, recipientId: rid } };
    },
  };
}

// ---------------------------------------------------------------------------------------
// The /s/{token} page and answer

export async function npsInvitation(tenantId: string, surveyId: string, recipientId: string): Promise<{ question: string; answered: boolean }> {
  const [survey, recipient] = await getItems([surveyKey(tenantId, surveyId), surveyRecipientKey(tenantId, surveyId, recipientId)]);
  if (!survey || !recipient) throw notFound('link');
  return { question: String(survey.question), answered: recipient.answeredAt !== undefined };
}

export async function answerNps(
  tenantId: string,
  surveyId: string,
  recipientId: string,
  answer: SurveyAnswer,
  now: Date,
): Promise<{ score: number; comment?: string; answeredAt: string }> {
  const { answered } = await npsInvitation(tenantId, surveyId, recipientId);
  if (answered) throw alreadyAnswered();
  const answeredAt = now.toISOString();
  const comment = answer.comment !== undefined ? { ':c': answer.comment } : {};
  const bucket = bucketOf(answer.score);
  await new UnitOfWork(systemContext(tenantId, now))
    .update(
      surveyRecipientKey(tenantId, surveyId, recipientId),
      { expression: `SET answeredAt = :at, score = :score${answer.comment !== undefined ? ', #comment = :c' : ''}`, ...(answer.comment !== undefined ? { names: { '#comment': 'comment' } } : {}), values: { ':at': answeredAt, ':score': answer.score, ...comment } },
      { condition: 'attribute_exists(PK) AND attribute_not_exists(answeredAt)', onConditionFailed: () => alreadyAnswered() },
    )
    .update(surveyStatsKey(tenantId, surveyId), { expression: 'ADD responses :one, #b :one', names: { '#b': bucket }, values: { ':one': 1 } })
    .emit('survey.answered', { type: 'survey', id: surveyId }, { surveyId, recipientId, score: answer.score, answeredAt })
    .commit(null);
  return { score: answer.score, ...(answer.comment !== undefined ? { comment: answer.comment } : {}), answeredAt };
}
