/**
 * The SES v2 adapter of the mail port. A bulk send is one `SendBulkEmail`: the template
 * inline (`TemplateContent`; SES applies simple `{{slot}}` substitution to inline content),
 * per entry `ReplacementTemplateData` and `ReplacementHeaders` (List-Unsubscribe), and
 * `ReplacementTags` carrying the ids that SES's bounce, complaint and delivery events
 * bring back (domain/mail/provider-events.ts). The configuration set routes those events
 * to EventBridge.
 *
 * The two operations are `fetch` requests signed by domain/aws/signed-fetch.ts, not the SES
 * client (`@aws-sdk/client-sesv2` and its REST-JSON protocol were ~100 KB minified of each
 * sender's bundle): SES v2 speaks restJson1, so a request is the operation's input as JSON
 * (member names as they are) POSTed to the operation's path, signed for service `ses`, and an
 * error answer names its error in `x-amzn-ErrorType` or the body (domain/aws/json-errors.ts).
 * The shapes below are the members of the SES v2 model this adapter sends and reads
 * (test/marketing/ses-adapter.test.ts checks the requests against the model itself).
 */
import { AwsServiceError, requestTo, signedFetch, type SignedFetchOptions } from '#domain/aws/signed-fetch.ts';
import { restJsonErrorOf } from '#domain/aws/json-errors.ts';
import type { BulkMail, Mailer, MailSource, OutgoingMail, SendResult } from '#domain/mail/mailer.ts';
import { formatAddress, MailRefused } from '#domain/mail/message.ts';

// ---- the SES v2 shapes used (names as in the service model) ----------------------------------

export interface MessageTag {
  Name: string;
  Value: string;
}
export interface MessageHeader {
  Name: string;
  Value: string;
}
interface Destination {
  ToAddresses: string[];
}
interface Content {
  Data: string;
  Charset?: string;
}
export interface BulkEmailEntry {
  Destination: Destination;
  ReplacementTags?: MessageTag[];
  ReplacementEmailContent?: { ReplacementTemplate?: { ReplacementTemplateData?: string } };
  ReplacementHeaders?: MessageHeader[];
}
export interface SendBulkEmailInput {
  FromEmailAddress?: string;
  ReplyToAddresses?: string[];
  ConfigurationSetName?: string;
  DefaultContent: { Template?: { TemplateContent?: { Subject?: string; Html?: string; Text?: string }; TemplateData?: string } };
  BulkEmailEntries: BulkEmailEntry[];
}
export interface SendEmailInput {
  FromEmailAddress?: string;
  Destination?: Destination;
  ReplyToAddresses?: string[];
  ConfigurationSetName?: string;
  EmailTags?: MessageTag[];
  Content: { Simple?: { Subject: Content; Body: { Html?: Content; Text?: Content }; Headers?: MessageHeader[] } };
}
export interface SendEmailOutput {
  MessageId?: string;
}
export interface SendBulkEmailOutput {
  BulkEmailEntryResults?: { Status?: string; Error?: string; MessageId?: string }[];
}

/** Tag values may hold only letters, digits, `_` and `-`: ids are base64url-encoded. */
export const encodeTag = (value: string) => Buffer.from(value, 'utf8').toString('base64url');
export const decodeTag = (value: string) => Buffer.from(value, 'base64url').toString('utf8');

export const TAG_NAMES = { tenantId: 'crm-tenant', kind: 'crm-kind', campaignId: 'crm-campaign', surveyId: 'crm-survey', workflowId: 'crm-workflow', recipientId: 'crm-recipient' } as const;

export function sourceTags(tenantId: string, source: MailSource): MessageTag[] {
  const tags: MessageTag[] = [
    { Name: TAG_NAMES.tenantId, Value: encodeTag(tenantId) },
    { Name: TAG_NAMES.kind, Value: source.kind },
  ];
  for (const k of ['campaignId', 'surveyId', 'workflowId', 'recipientId'] as const) {
    const v = source[k];
    if (v) tags.push({ Name: TAG_NAMES[k], Value: encodeTag(v) });
  }
  return tags;
}

const headerList = (headers: Record<string, string>): MessageHeader[] => Object.entries(headers).map(([Name, Value]) => ({ Name, Value }));

export function bulkRequest(mail: BulkMail, configurationSet: string | undefined): SendBulkEmailInput {
  const entries: BulkEmailEntry[] = mail.entries.map((e) => ({
    Destination: { ToAddresses: [e.to] },
    ReplacementTags: sourceTags(mail.tenantId, e.source),
    ReplacementEmailContent: { ReplacementTemplate: { ReplacementTemplateData: JSON.stringify(e.data) } },
    ...(Object.keys(e.headers).length ? { ReplacementHeaders: headerList(e.headers) } : {}),
  }));
  return {
    FromEmailAddress: formatAddress(mail.from),
    ...(mail.replyTo ? { ReplyToAddresses: [mail.replyTo] } : {}),
    ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
    DefaultContent: {
      Template: {
        TemplateContent: {
          Subject: mail.template.subject,
          Html: mail.template.html,
          ...(mail.template.text !== undefined ? { Text: mail.template.text } : {}),
        },
        // Required with inline content; every entry replaces it with its own data.
        TemplateData: '{}',
      },
    },
    BulkEmailEntries: entries,
  };
}

export function singleRequest(mail: OutgoingMail, configurationSet: string | undefined): SendEmailInput {
  return {
    FromEmailAddress: formatAddress(mail.from),
    Destination: { ToAddresses: [mail.to] },
    ...(mail.replyTo ? { ReplyToAddresses: [mail.replyTo] } : {}),
    ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
    EmailTags: sourceTags(mail.tenantId, mail.source),
    Content: {
      Simple: {
        Subject: { Data: mail.subject, Charset: 'UTF-8' },
        Body: {
          Html: { Data: mail.html, Charset: 'UTF-8' },
          ...(mail.text !== undefined ? { Text: { Data: mail.text, Charset: 'UTF-8' } } : {}),
        },
        ...(Object.keys(mail.headers).length ? { Headers: headerList(mail.headers) } : {}),
      },
    },
  };
}

/** Entry statuses worth another try later (the rest refuse the message or the address). */
const RETRYABLE = new Set(['TRANSIENT_FAILURE', 'ACCOUNT_THROTTLED', 'ACCOUNT_DAILY_QUOTA_EXCEEDED', 'ACCOUNT_SENDING_PAUSED', 'CONFIGURATION_SET_SENDING_PAUSED', 'FAILED']);
/** Whole-request errors worth another try later. */
const RETRYABLE_ERRORS = new Set(['TooManyRequestsException', 'ThrottlingException', 'LimitExceededException', 'SendingPausedException', 'InternalFailure', 'ServiceUnavailable']);

/** Whole-request errors that refuse the message for good (SES v2 SendEmail). */
const REFUSING_ERRORS = new Set(['MessageRejected', 'MailFromDomainNotVerifiedException', 'AccountSuspendedException', 'BadRequestException', 'NotFoundException']);

/** The two SES v2 operations the mailer calls (a stand-in in tests). */
export interface SesApi {
  sendEmail(input: SendEmailInput): Promise<SendEmailOutput>;
  sendBulkEmail(input: SendBulkEmailInput): Promise<SendBulkEmailOutput>;
}

export interface SesApiOptions extends SignedFetchOptions {
  /** Default `https://email.<region>.amazonaws.com`. */
  endpoint?: string;
}

/**
 * SES v2 over signed `fetch`. An attempt may take 5 s (not the 3 s default): a send that times out
 * is retried and may then go out twice, so the bound is there for a hung connection, not a slow SES;
 * three attempts still fit in a consumer's 30 s.
 */
export function sesApi(options: SesApiOptions = {}): SesApi {
  const ses = signedFetch({ title: 'SES', signingName: 'ses', errorOf: restJsonErrorOf }, { attemptTimeoutMs: 5_000, ...options });
  const endpoint = new URL(options.endpoint ?? `https://email.${ses.region}.amazonaws.com`);
  // The body is read inside the attempt, parsed outside it: a malformed answer is an error, never a
  // retry (which could send the mail twice).
  const post = async <T>(operation: string, path: string, input: object): Promise<T> =>
    JSON.parse(await ses.send(requestTo(endpoint, 'POST', path, { 'content-type': 'application/json' }, JSON.stringify(input)), (res) => res.text(), operation)) as T;
  return {
    sendEmail: (input) => post<SendEmailOutput>('SendEmail', '/v2/email/outbound-emails', input),
    sendBulkEmail: (input) => post<SendBulkEmailOutput>('SendBulkEmail', '/v2/email/outbound-bulk-emails', input),
  };
}

export function sesMailer(ses: SesApi = sesApi(), configurationSet = process.env.SES_CONFIGURATION_SET): Mailer {
  return {
    async send(mail) {
      const out = await ses.sendEmail(singleRequest(mail, configurationSet)).catch((err: unknown) => {
        const name = (err as { name?: string }).name ?? 'Error';
        if (REFUSING_ERRORS.has(name)) throw new MailRefused(`${name}: ${serviceMessage(err)}`);
        throw err;
      });
      if (!out.MessageId) throw new Error('SES answered without a MessageId');
      return { messageId: out.MessageId };
    },
    async sendBulk(mail) {
      try {
        const out = await ses.sendBulkEmail(bulkRequest(mail, configurationSet));
        const results = out.BulkEmailEntryResults ?? [];
        return mail.entries.map((_e, i): SendResult => {
          const r = results[i];
          if (r?.Status === 'SUCCESS' && r.MessageId) return { status: 'sent', messageId: r.MessageId };
          const status = r?.Status ?? 'FAILED';
          return { status: 'failed', error: r?.Error ? `${status}: ${r.Error}` : status, retryable: RETRYABLE.has(status) };
        });
      } catch (err) {
        const name = (err as { name?: string }).name ?? 'Error';
        // Only errors SES names are worth another send: one it never answered (TimeoutError,
        // NetworkingError) may have gone out already. So it was with the SES client, whose
        // transport errors no list named (and SES models no error as retryable).
        const retryable = RETRYABLE_ERRORS.has(name);
        return mail.entries.map(() => ({ status: 'failed', error: name, retryable }) as const);
      }
    },
  };
}

/** SES's own message (the SDK's `message`), without the request that `AwsServiceError.message` adds. */
const serviceMessage = (err: unknown) => (err instanceof AwsServiceError ? err.reason : (err as Error).message);
