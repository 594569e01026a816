/**
 * The `/s/{token}` pages (api/service.md "Satisfaction surveys"): a small HTML form that works
 * without JavaScript (radio buttons for the score, a comment, one submit posting to the same
 * URL), and the thank-you page. Everything echoed is HTML-escaped.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import type { PublicResult } from '#domain/public-result.ts';
import { answerCsat, csatInvitation } from '#domain/service/surveys-csat.ts';
import { answerNps, npsInvitation } from '#domain/service/surveys-nps.ts';
import { SCORE_RANGE, type SurveyAnswer, type SurveyKind, type SurveyTarget } from '#domain/service/surveys.ts';

interface Shown {
  question: string;
  answered: boolean;
}

async function invitation(target: SurveyTarget): Promise<Shown> {
  if (target.kind === 'csat') {
    const i = await csatInvitation(target.tenantId, target.ticketId);
    return { question: `How satisfied are you with the help on ticket #${i.ticketNumber} “${i.subject}”?`, answered: i.answered };
  }
  return npsInvitation(target.tenantId, target.surveyId, target.recipientId);
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const surveyKind = builtOnFirstUse(() => z.enum(['csat', 'nps']));

/** `GET /s/{token}` as JSON: the question and its score range, or that it was already answered. */
export const surveyFormView = z.lazy(() =>
  z.union([
    z.object({ answered: z.literal(true) }),
    z.object({
      kind: surveyKind(),
      question: f.out.text,
      answered: z.literal(false),
      scores: z.object({ min: z.int(), max: z.int() }).check(z.describe('CSAT 1..5, NPS 0..10')),
    }),
  ]),
);

/** `POST /s/{token}` as JSON: the answer recorded. */
export const surveyAnswerView = z.lazy(() => z.object({ kind: surveyKind(), score: z.int(), comment: z.nullable(f.out.text), answeredAt: f.out.timestamp }));

const LABELS: Record<SurveyKind, [string, string]> = { csat: ['very unsatisfied', 'very satisfied'], nps: ['not at all likely', 'extremely likely'] };

/** GET: the form, or a note when the survey was already answered. */
export async function surveyForm(target: SurveyTarget, path: string): Promise<PublicResult> {
  const shown = await invitation(target);
  if (shown.answered) {
    return { kind: 'html', title: 'Already answered', body: '<h1>Thank you</h1><p>This survey has already been answered.</p>', json: { answered: true } };
  }
  const { min, max } = SCORE_RANGE[target.kind];
  const [low, high] = LABELS[target.kind];
  const radios: string[] = [];
  for (let s = min; s <= max; s++) {
    radios.push(`<label><input type="radio" name="score" value="${s}" required> ${s}</label>`);
  }
  return {
    kind: 'html',
    title: 'Survey',
    body:
      `<h1>${escapeHtml(shown.question)}</h1>` +
      `<form method="post" action="${escapeHtml(path)}">` +
      `<fieldset><legend>${min} = ${low}, ${max} = ${high}</legend>${radios.join(' ')}</fieldset>` +
      '<p><label for="comment">Comment (optional)</label><br><textarea id="comment" name="comment" rows="4" cols="50" maxlength="10000"></textarea></p>' +
      '<button type="submit">Send</button></form>',
    json: { kind: target.kind, question: shown.question, answered: false, scores: { min, max } },
  };
}

/** POST: the one answer, then the thank-you page (or JSON). */
export async function answerSurvey(target: SurveyTarget, answer: SurveyAnswer, now: Date): Promise<PublicResult> {
  const answered =
    target.kind === 'csat'
      ? await answerCsat(target.tenantId, target.ticketId, answer, now)
      : await answerNps(target.tenantId, target.surveyId, target.recipientId, answer, now);
  const comment = answered.comment !== undefined ? `<p>Your comment: ${escapeHtml(answered.comment)}</p>` : '';
  return {
    kind: 'html',
    title: 'Thank you',
    body: `<h1>Thank you</h1><p>Your score: ${answered.score}</p>${comment}`,
    json: { kind: target.kind, score: answered.score, comment: answered.comment ?? null, answeredAt: answered.answeredAt },
  };
}
