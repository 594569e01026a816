/**
 * The mail port: everything that sends mail (campaigns, surveys, workflows) goes through
 * it. Two adapters, chosen by configuration (`MAIL_TRANSPORT`): `ses` (domain/mail/ses.ts,
 * SES v2, the cloud) and `mailbox` (domain/mail/mailbox.ts, the default: mails are stored
 * in the table and listed by `GET /_local/mail`). Tests and the local runtime may install
 * their own with `useMailer`, like events/publisher.ts.
 *
 * A bulk send is ONE template with `{{slot}}` placeholders plus, per recipient, the slot
 * values and headers (SES `SendBulkEmail`: `TemplateContent`, `ReplacementTemplateData`,
 * `ReplacementHeaders`), at most 50 recipients a request.
 */

import { mailboxMailer } from '#domain/mail/mailbox.ts';
import type { MailAddress } from '#domain/mail/message.ts';

export { formatAddress, MailRefused, type MailAddress } from '#domain/mail/message.ts';

export const MAX_BULK_ENTRIES = 50;

export interface MailSource {
  kind: 'campaign' | 'survey' | 'workflow';
  campaignId?: string;
  surveyId?: string;
  workflowId?: string;
  /** The campaign recipient, survey invitation or workflow run the mail is for. */
  recipientId?: string;
}

/** One message. */
export interface OutgoingMail {
  tenantId: string;
  from: MailAddress;
  replyTo?: string;
  to: string;
  subject: string;
  html: string;
  text?: string;
  headers: Record<string, string>;
  source: MailSource;
}

export interface BulkEntry {
  to: string;
  /** Slot values of the template for this recipient (already escaped where the slot is in html). */
  data: Record<string, string>;
  headers: Record<string, string>;
  /** Ids that come back with provider events (bounces, complaints): at least `recipientId`. */
  source: MailSource;
}

export interface BulkMail {
  tenantId: string;
  from: MailAddress;
  replyTo?: string;
  template: { subject: string; html: string; text?: string };
  /** 1..50 recipients. */
  entries: BulkEntry[];
}

/** Per entry, in order: accepted (with the provider's message id) or failed. */
export type SendResult =
  | { status: 'sent'; messageId: string }
  /** `retryable`: a throttle or transient fault, worth another try later; otherwise the address or message was refused. */
  | { status: 'failed'; error: string; retryable: boolean };


export interface Mailer {
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  sendBulk(mail: BulkMail): Promise<SendResult[]>;
}

let current: Mailer | undefined;

export function useMailer(m: Mailer): void {
  current = m;
}

export async function mailerFromEnvironment(): Promise<Mailer> {
  const transport = process.env.MAIL_TRANSPORT ?? 'mailbox';
  if (transport === 'ses') {
    const { sesMailer } = await import('#domain/mail/ses.ts');
    return sesMailer();
  }
  if (transport === 'mailbox') return mailboxMailer();
  throw new Error(`MAIL_TRANSPORT must be ses or mailbox, not ${transport}`);
}

export async function mailer(): Promise<Mailer> {
  current ??= await mailerFromEnvironment();
  return current;
}

/** Sends one message through the configured adapter. */
export async function sendMail(mail: OutgoingMail): Promise<{ messageId: string }> {
  return (await mailer()).send(mail);
}

/** Sends one template to 1..50 recipients through the configured adapter. */
export async function sendBulk(mail: BulkMail): Promise<SendResult[]> {
  if (mail.entries.length === 0) return [];
  if (mail.entries.length > MAX_BULK_ENTRIES) throw new Error(`a bulk send takes at most ${MAX_BULK_ENTRIES} entries`);
  return (await mailer()).sendBulk(mail);
}
