/**
 * The Secrets Manager adapter (domain/secrets/secrets-manager.ts): GetSecretValue as a signed
 * `fetch` request. Secrets Manager has no local emulator, so `fetch` is replaced at the edge: the
 * request is compared with what the real client sends for the same input (a capturing request
 * handler, no network; @aws-sdk/client-secrets-manager is a dev dependency for this), its signature
 * with a SigV4 written from the specification, and the answers, errors and retries.
 */
import { Readable } from 'node:stream';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsServiceError } from '#domain/aws/signed-fetch.ts';
import { forgetSecrets, getSecretValueInput, readSecret } from '#domain/secrets/runtime-secret.ts';
import { secretsManagerApi } from '#domain/secrets/secrets-manager.ts';
import { problemOf } from '#functions/middleware/problem.ts';
import { expectSignedJsonRequest, recordingFetch } from '#test/support/signed-fetch.ts';

const ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:CursorSigningKey-AbC123';

function withFetch(answers: (() => Response | Promise<Response>)[]) {
  const { options, sent, waits } = recordingFetch(answers, 'eu-central-1');
  return { secrets: secretsManagerApi(options), sent, waits };
}

const json = (value: unknown, status = 200) => () => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/x-amz-json-1.1' } });

/** The real client, its request captured before it would leave. */
function capturingClient() {
  const requests: { hostname: string; path: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const client = new SecretsManagerClient({
    region: 'eu-central-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { hostname: string; path: string; method: string; headers: Record<string, string>; body?: unknown }) => {
        requests.push({ ...req, body: typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body as Uint8Array) });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Readable.from([Buffer.from('{}')]) } };
      },
    } as never,
  });
  return { client, requests };
}

afterEach(() => forgetSecrets());

describe('Secrets Manager GetSecretValue', () => {
  it('goes out as the client sends it: host, method, path, content type, target and JSON body', async () => {
    const { client, requests } = capturingClient();
    await client.send(new GetSecretValueCommand(getSecretValueInput(ARN)));
    const { secrets, sent } = withFetch([json({ SecretString: 'x' })]);
    await secrets.getSecretValue(getSecretValueInput(ARN));
    const shape = (r: { hostname: string; method: string; path: string; headers: Record<string, string>; body: string }) => ({
      hostname: r.hostname,
      method: r.method,
      path: r.path,
      type: r.headers['content-type'],
      target: r.headers['x-amz-target'],
      body: JSON.parse(r.body),
    });
    expect(sent.map((r) => shape({ ...r, hostname: r.url.hostname, path: r.url.pathname, body: r.body!.toString('utf8') }))).toEqual(requests.map(shape));
  });

  it('one POST to the regional endpoint, signed (service secretsmanager) over the target, content type and body hash; the SecretString read', async () => {
    const { secrets, sent } = withFetch([json({ ARN, Name: 'CursorSigningKey', SecretString: 's3cret', VersionStages: ['AWSCURRENT'] })]);
    expect(await readSecret(ARN, secrets)).toBe('s3cret');
    const [req] = sent;
    expect(req!.url.href).toBe('https://secretsmanager.eu-central-1.amazonaws.com/');
    expect(JSON.parse(req!.body!.toString('utf8'))).toEqual({ SecretId: ARN, VersionStage: 'AWSCURRENT' });
    expectSignedJsonRequest(req!, { target: 'secretsmanager.GetSecretValue', region: 'eu-central-1', service: 'secretsmanager' });
  });

  it('a secret with no string value is an error, not an empty key', async () => {
    const { secrets } = withFetch([json({ ARN, SecretBinary: 'AAEC' })]);
    await expect(readSecret(ARN, secrets)).rejects.toThrow('has no string value');
  });

  it('a refusal (the body\'s __type) is thrown at once as named, and is not remembered', async () => {
    const { secrets, sent } = withFetch([json({ __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." }, 400), json({ SecretString: 'later' })]);
    const err = await readSecret(ARN, secrets).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ name: 'ResourceNotFoundException', reason: "Secrets Manager can't find the specified secret.", $metadata: { httpStatusCode: 400, attempts: 1 } });
    expect(sent).toHaveLength(1);
    expect(await readSecret(ARN, secrets)).toBe('later');
  });

  it('a throttle is retried with backoff, then a 503 unavailable', async () => {
    const throttled = json({ __type: 'ThrottlingException', message: 'Rate exceeded' }, 400);
    const { secrets, sent, waits } = withFetch([throttled, throttled, throttled]);
    const err = await secrets.getSecretValue(getSecretValueInput(ARN)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 3 } });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
    expect(problemOf(err, 'GET /test').problem).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('a 5xx is retried, and the next answer counts', async () => {
    const { secrets, sent } = withFetch([json({ __type: 'InternalServiceError', Message: 'oops' }, 500), json({ SecretString: 's3cret' })]);
    expect(await secrets.getSecretValue(getSecretValueInput(ARN))).toEqual({ SecretString: 's3cret' });
    expect(sent).toHaveLength(2);
  });
});
