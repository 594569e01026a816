/**
 * HTTP: the public routes (no bearer token; the signed token in the address is the proof):
 * unsubscribe (`/u/{token}`), the open pixel (`/t/o/{token}`), click redirects (`/t/c/{token}`)
 * and the survey form and its answer (`/s/{token}`). Inbound forms have a function of their own
 * (functions/http/intake.ts): the pixel and the links, the busiest public routes, do not load lead
 * creation and KMS at start-up.
 */
import { escapeHtml } from '#domain/marketing/merge-tags.ts';
import { recordClick, recordOpen, unsubscribe, unsubscribeTarget } from '#domain/marketing/tracking.ts';
import { notFound } from '#domain/errors.ts';
import { verifyToken } from '#domain/marketing/tokens.ts';
import { pageTitleView, publicFunction } from '#functions/middleware/public-function.ts';
import { validate } from '#functions/middleware/request.ts';
import { answerBody, answerInput, surveyTarget } from '#domain/service/surveys.ts';
import { surveyForm, answerSurvey, surveyAnswerView, surveyFormView } from '#domain/service/surveys-pages.ts';

export const handler = publicFunction({
  // A GET changes nothing (mail scanners fetch links): it shows one button that posts back.
  // A client that asks for JSON (`Accept: application/json`) gets `response` instead of the page.
  'GET /u/{token}': {
    response: pageTitleView,
    summary: 'Show the unsubscribe page of an email link',
    operationId: 'showUnsubscribePage',
    answers: 'page',
    run: async ({ token, path }) => {
      const { email } = await unsubscribeTarget(token);
      return {
        kind: 'html',
        title: 'Unsubscribe',
        body:
          `<h1>Unsubscribe</h1><p>Stop campaign emails to <strong>${escapeHtml(email)}</strong>?</p>` +
          `<form method="post" action="${escapeHtml(path)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
          '<button type="submit">Unsubscribe</button></form>',
      };
    },
  },
  'POST /u/{token}': {
    summary: 'Unsubscribe (RFC 8058 one-click, or the page\'s button)',
    operationId: 'unsubscribe',
    answers: 'page',
    form: true,
    response: pageTitleView,
    run: async ({ token, now, form }) => {
      if (!verifyToken(token, 'unsubscribe')) throw notFound('link');
      form();
      const { email } = await unsubscribe(token, now);
      return { kind: 'html', title: 'Unsubscribed', body: `<h1>Unsubscribed</h1><p>${escapeHtml(email)} will get no more campaign emails.</p>` };
    },
  },
  // Surveys: a GET shows the form (it records nothing); the form posts back to the same URL.
  'GET /s/{token}': {
    response: surveyFormView,
    summary: 'Show a survey form',
    operationId: 'showSurveyForm',
    answers: 'page',
    run: async ({ token, path }) => surveyForm(surveyTarget(token), path),
  },
  'POST /s/{token}': {
    summary: 'Answer a survey (the form, or JSON)',
    operationId: 'answerSurvey',
    answers: 'page',
    form: true,
    json: true,
    response: surveyAnswerView,
    run: async ({ token, fields, now }) => {
      const target = surveyTarget(token);
      const raw = fields();
      const answer = validate(answerBody(target.kind), answerInput(raw.fields, raw.fromForm), 'body');
      return answerSurvey(target, answer, now);
    },
  },
  'GET /t/o/{token}': {
    summary: 'Record that an email was opened (tracking pixel)',
    operationId: 'trackOpen',
    answers: 'gif',
    run: async ({ token, now }) => {
      await recordOpen(token, now);
      return { kind: 'gif' };
    },
  },
  'GET /t/c/{token}': {
    summary: 'Follow a tracked link of a campaign email',
    operationId: 'followTrackedLink',
    answers: 'redirect',
    run: async ({ token, now }) => ({ kind: 'redirect', location: await recordClick(token, now) }),
  },
});
