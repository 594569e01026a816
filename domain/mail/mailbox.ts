/**
 * The local mailbox: the mail port's adapter where no mail leaves the machine. Every
 * message is stored in the table (`T#<t>#MAIL#<messageId>` / `MAIL`, listed newest first
 * through `byType` `T#<t>#MAIL`), for `GET /_local/mail` and for the provider events that
 * `POST /_local/mail/events` replays (domain/mail/provider-events.ts).
 */
import { monotonicFactory } from 'ulid';
import { batchWrite } from '#domain/table/batch.ts';
import { t } from '#domain/table/keys.ts';
import { getItem, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { attributeFilter } from '#domain/listing.ts';
import { substitute } from '#domain/marketing/merge-tags.ts';
import type { BulkMail, Mailer, MailSource, OutgoingMail, SendResult } from '#domain/mail/mailer.ts';
import { formatAddress } from '#domain/mail/message.ts';

type Item = Record<string, unknown>;

export interface StoredMail {
  messageId: string;
  from: string;
  replyTo?: string;
  to: string;
  subject: string;
  html: string;
  text: string | null;
  headers: Record<string, string>;
  campaignId?: string;
  source: MailSource;
  sentAt: string;
}

export const mailKey = (tenantId: string, messageId: string) => ({ PK: `${t(tenantId)}#MAIL#${messageId}`, SK: 'MAIL' });
export const mailListPartition = (tenantId: string) => `${t(tenantId)}#MAIL`;

const nextId = monotonicFactory();

function toItem(tenantId: string, mail: StoredMail): Item {
  return {
    ...mailKey(tenantId, mail.messageId),
    tenantId,
    entityType: 'MAIL',
    typePk: mailListPartition(tenantId),
    typeSk: mail.messageId,
    ...mail,
  };
}

function stored(mail: OutgoingMail, messageId: string, sentAt: string): StoredMail {
  return {
    messageId,
    from: formatAddress(mail.from),
    ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
    to: mail.to,
    subject: mail.subject,
    html: mail.html,
    text: mail.text ?? null,
    headers: mail.headers,
    ...(mail.source.campaignId ? { campaignId: mail.source.campaignId } : {}),
    source: mail.source,
    sentAt,
  };
}

/** Renders each entry exactly as SES would (simple substitution) and stores it. */
export function mailboxMailer(): Mailer {
  return {
    async send(mail) {
      const now = Date.now();
      const messageId = nextId(now);
      await batchWrite([{ PutRequest: { Item: toItem(mail.tenantId, stored(mail, messageId, new Date(now).toISOString())) } }]);
      return { messageId };
    },
    async sendBulk(mail: BulkMail): Promise<SendResult[]> {
      const now = Date.now();
      const sentAt = new Date(now).toISOString();
      const mails = mail.entries.map((e) =>
        stored(
          {
            tenantId: mail.tenantId,
            from: mail.from,
            ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
            to: e.to,
            subject: substitute(mail.template.subject, e.data),
            html: substitute(mail.template.html, e.data),
            ...(mail.template.text !== undefined ? { text: substitute(mail.template.text, e.data) } : {}),
            headers: e.headers,
            source: e.source,
          },
          nextId(now),
          sentAt,
        ),
      );
      await batchWrite(mails.map((m) => ({ PutRequest: { Item: toItem(mail.tenantId, m) } })));
      return mails.map((m) => ({ status: 'sent', messageId: m.messageId }));
    },
  };
}

const view = (item: Item): StoredMail => {
  const { PK: _pk, SK: _sk, tenantId: _t, entityType: _e, typePk: _tp, typeSk: _ts, ...mail } = item;
  return mail as unknown as StoredMail;
};

export async function listMailbox(tenantId: string, filters: { to?: string; campaignId?: string }, page: PageRequest): Promise<Page<StoredMail>> {
  const filter = attributeFilter({ to: filters.to?.trim().toLowerCase(), campaignId: filters.campaignId });
  return queryPage({ index: 'byType', pk: mailListPartition(tenantId), newestFirst: true, ...(filter ? { filter } : {}) }, page, view);
}

export async function getMail(tenantId: string, messageId: string): Promise<StoredMail | undefined> {
  const item = await getItem(mailKey(tenantId, messageId));
  return item ? view(item) : undefined;
}
