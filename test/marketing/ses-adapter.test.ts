/**
 * The SES v2 adapter (domain/mail/ses.ts): its requests checked against the SES v2 service model
 * shipped with @aws-sdk/client-sesv2 (a dev dependency: its schema module gives the member names
 * and required members of every structure) and against what the real client sends for them (a
 * capturing request handler: no network); then the adapter itself, with `fetch` replaced at the
 * edge (SES has no local emulator): URL, signed headers, JSON body, answers, errors and retries.
 */
import { Readable } from 'node:stream';
import { SESv2Client, SendBulkEmailCommand, SendEmailCommand } from '@aws-sdk/client-sesv2';
// @ts-expect-error: the client's generated schema module has no type declarations.
import * as model from '@aws-sdk/client-sesv2/dist-es/schemas/schemas_0.js';
import { describe, expect, it } from 'vitest';
import { AwsServiceError } from '#domain/aws/signed-fetch.ts';
import { bulkRequest, decodeTag, sesApi, sesMailer, singleRequest, type SesApi } from '#domain/mail/ses.ts';
import { MailRefused, type BulkMail, type OutgoingMail } from '#domain/mail/mailer.ts';
import { connectionReset, CREDENTIALS, expectedSignature, recordingFetch, sha256Hex } from '#test/support/signed-fetch.ts';

type Schema = unknown[] | (() => unknown) | number;
const resolve = (s: Schema): unknown => (typeof s === 'function' ? s() : s);

/**
 * Walks `value` against a structure schema `[3, ns, name, traits, memberNames, memberSchemas, requiredCount?]`
 * or a list `[1, ns, name, traits, memberSchema]`; returns the problems found.
 */
function check(schema: Schema, value: unknown, at: string): string[] {
  const s = resolve(schema);
  // A number is a simple type; bit 64 marks a list of them (e.g. `64 | 0`: a list of strings).
  if (typeof s === 'number' && (s & 64) !== 0) return Array.isArray(value) && value.every((v) => typeof v !== 'object') ? [] : [`${at}: expected a list of scalars`];
  if (!Array.isArray(s)) return typeof value === 'object' && value !== null ? [`${at}: object where the model has a scalar`] : [];
  if (s[0] === 1) {
    if (!Array.isArray(value)) return [`${at}: expected a list`];
    return value.flatMap((v, i) => check(s[4] as Schema, v, `${at}[${i}]`));
  }
  if (s[0] === 3) {
    if (typeof value !== 'object' || value === null) return [`${at}: expected a structure ${String(s[2])}`];
    const names = s[4] as string[];
    const members = s[5] as Schema[];
    const required = typeof s[6] === 'number' ? names.slice(0, s[6]) : [];
    const problems: string[] = [];
    for (const r of required) if ((value as Record<string, unknown>)[r] === undefined) problems.push(`${at}.${r}: required by the model`);
    for (const [k, v] of Object.entries(value)) {
      const i = names.indexOf(k);
      if (i < 0) problems.push(`${at}.${k}: not a member of ${String(s[2])}`);
      else problems.push(...check(members[i]!, v, `${at}.${k}`));
    }
    return problems;
  }
  return [];
}

const bulk: BulkMail = {
  tenantId: 'acme.cn',
  from: { address: 'news@acme.example', name: '星辰 "News"' },
  replyTo: 'reply@acme.example',
  template: { subject: 'Hi {{t_name}}', html: '<p>Hi {{h_name}}</p><a href="{{h_click0}}">x</a><img src="{{h_open}}">', text: 'Hi {{t_name}}' },
  entries: Array.from({ length: 50 }, (_v, i) => ({
    to: `user${i}@example.com`,
    data: { t_name: `User ${i}`, h_name: `User &lt;${i}&gt;`, h_click0: 'https://x/t/c/abc', h_open: 'https://x/t/o/abc' },
    headers: { 'List-Unsubscribe': '<https://x/u/abc>', 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    source: { kind: 'campaign' as const, campaignId: '01CAMP', recipientId: `r${i}` },
  })),
};

const single: OutgoingMail = {
  tenantId: 'acme',
  from: { address: 'noreply@acme.example' },
  to: 'ann@example.com',
  subject: 'Your survey',
  html: '<p>Hello</p>',
  text: 'Hello',
  headers: { 'X-Entity-Ref-ID': 'abc' },
  source: { kind: 'survey', surveyId: 's1', recipientId: 'inv1' },
};

/** The real SES client, its requests captured before they would leave (to compare with ours). */
function capturingClient() {
  const requests: { path: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const client = new SESv2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { path: string; method: string; headers: Record<string, string>; body?: unknown }) => {
        requests.push({ ...req, body: typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body as Uint8Array) });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from('{}')]) } };
      },
    } as never,
  });
  return { client, requests };
}

/** The adapter over a recording `fetch` (region eu-west-1). */
function withFetch(answers: (() => Response | Promise<Response>)[], maxAttempts?: number) {
  const { options, sent, waits } = recordingFetch(answers, 'eu-west-1');
  return { ses: sesApi({ ...options, ...(maxAttempts ? { maxAttempts } : {}) }), sent, waits };
}

const json = (value: unknown, status = 200, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } });
/** An SES error answer as restJson1 sends it: the type in x-amzn-ErrorType (with its namespace), the message in the body. */
const sesError = (status: number, type: string, message = `${type} happened`) =>
  json({ message }, status, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` });

describe('SES v2 requests', () => {
  it('builds a SendBulkEmail request the model accepts: inline template, per-entry data, headers and tags', () => {
    const input = bulkRequest(bulk, 'crm-mail');
    expect(check(model.SendBulkEmailRequest$, input, 'SendBulkEmailRequest')).toEqual([]);
    expect(input.BulkEmailEntries).toHaveLength(50);
    expect(input.DefaultContent?.Template?.TemplateContent?.Html).toContain('{{h_name}}');
    const entry = input.BulkEmailEntries[7]!;
    expect(JSON.parse(entry.ReplacementEmailContent!.ReplacementTemplate!.ReplacementTemplateData!)).toMatchObject({ t_name: 'User 7' });
    expect(entry.ReplacementHeaders).toContainEqual({ Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' });
    // Tag values may only hold letters, digits, `_` and `-`: ids travel base64url-encoded.
    for (const tag of entry.ReplacementTags!) expect(tag.Value).toMatch(/^[A-Za-z0-9_-]{1,256}$/);
    expect(decodeTag(entry.ReplacementTags!.find((t) => t.Name === 'crm-tenant')!.Value)).toBe('acme.cn');
    expect(input.FromEmailAddress).toBe('"星辰 \\"News\\"" <news@acme.example>');
  });

  it('builds a SendEmail request the model accepts', () => {
    expect(check(model.SendEmailRequest$, singleRequest(single, 'crm-mail'), 'SendEmailRequest')).toEqual([]);
  });

  it('the model check itself catches a misspelt member and a missing required one', () => {
    const bad = { ...bulkRequest(bulk, undefined), BulkEmailEntries: [{ Destinations: { ToAddresses: ['a@b.c'] } }] };
    expect(check(model.SendBulkEmailRequest$, bad, 'R')).toEqual(expect.arrayContaining([expect.stringContaining('Destinations: not a member'), expect.stringContaining('Destination: required')]));
  });

  it('each operation goes out as the SES client sends it: the same method, path, content type and JSON body', async () => {
    const { client, requests } = capturingClient();
    await client.send(new SendBulkEmailCommand(bulkRequest(bulk, 'crm-mail')));
    await client.send(new SendEmailCommand(singleRequest(single, 'crm-mail')));
    const { ses, sent } = withFetch([json({ BulkEmailEntryResults: [] }), json({ MessageId: 'm1' })]);
    await ses.sendBulkEmail(bulkRequest(bulk, 'crm-mail'));
    await ses.sendEmail(singleRequest(single, 'crm-mail'));
    expect(sent.map((r) => ({ method: r.method, path: r.url.pathname, type: r.headers['content-type'], body: JSON.parse(r.body!.toString('utf8')) }))).toEqual(
      requests.map((r) => ({ method: r.method, path: r.path, type: r.headers['content-type'], body: JSON.parse(r.body) })),
    );
  });
});

describe('SES v2 over signed fetch', () => {
  it('SendEmail: one POST to the regional endpoint, signed for ses with the body hash, date and token; answers the MessageId', async () => {
    const { ses, sent } = withFetch([json({ MessageId: '0100-abc' })]);
    expect(await sesMailer(ses, 'crm-mail').send(single)).toEqual({ messageId: '0100-abc' });
    expect(sent).toHaveLength(1);
    const [req] = sent;
    expect(req!.method).toBe('POST');
    expect(req!.url.href).toBe('https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails');
    expect(JSON.parse(req!.body!.toString('utf8'))).toEqual(singleRequest(single, 'crm-mail'));
    expect(req!.headers).toMatchObject({
      'content-type': 'application/json',
      'x-amz-content-sha256': sha256Hex(req!.body!),
      'x-amz-date': '20260601T080000Z',
      'x-amz-security-token': CREDENTIALS.sessionToken,
    });
    expect(req!.headers.host).toBeUndefined(); // fetch sets it from the URL
    expect(req!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260601\/eu-west-1\/ses\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(req!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(req!, 'eu-west-1', 'ses'));
    expect(req!.signal).toBeInstanceOf(AbortSignal); // each attempt is bounded
  });

  it('SendBulkEmail: one POST to the bulk endpoint; per-entry results map to sent, refused or retryable', async () => {
    const { ses, sent } = withFetch([
      json({
        BulkEmailEntryResults: bulk.entries.map((_e, i) =>
          i === 3 ? { Status: 'MESSAGE_REJECTED', Error: 'bad address' } : i === 4 ? { Status: 'TRANSIENT_FAILURE' } : { Status: 'SUCCESS', MessageId: `m${i}` },
        ),
      }),
    ]);
    const results = await sesMailer(ses, 'crm-mail').sendBulk(bulk);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', url: new URL('https://email.eu-west-1.amazonaws.com/v2/email/outbound-bulk-emails') });
    const body = JSON.parse(sent[0]!.body!.toString('utf8'));
    expect(body).toEqual(bulkRequest(bulk, 'crm-mail'));
    expect(body.BulkEmailEntries).toHaveLength(50);
    expect(sent[0]!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(sent[0]!, 'eu-west-1', 'ses'));
    expect(results[0]).toEqual({ status: 'sent', messageId: 'm0' });
    expect(results[3]).toEqual({ status: 'failed', error: 'MESSAGE_REJECTED: bad address', retryable: false });
    expect(results[4]).toEqual({ status: 'failed', error: 'TRANSIENT_FAILURE', retryable: true });
  });

  it('an answer without a MessageId is an error, not a sent mail', async () => {
    const { ses } = withFetch([json({})]);
    await expect(sesMailer(ses, 'crm-mail').send(single)).rejects.toThrow('SES answered without a MessageId');
  });

  it('a 200 whose body is not JSON is an error at once: never retried, which could send the mail twice', async () => {
    const { ses, sent } = withFetch([() => new Response('<html>proxy</html>', { status: 200 }), json({ MessageId: 'm-2' })]);
    await expect(sesMailer(ses, 'crm-mail').send(single)).rejects.toBeInstanceOf(SyntaxError);
    expect(sent).toHaveLength(1);
  });
});

describe('SES errors', () => {
  it('MessageRejected is MailRefused with SES\'s own message, at once (not retried)', async () => {
    const { ses, sent } = withFetch([sesError(400, 'MessageRejected', 'Email address is not verified.')]);
    const err = await sesMailer(ses, 'crm-mail').send(single).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailRefused);
    expect((err as Error).message).toBe('MessageRejected: Email address is not verified.');
    expect(sent).toHaveLength(1);
  });

  it('the error type is read as the SDK reads restJson1: the header first, else the body\'s code or __type', async () => {
    const { ses } = withFetch([
      json({ code: 'MailFromDomainNotVerifiedException', message: 'not verified' }, 400),
      json({ __type: 'com.amazonaws.sesv2#NotFoundException', Message: 'no such set' }, 404),
      sesError(400, 'AccountSuspendedException'),
    ]);
    const mailer = sesMailer(ses, 'crm-mail');
    await expect(mailer.send(single)).rejects.toThrow(new MailRefused('MailFromDomainNotVerifiedException: not verified'));
    await expect(mailer.send(single)).rejects.toThrow(new MailRefused('NotFoundException: no such set'));
    await expect(mailer.send(single)).rejects.toThrow(new MailRefused('AccountSuspendedException: AccountSuspendedException happened'));
  });

  it('a throttle is retried with backoff, then surfaces as it came (worth another try, not MailRefused)', async () => {
    const { ses, sent, waits } = withFetch([sesError(429, 'TooManyRequestsException'), sesError(429, 'TooManyRequestsException'), sesError(429, 'TooManyRequestsException')]);
    const err = await sesMailer(ses, 'crm-mail').send(single).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).not.toBeInstanceOf(MailRefused);
    expect(err).toMatchObject({ name: 'TooManyRequestsException', $fault: 'client', $metadata: { httpStatusCode: 429, attempts: 3 } });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([100, 200]); // full jitter of 100 ms × 2ⁿ, at random() = 0.5
    expect(sent[2]!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(sent[2]!, 'eu-west-1', 'ses'));
  });

  it('a 5xx is retried, and the next answer counts', async () => {
    const { ses, sent } = withFetch([json({ message: 'oops' }, 500, { 'x-amzn-errortype': 'InternalFailure' }), json({ MessageId: 'm2' })]);
    expect(await sesMailer(ses, 'crm-mail').send(single)).toEqual({ messageId: 'm2' });
    expect(sent).toHaveLength(2);
  });

  it('a bulk send throttled through every attempt fails its batch as retryable, without throwing', async () => {
    const { ses, sent } = withFetch([sesError(429, 'TooManyRequestsException'), sesError(429, 'TooManyRequestsException'), sesError(429, 'TooManyRequestsException')]);
    const results = await sesMailer(ses, 'crm-mail').sendBulk(bulk);
    expect(sent).toHaveLength(3);
    expect(results).toHaveLength(50);
    expect(results.every((r) => r.status === 'failed' && r.error === 'TooManyRequestsException' && r.retryable)).toBe(true);
  });

  it('a bulk send SES never answered (after the retries) fails for good: it may have gone out', async () => {
    const { ses, sent } = withFetch([connectionReset, connectionReset, connectionReset]);
    const results = await sesMailer(ses, 'crm-mail').sendBulk(bulk);
    expect(sent).toHaveLength(3);
    expect(results.every((r) => r.status === 'failed' && r.error === 'NetworkingError' && !r.retryable)).toBe(true);
  });

  it('a stand-in for the API (how the marketing tests use it) sees the same mapping', async () => {
    const failing = (name: string): SesApi => {
      const reject = async () => Promise.reject(Object.assign(new Error('no'), { name }));
      return { sendEmail: reject, sendBulkEmail: reject };
    };
    await expect(sesMailer(failing('MessageRejected'), 'crm-mail').send(single)).rejects.toThrow(new MailRefused('MessageRejected: no'));
    await expect(sesMailer(failing('TooManyRequestsException'), 'crm-mail').send(single)).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });
});
