/**
 * The SES v2 adapter of the mail port. A bulk send is one `SendBulkEmail`: the template
 * inline (`TemplateContent`; SES applies simple `{{slot}}` substitution to inline content),
 * per entry `ReplacementTemplateData` and `ReplacementHeaders` (List-Unsubscribe), and
 * `ReplacementTags` carrying the ids that SES's bounce, complaint and delivery events
 * bring back (domain/mail/provider-events.ts). The configuration set routes those events
 * to EventBridge.
 */
import {
  SESv2Client,
  SendBulkEmailCommand,
  SendEmailCommand,
  type BulkEmailEntry,
  type MessageHeader,
  type MessageTag,
  type SendBulkEmailCommandInput,
  type SendEmailCommandInput,
} from '@aws-sdk/client-sesv2';
import type { BulkMail, Mailer, MailSource, OutgoingMail, SendResult } from '#domain/mail/mailer.ts';
import { formatAddress, MailRefused } from '#domain/mail/message.ts';

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

export function bulkRequest(mail: BulkMail, configurationSet: string | undefined): SendBulkEmailCommandInput {
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

export function singleRequest(mail: OutgoingMail, configurationSet: string | undefined): SendEmailCommandInput {
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

export function sesMailer(client: Pick<SESv2Client, 'send'> = new SESv2Client({}), configurationSet = process.env.SES_CONFIGURATION_SET): Mailer {
  return {
    async send(mail) {
      const out = await client.send(new SendEmailCommand(singleRequest(mail, configurationSet))).catch((err: unknown) => {
        const name = (err as { name?: string }).name ?? 'Error';
        if (REFUSING_ERRORS.has(name)) throw new MailRefused(`${name}: ${(err as Error).message}`);
        throw err;
      });
      if (!out.MessageId) throw new Error('SES answered without a MessageId');
      return { messageId: out.MessageId };
    },
    async sendBulk(mail) {
      try {
        const out = await client.send(new SendBulkEmailCommand(bulkRequest(mail, configurationSet)));
        const results = out.BulkEmailEntryResults ?? [];
        return mail.entries.map((_e, i): SendResult => {
          const r = results[i];
          if (r?.Status === 'SUCCESS' && r.MessageId) return { status: 'sent', messageId: r.MessageId };
          const status = r?.Status ?? 'FAILED';
          return { status: 'failed', error: r?.Error ? `${status}: ${r.Error}` : status, retryable: RETRYABLE.has(status) };
        });
      } catch (err) {
        const name = (err as { name?: string }).name ?? 'Error';
        const retryable = RETRYABLE_ERRORS.has(name) || (err as { $retryable?: unknown }).$retryable !== undefined;
        return mail.entries.map(() => ({ status: 'failed', error: name, retryable }) as const);
      }
    },
  };
}
