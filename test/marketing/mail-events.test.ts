/**
 * The SES events consumer (functions/events/mail-events.ts): an SES bounce or complaint, as the
 * configuration set publishes it to EventBridge, applied like `POST /_local/mail/events`.
 */
import { describe, expect, it } from 'vitest';
import { encodeTag, sourceTags } from '#domain/mail/ses.ts';
import { useAudience } from '#domain/marketing/audience.ts';
import { handler, mailEventsOf } from '#functions/events/mail-events.ts';
import { fixedAudience } from '#test/marketing/support.ts';

const tags = Object.fromEntries(
  sourceTags('acme.cn', { kind: 'campaign', campaignId: '01CAMP', recipientId: 'r1' }).map((t) => [t.Name!, [t.Value!]]),
);

const bounce = {
  eventType: 'Bounce',
  bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'ann@example.com' }] },
  mail: { messageId: '0100018c-abc', destination: ['ann@example.com'], tags: { ...tags, 'ses:configuration-set': ['crm'] } },
};

describe('SES events consumer', () => {
  it('reads tenant, campaign and recipient back from the message tags', () => {
    expect(mailEventsOf(bounce)).toEqual([
      { tenantId: 'acme.cn', type: 'bounce', bounceType: 'Permanent', messageId: '0100018c-abc', email: 'ann@example.com', source: { kind: 'campaign', campaignId: '01CAMP', recipientId: 'r1' } },
    ]);
    const complaint = { eventType: 'Complaint', complaint: { complainedRecipients: [{ emailAddress: 'bo@example.com' }] }, mail: bounce.mail };
    expect(mailEventsOf(complaint)[0]).toMatchObject({ type: 'complaint', email: 'bo@example.com' });
    expect(mailEventsOf({ ...bounce, mail: { ...bounce.mail, tags: {} } })).toEqual([]); // not ours
    expect(mailEventsOf({ eventType: 'Open', mail: bounce.mail })).toEqual([]);
    expect(encodeTag('acme.cn')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('a permanent bounce of a message that is no campaign recipient still suppresses the address', async () => {
    const audience = fixedAudience({});
    useAudience(audience);
    const workflowTags = Object.fromEntries(sourceTags('t-mail-events', { kind: 'workflow', workflowId: 'w1' }).map((t) => [t.Name!, [t.Value!]]));
    await handler({ detail: { ...bounce, mail: { ...bounce.mail, tags: workflowTags } }, time: new Date().toISOString() });
    expect(audience.suppressed.get('ann@example.com')).toEqual({ reason: 'bounced' });
  });
});
