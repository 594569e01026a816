/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), as inbound forms check them
 * and outbound webhooks send them: `webhook-signature: v1,<base64 HMAC-SHA256(key,
 * "{id}.{timestamp}.{body}")>`, several space-separated signatures allowed, where `key` is the
 * base64 part of a `whsec_` secret. Written on node:crypto (not the `standardwebhooks` package)
 * so that the clock is the caller's `now` and rotation is a list of secrets; the tests check
 * it against that package both ways.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** A timestamp further than this from the server's clock is refused (replays of old deliveries). */
export const TOLERANCE_SECONDS = 5 * 60;
/** After a rotation the previous secret signs and verifies for this long. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** A new secret: `whsec_` + base64 of 32 random bytes (the contract asks for ≥ 24). */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * A signing secret with its rotation: the current one, and the one it replaced while the
 * overlap lasts. Stored as it is on the form or webhook item.
 */
export interface RotatingSecret {
  current: string;
  previous?: { secret: string; until: string };
}

/** The secrets valid at `now`: the current one first. */
export function validSecrets(s: RotatingSecret, now: Date): string[] {
  return s.previous && new Date(s.previous.until).getTime() > now.getTime() ? [s.current, s.previous.secret] : [s.current];
}

/** The rotation of `s` at `now`: a new current secret, the old one valid for 24 hours. */
export function rotate(s: RotatingSecret, now: Date): RotatingSecret {
  return { current: newSecret(), previous: { secret: s.current, until: new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString() } };
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

function signature(secret: string, id: string, timestamp: number, body: string): string {
  return createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/** The three headers of a delivery, signed with every secret given (two during a rotation). */
export function signedHeaders(secrets: string[], id: string, now: Date, body: string): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => `v1,${signature(s, id, timestamp, body)}`).join(' '),
  };
}

export type VerifyFailure = 'missing_headers' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';

/**
 * Checks a request's signature against the secrets (any one valid signature by any one
 * secret suffices) before its body is parsed. `headers` are lower-cased.
 */
export function verifySignature(
  secrets: string[],
  headers: Record<string, string | undefined>,
  body: string,
  now: Date,
): { ok: true; id: string; timestamp: number } | { ok: false; reason: VerifyFailure } {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' };
  const timestamp = Number(ts);
  if (Math.abs(now.getTime() / 1000 - timestamp) > TOLERANCE_SECONDS) return { ok: false, reason: 'stale_timestamp' };
  const offered = sig
    .split(' ')
    .filter((p) => p.startsWith('v1,'))
    .map((p) => Buffer.from(p.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = Buffer.from(signature(secret, id, timestamp, body), 'base64');
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'bad_signature' };
}
