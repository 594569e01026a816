/**
 * The SES v2 adapter's requests, checked against the SES v2 service model shipped with
 * @aws-sdk/client-sesv2 (its schema module: member names and required members of every
 * structure) and serialized by the real client (a capturing request handler: no network).
 */
import { Readable } from 'node:stream';
import { SESv2Client } from '@aws-sdk/client-sesv2';
// @ts-expect-error: the client's generated schema module has no type declarations.
import * as model from '@aws-sdk/client-sesv2/dist-es/schemas/schemas_0.js';
import { describe, expect, it } from 'vitest';
import { bulkRequest, decodeTag, sesMailer, singleRequest } from '#domain/mail/ses.ts';
import { MailRefused, type BulkMail, type OutgoingMail } from '#domain/mail/mailer.ts';

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

function capturingClient(answer: unknown) {
  const requests: { path: string; method: string; body: string }[] = [];
  const client = new SESv2Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { path: string; method: string; body?: unknown }) => {
        requests.push({ path: req.path, method: req.method, body: typeof req.body === 'string' ? req.body : Buffer.from((req.body ?? new Uint8Array()) as Uint8Array).toString('utf8') });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(JSON.stringify(answer))]) } };
      },
    } as never,
  });
  return { client, requests };
}

describe('SES v2 adapter', () => {
  it('builds a SendBulkEmail request the model accepts: inline template, per-entry data, headers and tags', () => {
    const input = bulkRequest(bulk, 'crm-mail');
    expect(check(model.SendBulkEmailRequest$, input, 'SendBulkEmailRequest')).toEqual([]);
    expect(input.BulkEmailEntries).toHaveLength(50);
    expect(input.DefaultContent?.Template?.TemplateContent?.Html).toContain('{{h_name}}');
    const entry = input.BulkEmailEntries![7]!;
    expect(JSON.parse(entry.ReplacementEmailContent!.ReplacementTemplate!.ReplacementTemplateData!)).toMatchObject({ t_name: 'User 7' });
    expect(entry.ReplacementHeaders).toContainEqual({ Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' });
    // Tag values may only hold letters, digits, `_` and `-`: ids travel base64url-encoded.
    for (const tag of entry.ReplacementTags!) expect(tag.Value).toMatch(/^[A-Za-z0-9_-]{1,256}$/);
    expect(decodeTag(entry.ReplacementTags!.find((t) => t.Name === 'crm-tenant')!.Value!)).toBe('acme.cn');
    expect(input.FromEmailAddress).toBe('"星辰 \\"News\\"" <news@acme.example>');
  });

  it('builds a SendEmail request the model accepts', () => {
    expect(check(model.SendEmailRequest$, singleRequest(single, 'crm-mail'), 'SendEmailRequest')).toEqual([]);
  });

  it('the model check itself catches a misspelt member and a missing required one', () => {
    const bad = { ...bulkRequest(bulk, undefined), BulkEmailEntries: [{ Destinations: { ToAddresses: ['a@b.c'] } }] };
    expect(check(model.SendBulkEmailRequest$, bad, 'R')).toEqual(expect.arrayContaining([expect.stringContaining('Destinations: not a member'), expect.stringContaining('Destination: required')]));
  });

  it('sends through the real client: one POST to the bulk endpoint; per-entry results map to sent, refused or retryable', async () => {
    const { client, requests } = capturingClient({
      BulkEmailEntryResults: bulk.entries.map((_e, i) =>
        i === 3 ? { Status: 'MESSAGE_REJECTED', Error: 'bad address' } : i === 4 ? { Status: 'TRANSIENT_FAILURE' } : { Status: 'SUCCESS', MessageId: `m${i}` },
      ),
    });
    const results = await sesMailer(client, 'crm-mail').sendBulk(bulk);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'POST', path: '/v2/email/outbound-bulk-emails' });
    const sent = JSON.parse(requests[0]!.body);
    expect(sent.ConfigurationSetName).toBe('crm-mail');
    expect(sent.BulkEmailEntries).toHaveLength(50);
    expect(results[0]).toEqual({ status: 'sent', messageId: 'm0' });
    expect(results[3]).toMatchObject({ status: 'failed', retryable: false });
    expect(results[4]).toMatchObject({ status: 'failed', retryable: true });
  });

  it('a single send SES refuses for good throws MailRefused; a throttle throws as it came (worth another try)', async () => {
    const failing = (name: string) => ({ send: async () => Promise.reject(Object.assign(new Error('no'), { name })) });
    await expect(sesMailer(failing('MessageRejected') as never, 'crm-mail').send(single)).rejects.toBeInstanceOf(MailRefused);
    const throttled = sesMailer(failing('TooManyRequestsException') as never, 'crm-mail').send(single);
    await expect(throttled).rejects.toMatchObject({ name: 'TooManyRequestsException' });
    await expect(throttled).rejects.not.toBeInstanceOf(MailRefused);
  });

  it('a throttled request fails its batch as retryable, without throwing', async () => {
    const client = { send: async () => Promise.reject(Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' })) };
    const results = await sesMailer(client as never, 'crm-mail').sendBulk(bulk);
    expect(results.every((r) => r.status === 'failed' && r.retryable)).toBe(true);
  });
});
