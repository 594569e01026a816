/**
 * The objects of one S3 bucket by key: GET, PUT and presigned URLs, as `fetch` requests signed
 * with SigV4. It stands in for `@aws-sdk/client-s3` (with its XML protocol, checksums and S3
 * middleware: ~100 KB gzip in a bundle) where the code needs only these four things
 * (domain/integrations/upload-store.ts, functions/openapi/docs-files.ts).
 *
 * The requests are signed and sent by domain/aws/signed-fetch.ts (SigV4 with the SDK's own signer,
 * the environment's credentials and region, the SDK's retry classification), configured as the S3
 * client configures its signer: service `s3`, the path signed as sent (S3 does not double-encode).
 * URLs are virtual-hosted style, `https://<bucket>.s3.<region>.amazonaws.com/<key>`, each segment
 * of the key URI-encoded (RFC 3986 unreserved characters kept, `/` between segments kept).
 *
 * Failures: an S3 error answer is an `AwsServiceError` named by S3's `<Code>` (a missing key,
 * `NoSuchKey`, is undefined here); what is retried, and what the HTTP middleware answers as 503
 * `unavailable`, is the SDK's classification (domain/aws/signed-fetch.ts).
 */
import { escapeUri } from '@smithy/core/protocols';
import { AwsServiceError, requestTo, signedFetch, urlOf, type SignedFetchOptions } from '#domain/aws/signed-fetch.ts';

/** The header whose value is the payload's hash; in a presigned URL the payload is unknown. */
const PAYLOAD_HASH = 'x-amz-content-sha256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface S3ObjectsOptions extends SignedFetchOptions {
  /** Default `https://<bucket>.s3.<region>.amazonaws.com`. */
  origin?: string;
}

export interface S3Objects {
  /**
   * The object's bytes; undefined when there is none (404 `NoSuchKey`). With `limit`, an object
   * larger than `maxBytes` throws `tooLarge()`: told by its Content-Length before the body is read
   * (and counted while reading, should a length be missing).
   */
  get(key: string, limit?: { maxBytes: number; tooLarge: () => Error }): Promise<Buffer | undefined>;
  /** Stores the bytes under `key` with the given headers (`content-type`, `content-disposition`, …). */
  put(key: string, body: Uint8Array, headers: Record<string, string>): Promise<void>;
  /**
   * A URL that answers `method` on `key` for `expiresInSeconds` from `now`, with no other
   * credential. `headers` are signed: the request must carry them as given (a PUT's content-type).
   */
  presign(method: 'GET' | 'PUT', key: string, options: { now: Date; expiresInSeconds: number; headers?: Record<string, string> }): Promise<string>;
}

/** The URL path of a key: each segment URI-encoded as S3 signs it (encoded once, `/` kept). */
export const objectPath = (key: string) => `/${key.split('/').map(escapeUri).join('/')}`;

export function s3Objects(bucket: string, options: S3ObjectsOptions = {}): S3Objects {
  // S3's certificate covers one label before `.s3.`: a dotted name would fail TLS on every request.
  if (!options.origin && bucket.includes('.')) throw new Error(`S3 objects: bucket ${bucket} has a dot; virtual-hosted HTTPS needs a name without`);
  const s3 = signedFetch({ title: 'S3', signingName: 's3', uriEscapePath: false, errorOf: xmlError }, options);
  const origin = new URL(options.origin ?? `https://${bucket}.s3.${s3.region}.amazonaws.com`);
  const requestOf = (method: string, key: string, headers: Record<string, string>, body?: Uint8Array) => requestTo(origin, method, objectPath(key), headers, body);

  return {
    async get(key, limit) {
      let bytes: Buffer | typeof TOO_LARGE;
      try {
        bytes = await s3.send(requestOf('GET', key, {}), (res) => bodyOf(res, limit?.maxBytes));
      } catch (err) {
        if (err instanceof AwsServiceError && err.name === 'NoSuchKey') return undefined;
        throw err;
      }
      if (bytes === TOO_LARGE) throw limit!.tooLarge();
      return bytes;
    },
    async put(key, body, headers) {
      await s3.send(requestOf('PUT', key, headers, body), async (res) => void (await res.body?.cancel()));
    },
    async presign(method, key, { now: signingDate, expiresInSeconds, headers = {} }) {
      // The payload is unknown when presigning: its hash is UNSIGNED-PAYLOAD, named in the
      // canonical request only (neither hoisted into the query nor a header the client must send).
      const request = requestOf(method, key, { ...headers, [PAYLOAD_HASH]: UNSIGNED_PAYLOAD });
      const only = new Set([PAYLOAD_HASH]);
      const signed = await s3.signer.presign(request, { signingDate, expiresIn: expiresInSeconds, unhoistableHeaders: only, unsignableHeaders: only });
      return urlOf(signed);
    },
  };
}

const TOO_LARGE = Symbol('too large');

/** S3's error answer is XML: `<Error><Code>…</Code><Message>…</Message></Error>`. */
function xmlError(_res: Response, body: string) {
  return { code: /<Code>([^<]+)<\/Code>/.exec(body)?.[1], message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1] };
}

/** The answer's bytes; over `maxBytes` (declared, or counted should no length be declared), TOO_LARGE and the body dropped. */
async function bodyOf(res: Response, maxBytes = Infinity): Promise<Buffer | typeof TOO_LARGE> {
  if (Number(res.headers.get('content-length')) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    return TOO_LARGE;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) return TOO_LARGE; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
