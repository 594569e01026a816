/**
 * Satisfaction surveys (api/service.md "Satisfaction surveys"): what the signed `/s/{token}`
 * links name, the form they show, and the one answer each takes.
 *
 * A survey token (domain/marketing/tokens.ts, kind `survey`) names the tenant and either
 * `['csat', ticketId]` (the CSAT invitation of one ticket) or `['nps', surveyId, recipientId]`.
 * Every invitation is a `SURVRCPT` item (docs/access-patterns.md "Service: surveys"); the answer
 * is ONE transaction whose condition `attribute_not_exists(answeredAt)` on that item makes a
 * second answer, however close in time, a `409 already_answered`.
 */
import * as z from 'zod/mini';
import { conflict, notFound } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { signToken, verifyToken } from '#domain/marketing/tokens.ts';
import { publicBaseUrl } from '#domain/marketing/tracking-links.ts';
import { t } from '#domain/table/keys.ts';

export type SurveyKind = 'csat' | 'nps';

/** The scores each kind takes (CSAT 1..5, NPS 0..10). */
export const SCORE_RANGE: Record<SurveyKind, { min: number; max: number }> = { csat: { min: 1, max: 5 }, nps: { min: 0, max: 10 } };

const answerBodyOf = (kind: SurveyKind) =>
  z.strictObject({
    score: z.int().check(z.gte(SCORE_RANGE[kind].min), z.lte(SCORE_RANGE[kind].max)),
    comment: z.optional(f.freeText),
  });
// Built once per kind, not on every answer.
const answerBodies = { csat: builtOnFirstUse(() => answerBodyOf('csat')), nps: builtOnFirstUse(() => answerBodyOf('nps')) };
/** The body of a survey answer (public.ts): the score in the kind's range, an optional comment. */
export const answerBody = (kind: SurveyKind) => answerBodies[kind]();
export type SurveyAnswer = { score: number; comment?: string | undefined };

/**
 * A form's fields are strings: a score of digits becomes a number, an empty comment is no
 * comment. JSON bodies are taken as they are (a string score there is a 400, as anywhere).
 */
export function answerInput(fields: Record<string, unknown>, fromForm: boolean): Record<string, unknown> {
  if (!fromForm) return fields;
  const out: Record<string, unknown> = { ...fields };
  if (typeof out.score === 'string' && /^\d{1,3}$/.test(out.score)) out.score = Number(out.score);
  if (out.comment === '') delete out.comment;
  return out;
}

export const alreadyAnswered = () => conflict('already_answered', 'This survey has already been answered.');

// ---------------------------------------------------------------------------------------
// Keys and tokens

/** The CSAT invitation of one ticket (at most one per ticket, ever). */
export const csatRecipientKey = (tenantId: string, ticketId: string) => ({ PK: `${t(tenantId)}#SURVRCPT#CSAT#${ticketId}`, SK: 'SURVRCPT' });

export type SurveyTarget = { tenantId: string; kind: 'csat'; ticketId: string } | { tenantId: string; kind: 'nps'; surveyId: string; recipientId: string };

export function surveyToken(target: SurveyTarget): string {
  const ids = target.kind === 'csat' ? ['csat', target.ticketId] : ['nps', target.surveyId, target.recipientId];
  return signToken({ tenantId: target.tenantId, kind: 'survey', ids });
}

export const surveyUrl = (target: SurveyTarget) => `${publicBaseUrl()}/s/${surveyToken(target)}`;

/** What a genuine survey token names; 404 for anything else (malformed, tampered, another kind of token). */
export function surveyTarget(token: string): SurveyTarget {
  const claims = verifyToken(token, 'survey');
  const [kind, a, b, extra] = claims?.ids ?? [];
  if (claims && kind === 'csat' && a && b === undefined) return { tenantId: claims.tenantId, kind, ticketId: a };
  if (claims && kind === 'nps' && a && b && extra === undefined) return { tenantId: claims.tenantId, kind, surveyId: a, recipientId: b };
  throw notFound('link');
}
