/**
 * For the tests of the adapters over domain/aws/signed-fetch.ts (S3, SES, KMS, STS, Secrets Manager): a `fetch` that
 * records each request and answers from a list, and SigV4 written here from the specification
 * (node:crypto), so a signature is checked against something other than the signer that made it.
 */
import { createHash, createHmac } from 'node:crypto';
import { expect } from 'vitest';
import type { SignedFetchOptions } from '#domain/aws/signed-fetch.ts';

export const NOW = new Date('2026-06-01T08:00:00Z');
export const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+special=' };

export interface Sent {
  url: URL;
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

/**
 * Options for an adapter whose `fetch` records each request and answers the next of `answers`,
 * signing as CREDENTIALS at NOW, and whose retries do not wait (`waits`: the backoffs asked for).
 */
export function recordingFetch(answers: (() => Response | Promise<Response>)[], region: string) {
  const sent: Sent[] = [];
  const waits: number[] = [];
  const options = {
    region,
    credentials: CREDENTIALS,
    now: () => NOW,
    sleep: async (ms: number) => void waits.push(ms),
    random: () => 0.5,
    fetch: (async (input: string | URL, init: RequestInit = {}) => {
      const headers = Object.fromEntries(Object.entries(init.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
      sent.push({
        url: new URL(String(input)),
        method: init.method!,
        headers,
        ...(init.body ? { body: Buffer.from(init.body as Uint8Array | string) } : {}),
        signal: init.signal ?? undefined,
      });
      const answer = answers.shift();
      if (!answer) throw new Error('no answer left');
      return answer();
    }) as typeof fetch,
  } satisfies SignedFetchOptions;
  return { options, sent, waits };
}

/** Transport failures as Node's fetch reports them. */
export const connectionReset = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
export const timedOut = () => Promise.reject(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));

export const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
export const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * SigV4 of a canonical request (docs.aws.amazon.com, "Create a signed AWS API request"); `headers`
 * are exactly the signed ones (lower-case names). The path is taken as given: the tests' paths have
 * no character that a second encoding (every service but S3) would change.
 */
export function sigv4(
  request: { method: string; url: URL; canonicalQuery: string; headers: Record<string, string>; payloadHash: string },
  signing: { date: string; secretAccessKey: string; region: string; service: string },
): string {
  const names = Object.keys(request.headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${request.headers[n]!.trim()}\n`).join('');
  const canonicalRequest = [request.method, request.url.pathname, request.canonicalQuery, canonicalHeaders, names.join(';'), request.payloadHash].join('\n');
  const { date, secretAccessKey, region, service } = signing;
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date.slice(0, 8)), region), service), 'aws4_request');
  return hmac(key, toSign).toString('hex');
}

/**
 * The signature a sent request's Authorization header must carry: over the headers it names, as
 * sent (Host: the URL's), and the hash of the body actually sent.
 */
export function expectedSignature(req: Sent, region: string, service: string): string {
  const signed = /SignedHeaders=([^,]+)/.exec(req.headers.authorization!)![1]!.split(';');
  const all: Record<string, string> = { ...req.headers, host: req.url.host };
  const headers = Object.fromEntries(signed.map((n) => [n, all[n]!]));
  return sigv4(
    { method: req.method, url: req.url, canonicalQuery: '', headers, payloadHash: sha256Hex(req.body ?? '') },
    { date: req.headers['x-amz-date']!, secretAccessKey: CREDENTIALS.secretAccessKey, region, service },
  );
}

/**
 * An awsJson1_1 request (KMS, Secrets Manager) as the SDK signs it: the target and content type, the
 * body's hash, date and session token, all signed, with the signature of the specification.
 */
export function expectSignedJsonRequest(req: Sent, { target, region, service }: { target: string; region: string; service: string }): void {
  expect(req.headers).toMatchObject({
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': target,
    'x-amz-content-sha256': sha256Hex(req.body!),
    'x-amz-date': '20260601T080000Z',
    'x-amz-security-token': CREDENTIALS.sessionToken,
  });
  expect(req.headers.authorization).toBe(
    `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260601/${region}/${service}/aws4_request, ` +
      `SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature=${expectedSignature(req, region, service)}`,
  );
}
