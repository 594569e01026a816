/**
 * The S3 object adapter (domain/integrations/s3-objects.ts). S3 has no local emulator here, so
 * `fetch` is replaced at the edge and the requests it is given are the subject: method, URL,
 * signed headers, presigned queries, and what each kind of answer becomes (bytes, undefined,
 * a 413 before reading, retries, the 503 the HTTP middleware answers).
 * Signatures are checked against AWS's documented example and against a SigV4 written here
 * from the specification (node:crypto), not only for their shape.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AwsServiceError } from '#domain/aws/signed-fetch.ts';
import { DomainError } from '#domain/errors.ts';
import { s3Objects, type S3ObjectsOptions } from '#domain/integrations/s3-objects.ts';
import { problemOf } from '#functions/middleware/problem.ts';
import { connectionReset, CREDENTIALS, expectedSignature as signatureOf, NOW, recordingFetch, rfc3986, sigv4, timedOut, type Sent } from '#test/support/signed-fetch.ts';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** An adapter whose `fetch` records each request and answers the next of `answers`. */
function withFetch(answers: (() => Response | Promise<Response>)[], options: S3ObjectsOptions = {}) {
  const { options: recording, sent, waits } = recordingFetch(answers, 'eu-central-1');
  const objects = s3Objects('crm-uploads', { ...recording, ...options });
  return { objects, sent, waits };
}

const s3Error = (status: number, code: string) => () =>
  new Response(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code} happened</Message><RequestId>R1</RequestId></Error>`, {
    status,
    headers: { 'content-type': 'application/xml' },
  });

/** A body that records whether it was read or cancelled (nothing is pulled until asked: highWaterMark 0). */
function watchedBody(chunks: Uint8Array[]) {
  const seen = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulls++;
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
      cancel() {
        seen.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

/** The signature a presigned URL must carry, computed from the URL's own query and the headers the client sends. */
function expectedPresignature(url: URL, method: string, headers: Record<string, string>, secretAccessKey: string, region: string): string {
  const canonicalQuery = [...url.searchParams.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .sort()
    .join('&');
  return sigv4(
    { method, url, canonicalQuery, headers: { host: url.host, ...headers }, payloadHash: 'UNSIGNED-PAYLOAD' },
    { date: url.searchParams.get('X-Amz-Date')!, secretAccessKey, region, service: 's3' },
  );
}

/** The signature a sent request's Authorization header must carry. */
const expectedSignature = (req: Sent) => signatureOf(req, 'eu-central-1', 's3');

describe('presigned URLs', () => {
  it("AWS's documented example: GET examplebucket/test.txt, us-east-1, 2013-05-24, 86400 s, signed exactly", async () => {
    const objects = s3Objects('examplebucket', {
      region: 'us-east-1',
      origin: 'https://examplebucket.s3.amazonaws.com',
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    });
    const url = await objects.presign('GET', 'test.txt', { now: new Date('2013-05-24T00:00:00Z'), expiresInSeconds: 86400 });
    expect(url).toBe(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
        '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z' +
        '&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
    // The reference below agrees with AWS's example, so it can judge the other URLs.
    expect(expectedPresignature(new URL(url), 'GET', {}, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'us-east-1')).toBe(new URL(url).searchParams.get('X-Amz-Signature'));
  });

  it('a PUT: virtual-hosted bucket in the region, the key encoded once, content-type signed, the session token, the expiry', async () => {
    const { objects, sent } = withFetch([]);
    const headers = { 'content-type': 'text/csv' };
    const url = new URL(await objects.presign('PUT', 'imports/t 1/ü+é(1).csv', { now: NOW, expiresInSeconds: 900, headers }));
    expect(url.origin).toBe('https://crm-uploads.s3.eu-central-1.amazonaws.com');
    expect(url.pathname).toBe('/imports/t%201/%C3%BC%2B%C3%A9%281%29.csv');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': 'AKIDEXAMPLE/20260601/eu-central-1/s3/aws4_request',
      'X-Amz-Date': '20260601T080000Z',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'content-type;host',
      'X-Amz-Security-Token': CREDENTIALS.sessionToken,
      'X-Amz-Signature': expectedPresignature(url, 'PUT', headers, CREDENTIALS.secretAccessKey, 'eu-central-1'),
    });
    expect(sent).toEqual([]); // presigning sends nothing
  });

  it('a bucket whose name has a dot is refused at once (its virtual host would fail TLS)', () => {
    expect(() => s3Objects('crm.uploads', { region: 'eu-central-1', credentials: CREDENTIALS })).toThrow(/has a dot/);
  });

  it('a GET: only host signed, nothing the client must send', async () => {
    const { objects } = withFetch([]);
    const url = new URL(await objects.presign('GET', 'exports/t1/e1.csv', { now: NOW, expiresInSeconds: 60 }));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedPresignature(url, 'GET', {}, CREDENTIALS.secretAccessKey, 'eu-central-1'));
  });
});

describe('GET and PUT', () => {
  it('GET: the object URL, signed in the Authorization header with the payload hash, date and token; answers the bytes', async () => {
    const { objects, sent } = withFetch([() => new Response('a,b\r\n', { headers: { 'content-length': '5' } })]);
    expect((await objects.get('imports/t1/u1.csv'))!.toString()).toBe('a,b\r\n');
    expect(sent).toHaveLength(1);
    const [req] = sent;
    expect(req!.method).toBe('GET');
    expect(req!.url.href).toBe('https://crm-uploads.s3.eu-central-1.amazonaws.com/imports/t1/u1.csv');
    expect(req!.headers).toMatchObject({ 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20260601T080000Z', 'x-amz-security-token': CREDENTIALS.sessionToken });
    expect(req!.headers.host).toBeUndefined(); // fetch sets it from the URL
    expect(req!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260601\/eu-central-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(req!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(req!));
    expect(req!.signal).toBeInstanceOf(AbortSignal); // each attempt is bounded
  });

  it('GET of a missing key (404 NoSuchKey) is undefined, at once', async () => {
    const { objects, sent } = withFetch([s3Error(404, 'NoSuchKey')]);
    expect(await objects.get('imports/t1/gone.csv')).toBeUndefined();
    expect(sent).toHaveLength(1);
  });

  it('an object over the limit is refused by its Content-Length before a byte of the body is read', async () => {
    const { stream, seen } = watchedBody([new Uint8Array(10)]);
    const { objects } = withFetch([() => new Response(stream, { headers: { 'content-length': '11' } })]);
    const tooLarge = () => new DomainError(413, 'payload_too_large', 'too large');
    await expect(objects.get('imports/t1/big.csv', { maxBytes: 10, tooLarge })).rejects.toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(seen).toEqual({ pulls: 0, cancelled: true });
  });

  it('without a Content-Length, reading stops at the limit (and at the limit exactly, the bytes are answered)', async () => {
    const tooLarge = () => new DomainError(413, 'payload_too_large', 'too large');
    const over = watchedBody([new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)]);
    const exact = watchedBody([new Uint8Array(6), new Uint8Array(4)]);
    const { objects } = withFetch([() => new Response(over.stream), () => new Response(exact.stream)]);
    await expect(objects.get('k', { maxBytes: 10, tooLarge })).rejects.toMatchObject({ status: 413 });
    expect(over.seen).toEqual({ pulls: 2, cancelled: true });
    expect((await objects.get('k', { maxBytes: 10, tooLarge }))!.length).toBe(10);
  });

  it('PUT: the bytes, their SHA-256 as the signed payload hash, the given headers signed', async () => {
    const { objects, sent } = withFetch([() => new Response(null, { status: 200 })]);
    const body = Buffer.from('\uFEFFid,name\r\n');
    await objects.put('exports/t1/e1.csv', body, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': 'attachment; filename="accounts.csv"' });
    const [req] = sent;
    expect(req!.method).toBe('PUT');
    expect(req!.url.href).toBe('https://crm-uploads.s3.eu-central-1.amazonaws.com/exports/t1/e1.csv');
    expect(req!.body!.equals(body)).toBe(true);
    expect(req!.headers).toMatchObject({
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="accounts.csv"',
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    });
    expect(req!.headers.authorization).toContain('SignedHeaders=content-disposition;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
    expect(req!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(req!));
  });
});

describe('failures', () => {
  it('503 SlowDown is retried after a backoff, and the retry is signed anew', async () => {
    const { objects, sent, waits } = withFetch([s3Error(503, 'SlowDown'), () => new Response('ok')]);
    expect((await objects.get('k'))!.toString()).toBe('ok');
    expect(sent).toHaveLength(2);
    expect(waits).toEqual([100]); // full jitter of 100 ms × 2¹, at random() = 0.5
    expect(sent[1]!.signal).not.toBe(sent[0]!.signal); // each attempt has its own time bound
  });

  it('a 5xx through every attempt is thrown as S3 answered it, and the HTTP middleware answers 503 unavailable', async () => {
    const { objects, sent, waits } = withFetch([s3Error(500, 'InternalError'), s3Error(503, 'SlowDown'), s3Error(500, 'InternalError')]);
    const err = await objects.put('k', Buffer.from('x'), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500, attempts: 3 } });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
    expect(problemOf(err, 'PUT /test')).toMatchObject({ problem: { status: 503, code: 'unavailable' }, retryAfter: '1' });
  });

  it('no answer (connection reset, timeout) is retried, then a 503 unavailable', async () => {
    const { objects, sent } = withFetch([connectionReset, timedOut, connectionReset]);
    const err = await objects.get('k').catch((e: unknown) => e);
    expect(sent).toHaveLength(3);
    expect(err).toMatchObject({ name: 'NetworkingError', $fault: 'server', $metadata: { attempts: 3 } });
    expect(problemOf(err, 'GET /test').problem).toMatchObject({ status: 503, code: 'unavailable' });

    const { objects: once } = withFetch([timedOut], { maxAttempts: 1 });
    const timeout = await once.get('k').catch((e: unknown) => e);
    expect(timeout).toMatchObject({ name: 'TimeoutError', $metadata: { attempts: 1 } });
    expect(problemOf(timeout, 'GET /test').problem).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('a refusal (403 AccessDenied) is not retried and stays a loud 500: a configuration bug, not a busy service', async () => {
    const { objects, sent } = withFetch([s3Error(403, 'AccessDenied')]);
    const err = await objects.get('k').catch((e: unknown) => e);
    expect(sent).toHaveLength(1);
    expect(err).toMatchObject({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403, attempts: 1 } });
    expect(problemOf(err, 'GET /test').problem).toMatchObject({ status: 500, code: 'internal_error' });
  });
});
