/**
 * The objects of one S3 bucket by key: GET, PUT and presigned URLs, as `fetch` requests signed
 * with SigV4. It stands in for `@aws-sdk/client-s3` (with its XML protocol, checksums and S3
 * middleware: ~100 KB gzip in a bundle) where the code needs only these four things
 * (domain/integrations/upload-store.ts, functions/openapi/docs-files.ts).
 *
 * The signer is `@smithy/signature-v4`, the one every SDK client signs with (the DynamoDB client
 * brings it into each bundle already), configured as the S3 client configures it: service `s3`,
 * the path signed as sent (S3 does not double-encode). Credentials and region are the Lambda
 * environment's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`),
 * where the bundles' SDK clients take theirs too (infra/bundling/lambda-credentials.ts).
 * URLs are virtual-hosted style, `https://<bucket>.s3.<region>.amazonaws.com/<key>`, each segment
 * of the key URI-encoded (RFC 3986 unreserved characters kept, `/` between segments kept).
 *
 * Failures: an S3 error answer is an `S3Error` named by S3's `<Code>`, shaped as the SDK's
 * service errors (`$metadata.httpStatusCode`, `$fault`), so the SDK's own classification decides
 * what is retried here and what functions/middleware/problem.ts answers as 503 `unavailable`.
 * Throttling, 5xx, a timed-out attempt and a dropped connection are retried (3 attempts in all,
 * exponential backoff with full jitter, as the SDK's standard mode), each attempt bounded by a
 * timeout that covers the body too; what still fails then is thrown.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { escapeUri } from '@smithy/core/protocols';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];
type SignableRequest = Parameters<SignatureV4['presign']>[0];

/** The header whose value is the payload's hash; in a presigned URL the payload is unknown. */
const PAYLOAD_HASH = 'x-amz-content-sha256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface S3ObjectsOptions {
  /** Default `AWS_REGION`. */
  region?: string;
  /** Default the environment's (`fromEnv`). */
  credentials?: Credentials;
  /** Default `https://<bucket>.s3.<region>.amazonaws.com`. */
  origin?: string;
  /** Default the global `fetch` (read at each call). */
  fetch?: typeof fetch;
  /** Attempts per request, the first included. Default 3. */
  maxAttempts?: number;
  /** Bound of one attempt, its body included. Default 3 s: three attempts fit in a function's 10 s. */
  attemptTimeoutMs?: number;
  /** Waits between attempts (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source, in [0, 1). */
  random?: () => number;
  /** The signing time of GET and PUT. */
  now?: () => Date;
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

/** An S3 request that failed: S3's error answer (named by its `<Code>`), or no answer at all (`TimeoutError`, `NetworkingError`). */
export class S3Error extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode?: number; attempts: number };
  /** Set when S3 never answered: the SDK's "retryable" trait, so the classification calls it transient. */
  readonly $retryable?: { throttling?: boolean };

  constructor(name: string, message: string, details: { status?: number; attempts: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = name;
    this.$metadata = { ...(details.status === undefined ? {} : { httpStatusCode: details.status }), attempts: details.attempts };
    this.$fault = details.status === undefined || details.status >= 500 ? 'server' : 'client';
    if (details.status === undefined) this.$retryable = {};
  }
}

/** The SDK's own test of what is worth another attempt (and what the HTTP middleware answers as 503). */
function worthRetrying(err: S3Error): boolean {
  const sdkError = err as Parameters<typeof isThrottlingError>[0];
  return isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError);
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The URL path of a key: each segment URI-encoded as S3 signs it (encoded once, `/` kept). */
export const objectPath = (key: string) => `/${key.split('/').map(escapeUri).join('/')}`;

export function s3Objects(bucket: string, options: S3ObjectsOptions = {}): S3Objects {
  const region = options.region ?? process.env.AWS_REGION;
  if (!region) throw new Error('S3 objects: AWS_REGION is not set');
  // S3's certificate covers one label before `.s3.`: a dotted name would fail TLS on every request.
  if (!options.origin && bucket.includes('.')) throw new Error(`S3 objects: bucket ${bucket} has a dot; virtual-hosted HTTPS needs a name without`);
  const origin = new URL(options.origin ?? `https://${bucket}.s3.${region}.amazonaws.com`);
  const { maxAttempts = 3, attemptTimeoutMs = 3_000, sleep = sleepFor, random = Math.random, now = () => new Date() } = options;
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: options.credentials ?? fromEnv(),
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: true,
  });

  const requestOf = (method: string, key: string, headers: Record<string, string>, body?: Uint8Array): SignableRequest => ({
    method,
    protocol: origin.protocol,
    hostname: origin.hostname,
    ...(origin.port ? { port: Number(origin.port) } : {}),
    path: objectPath(key),
    query: {},
    headers: { host: origin.host, ...headers },
    body,
  });

  const urlOf = (signed: SignableRequest) => {
    const query = Object.entries(signed.query ?? {})
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(String(v))}`)
      .join('&');
    return `${origin.origin}${signed.path}${query ? `?${query}` : ''}`;
  };

  /** One attempt: the signed request and its answer; S3's error answers and transport failures as S3Errors. */
  async function send<T>(request: SignableRequest, attempt: number, read: (res: Response) => Promise<T>): Promise<T> {
    const signed = await signer.sign(request, { signingDate: now() });
    const { host: _host, ...headers } = signed.headers; // fetch sets Host from the URL
    const signal = AbortSignal.timeout(attemptTimeoutMs);
    const unreachable = (err: unknown) =>
      new S3Error((err as Error).name === 'TimeoutError' ? 'TimeoutError' : 'NetworkingError', `S3 ${request.method} ${request.path}: ${(err as Error).message}`, { attempts: attempt, cause: err });
    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(urlOf(signed), { method: signed.method, headers, body: signed.body as Uint8Array | undefined, signal });
    } catch (err) {
      throw unreachable(err);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `Http${res.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? res.statusText;
      throw new S3Error(code, `S3 ${request.method} ${request.path}: ${res.status} ${code}: ${message}`, { status: res.status, attempts: attempt });
    }
    try {
      return await read(res);
    } catch (err) {
      throw unreachable(err); // the body cut off: timed out, or the connection dropped
    }
  }

  async function withRetries<T>(request: SignableRequest, read: (res: Response) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send(request, attempt, read);
      } catch (err) {
        if (!(err instanceof S3Error) || attempt >= maxAttempts || !worthRetrying(err)) throw err;
        await sleep(Math.floor(random() * 100 * 2 ** attempt));
      }
    }
  }

  return {
    async get(key, limit) {
      let bytes: Buffer | typeof TOO_LARGE;
      try {
        bytes = await withRetries(requestOf('GET', key, {}), (res) => bodyOf(res, limit?.maxBytes));
      } catch (err) {
        if (err instanceof S3Error && err.name === 'NoSuchKey') return undefined;
        throw err;
      }
      if (bytes === TOO_LARGE) throw limit!.tooLarge();
      return bytes;
    },
    async put(key, body, headers) {
      await withRetries(requestOf('PUT', key, headers, body), async (res) => void (await res.body?.cancel()));
    },
    async presign(method, key, { now: signingDate, expiresInSeconds, headers = {} }) {
      // The payload is unknown when presigning: its hash is UNSIGNED-PAYLOAD, named in the
      // canonical request only (neither hoisted into the query nor a header the client must send).
      const request = requestOf(method, key, { ...headers, [PAYLOAD_HASH]: UNSIGNED_PAYLOAD });
      const only = new Set([PAYLOAD_HASH]);
      const signed = await signer.presign(request, { signingDate, expiresIn: expiresInSeconds, unhoistableHeaders: only, unsignableHeaders: only });
      return urlOf(signed);
    },
  };
}

const TOO_LARGE = Symbol('too large');

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
