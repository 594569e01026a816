/**
 * HTTP: inbound forms (`/in/forms/{id}`, api/integrations.md), a public route whose proof is the
 * Standard Webhooks signature of the body. A function of its own, apart from the token routes of
 * functions/http/public.ts: it creates leads (duplicate guards, the normalizers) and opens the
 * form's sealed secret (KMS), which the tracking pixel and the links never need.
 */
import { formSubmission, submissionAnswerView } from '#domain/integrations/form.ts';
import { openSubmission, submitForm, tenantOfForm } from '#domain/integrations/forms.ts';
import { applyCustomInput } from '#functions/middleware/custom-fields.ts';
import { publicFunction } from '#functions/middleware/public-function.ts';
import { validate } from '#functions/middleware/request.ts';

export const handler = publicFunction({
  // Inbound forms: the signature over the raw body first (401), then the body (413 before both, 415, 400).
  'POST /in/forms/{id}': {
    summary: 'Submit a signed form (Standard Webhooks): a new lead, or a note on the existing record',
    operationId: 'submitForm',
    jsonOnly: true,
    signed: true,
    jsonStatuses: [201, 200],
    response: submissionAnswerView,
    body: formSubmission,
    // The form's pointer (outside any tenant) says whose form it is.
    tenantOf: tenantOfForm,
    run: async ({ token: formId, headers, rawBody, jsonBody, now }) => {
      const opened = await openSubmission(formId, headers, rawBody(), now);
      if (opened.replay) return { kind: 'json', ...opened.replay };
      const parsed = validate(formSubmission, jsonBody() ?? {}, 'body');
      // `custom` is typed by the tenant's lead fields, as for POST /v1/leads.
      const input = await applyCustomInput(opened.tenantId, { input: 'create', shows: 'leads' }, parsed);
      return { kind: 'json', ...(await submitForm(opened, input, now)) };
    },
  },
});
