/**
 * Consumer: SES sending events (bounce, complaint, delivery) of the CRM configuration set,
 * from EventBridge. The message's tags (domain/mail/ses.ts `sourceTags`) say which tenant,
 * campaign and recipient it was; the same domain function as `POST /_local/mail/events`
 * applies it, idempotently.
 */
import { decodeTag, TAG_NAMES } from '#domain/mail/ses.ts';
import { applyMailEvent, type MailEvent } from '#domain/marketing/tracking.ts';

interface SesEventDetail {
  eventType?: string;
  mail?: { messageId?: string; tags?: Record<string, string[]>; destination?: string[] };
  bounce?: { bounceType?: string; bouncedRecipients?: { emailAddress?: string }[] };
  complaint?: { complainedRecipients?: { emailAddress?: string }[] };
}

const TYPES: Record<string, MailEvent['type']> = { Bounce: 'bounce', Complaint: 'complaint', Delivery: 'delivery' };

/** The events one SES notification stands for: one per affected recipient; none when it is not ours. */
export function mailEventsOf(detail: SesEventDetail): MailEvent[] {
  const type = TYPES[detail.eventType ?? ''];
  const tags = detail.mail?.tags ?? {};
  const tag = (name: string) => (tags[name]?.[0] ? decodeTag(tags[name]![0]!) : undefined);
  const tenantId = tag(TAG_NAMES.tenantId);
  const messageId = detail.mail?.messageId;
  if (!type || !tenantId || !messageId) return [];
  const campaignId = tag(TAG_NAMES.campaignId);
  const recipientId = tag(TAG_NAMES.recipientId);
  const source = { kind: tags[TAG_NAMES.kind]?.[0] ?? 'unknown', ...(campaignId ? { campaignId } : {}), ...(recipientId ? { recipientId } : {}) };
  const affected =
    type === 'bounce' ? detail.bounce?.bouncedRecipients : type === 'complaint' ? detail.complaint?.complainedRecipients : (detail.mail?.destination ?? []).map((emailAddress) => ({ emailAddress }));
  return (affected ?? [])
    .filter((r) => r.emailAddress)
    .map((r) => ({ tenantId, type, messageId, email: r.emailAddress!, source, ...(type === 'bounce' ? { bounceType: detail.bounce?.bounceType ?? '' } : {}) }));
}

export async function handler(event: { detail: SesEventDetail; time?: string }): Promise<void> {
  const now = event.time ? new Date(event.time) : new Date();
  for (const e of mailEventsOf(event.detail)) await applyMailEvent(e, now);
}
