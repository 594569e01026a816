/** NPS surveys (api/service.md "Satisfaction surveys"): placeholder until the NPS slice lands. */
import { notFound } from '#domain/errors.ts';
import type { SurveyAnswer } from '#domain/service/surveys.ts';

export async function npsInvitation(_tenantId: string, _surveyId: string, _recipientId: string): Promise<{ question: string; answered: boolean }> {
  throw notFound('link');
}

export async function answerNps(_tenantId: string, _surveyId: string, _recipientId: string, _answer: SurveyAnswer, _now: Date): Promise<{ score: number; comment?: string; answeredAt: string }> {
  throw notFound('link');
}
