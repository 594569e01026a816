import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { newSecret, rotate, signedHeaders, validSecrets, verifySignature } from '#domain/integrations/standard-webhooks.ts';

const body = JSON.stringify({ name: 'Ada', email: 'ada@example.com' });

describe('Standard Webhooks signatures, checked against the standardwebhooks package', () => {
  it('what we sign, the package verifies', () => {
    const secret = newSecret();
    const headers = signedHeaders([secret], 'msg_1', new Date(), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('what the package signs, we verify; a changed body, id or secret fails', () => {
    const secret = newSecret();
    const now = new Date();
    const sig = new Webhook(secret).sign('msg_2', now, body);
    const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': sig };
    expect(verifySignature([secret], headers, body, now)).toMatchObject({ ok: true, id: 'msg_2' });
    expect(verifySignature([secret], headers, body + ' ', now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySignature([secret], { ...headers, 'webhook-id': 'msg_3' }, body, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifySignature([newSecret()], headers, body, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses timestamps more than 5 minutes away, and missing or malformed headers', () => {
    const secret = newSecret();
    const signedAt = new Date('2026-12-01T00:00:00Z');
    const headers = signedHeaders([secret], 'msg_4', signedAt, body);
    expect(verifySignature([secret], headers, body, new Date(signedAt.getTime() + 299_000)).ok).toBe(true);
    expect(verifySignature([secret], headers, body, new Date(signedAt.getTime() + 301_000))).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifySignature([secret], headers, body, new Date(signedAt.getTime() - 301_000))).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifySignature([secret], { ...headers, 'webhook-signature': undefined }, body, signedAt)).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifySignature([secret], { ...headers, 'webhook-timestamp': '1e9' }, body, signedAt)).toEqual({ ok: false, reason: 'bad_timestamp' });
    expect(verifySignature([secret], { ...headers, 'webhook-signature': 'v1,' }, body, signedAt)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('after a rotation both secrets sign and verify for 24 hours, then only the new one', () => {
    const now = new Date(); // the package checks timestamps against the real clock
    const rotated = rotate({ current: newSecret() }, now);
    const both = validSecrets(rotated, now);
    expect(both).toEqual([rotated.current, rotated.previous!.secret]);
    const headers = signedHeaders(both, 'msg_5', now, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    // A receiver that still has only the old secret accepts the delivery.
    expect(new Webhook(rotated.previous!.secret).verify(body, headers)).toBeTruthy();
    expect(new Webhook(rotated.current).verify(body, headers)).toBeTruthy();
    expect(verifySignature([rotated.previous!.secret], headers, body, now).ok).toBe(true);
    const later = new Date(now.getTime() + 24 * 3600_000 + 1);
    expect(validSecrets(rotated, later)).toEqual([rotated.current]);
  });
});
