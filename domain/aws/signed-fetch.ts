/**
 * AWS API calls as `fetch` requests signed with SigV4: what an SDK client does for a handful of
 * operations, without the client's code (its protocol layer, schemas, middleware stack) in the
 * bundle. Used where a function needs only a few operations of a service (S3 objects,
 * domain/integrations/s3-objects.ts; SES, domain/mail/ses.ts; KMS, domain/secrets/kms.ts; STS,
 * domain/aws/sts.ts; Secrets Manager, domain/secrets/secrets-manager.ts); each adapter builds its
 * requests and reads its answers, this module sends them.
 *
 * The signer is `@smithy/signature-v4`, the one every SDK client signs with (the DynamoDB client
 * brings it into each bundle already). Credentials and region are the Lambda environment's
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`), where the
 * bundles' SDK clients take theirs too (infra/bundling/lambda-credentials.ts).
 *
 * Failures: a service's error answer is an `AwsServiceError` named by the service's error code,
 * shaped as the SDK's service errors (`$metadata.httpStatusCode`, `$fault`), so the SDK's own
 * classification (`@smithy/core/retry`) decides what is retried here and what
 * functions/middleware/problem.ts answers as 503 `unavailable`. Throttling, 5xx, a timed-out
 * attempt and a dropped connection are retried (3 attempts in all, exponential backoff with full
 * jitter, as the SDK's standard mode), each attempt bounded by a timeout that covers the body too;
 * what still fails then is thrown.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { escapeUri } from '@smithy/core/protocols';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';

export type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];
export type SignableRequest = Parameters<SignatureV4['presign']>[0];

/** What a caller (or a test) may set; every field has the Lambda default. */
export interface SignedFetchOptions {
  /** Default `AWS_REGION`. */
  region?: string;
  /** Default the environment's (`fromEnv`). */
  credentials?: Credentials;
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
  /** The signing time. */
  now?: () => Date;
}

/** What differs between services: the signing name and how an error answer names its error. */
export interface AwsService {
  /** In error messages: `S3`, `SES`, `KMS`, `STS`, `Secrets Manager`. */
  title: string;
  /** SigV4's service name: `s3`, `ses`, `kms`, `sts`, `secretsmanager`. */
  signingName: string;
  /** S3 signs the path as sent; other services sign it encoded once more (the signer's default). */
  uriEscapePath?: boolean;
  /** The error code and message of an error answer (its body as text); undefined parts are filled in from the status. */
  errorOf(res: Response, body: string): { code?: string; message?: string };
}

/** A request that failed: the service's error answer (named by its code), or no answer at all (`TimeoutError`, `NetworkingError`). */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode?: number; attempts: number };
  /** Set when the service never answered: the SDK's "retryable" trait, so the classification calls it transient. */
  readonly $retryable?: { throttling?: boolean };
  /** The service's own message (the SDK's `message`); `message` adds the request and the status. */
  readonly reason: string;

  constructor(name: string, context: string, reason: string, details: { status?: number; attempts: number; cause?: unknown }) {
    super(`${context}: ${details.status === undefined ? '' : `${details.status} ${name}: `}${reason}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = name;
    this.reason = reason;
    this.$metadata = { ...(details.status === undefined ? {} : { httpStatusCode: details.status }), attempts: details.attempts };
    this.$fault = details.status === undefined || details.status >= 500 ? 'server' : 'client';
    if (details.status === undefined) this.$retryable = {};
  }
}

/** The SDK's own test of what is worth another attempt (and what the HTTP middleware answers as 503). */
function worthRetrying(err: AwsServiceError): boolean {
  const sdkError = err as Parameters<typeof isThrottlingError>[0];
  return isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError);
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A request to `origin` (its host signed), in the signer's shape. */
export function requestTo(origin: URL, method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array): SignableRequest {
  return {
    method,
    protocol: origin.protocol,
    hostname: origin.hostname,
    ...(origin.port ? { port: Number(origin.port) } : {}),
    path,
    query: {},
    headers: { host: origin.host, ...headers },
    body,
  };
}

/** The URL of a signed request: its path as given, its query (a presigned URL's) URI-encoded. */
export function urlOf(signed: SignableRequest): string {
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${escapeUri(k)}=${escapeUri(String(v))}`)
    .join('&');
  return `${signed.protocol}//${signed.hostname}${signed.port ? `:${signed.port}` : ''}${signed.path}${query ? `?${query}` : ''}`;
}

export interface SignedFetch {
  readonly region: string;
  /** For presigned URLs (S3). */
  readonly signer: SignatureV4;
  /**
   * Sends `request`, signed anew at each attempt, and retries what the SDK would; a
   * 2xx answer is given to `read`. `operation` names the request in error messages (default its method and path).
   * `read` only reads the body: whatever it throws counts as the connection failing and is retried, so a
   * caller parses what it read after `send` returns (a malformed answer is then an error, not a retry).
   */
  send<T>(request: SignableRequest, read: (res: Response) => Promise<T>, operation?: string): Promise<T>;
}

export function signedFetch(service: AwsService, options: SignedFetchOptions = {}): SignedFetch {
  const region = options.region ?? process.env.AWS_REGION;
  if (!region) throw new Error(`${service.title}: AWS_REGION is not set`);
  const { maxAttempts = 3, attemptTimeoutMs = 3_000, sleep = sleepFor, random = Math.random, now = () => new Date() } = options;
  const signer = new SignatureV4({
    service: service.signingName,
    region,
    credentials: options.credentials ?? fromEnv(),
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: service.uriEscapePath ?? true,
    applyChecksum: true,
  });

  /** One attempt: the signed request and its answer; error answers and transport failures as AwsServiceErrors. */
  async function attempt<T>(request: SignableRequest, context: string, attempts: number, read: (res: Response) => Promise<T>): Promise<T> {
    const signed = await signer.sign(request, { signingDate: now() });
    const { host: _host, ...headers } = signed.headers; // fetch sets Host from the URL
    const signal = AbortSignal.timeout(attemptTimeoutMs);
    const unreachable = (err: unknown) =>
      new AwsServiceError((err as Error).name === 'TimeoutError' ? 'TimeoutError' : 'NetworkingError', context, (err as Error).message, { attempts, cause: err });
    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(urlOf(signed), { method: signed.method, headers, body: signed.body as string | Uint8Array | undefined, signal });
    } catch (err) {
      throw unreachable(err);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const { code = `Http${res.status}`, message = res.statusText } = service.errorOf(res, text);
      throw new AwsServiceError(code, context, message, { status: res.status, attempts });
    }
    try {
      return await read(res);
    } catch (err) {
      throw unreachable(err); // the body cut off: timed out, or the connection dropped
    }
  }

  return {
    region,
    signer,
    async send(request, read, operation = `${request.method} ${request.path}`) {
      const context = `${service.title} ${operation}`;
      for (let attempts = 1; ; attempts++) {
        try {
          return await attempt(request, context, attempts, read);
        } catch (err) {
          if (!(err instanceof AwsServiceError) || attempts >= maxAttempts || !worthRetrying(err)) throw err;
          await sleep(Math.floor(random() * 100 * 2 ** attempts));
        }
      }
    },
  };
}
