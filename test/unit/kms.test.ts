/**
 * The KMS adapter (domain/secrets/kms.ts): GenerateDataKey and Decrypt as signed `fetch` requests.
 * KMS has no local emulator, so `fetch` is replaced at the edge: the requests are compared with
 * what the real KMS client sends for the same input (a capturing request handler, no network;
 * @aws-sdk/client-kms is a dev dependency for this), their signatures with a SigV4 written from
 * the specification, and the answers, errors and retries with what the SDK made of them.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsServiceError } from '#domain/aws/signed-fetch.ts';
import { decryptInput, generateDataKeyInput, kmsDataKeys, open, seal, setDataKeyProvider } from '#domain/secrets/envelope.ts';
import { kmsApi } from '#domain/secrets/kms.ts';
import { problemOf } from '#functions/middleware/problem.ts';
import { expectSignedJsonRequest, recordingFetch } from '#test/support/signed-fetch.ts';

const KEY = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const context = { tenant: 'acme', resource: 'webhook/01J0000000000000000000000' };

/** The adapter over a recording `fetch` (region eu-central-1). */
function withFetch(answers: (() => Response | Promise<Response>)[]) {
  const { options, sent, waits } = recordingFetch(answers, 'eu-central-1');
  return { kms: kmsApi(options), sent, waits };
}

const json = (value: unknown, status = 200) => () => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/x-amz-json-1.1' } });
const bodyOf = (req: { body?: Buffer }) => JSON.parse(req.body!.toString('utf8')) as Record<string, unknown>;

/** The real KMS client, its requests captured before they would leave. */
function capturingClient() {
  const requests: { path: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const client = new KMSClient({
    region: 'eu-central-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { path: string; method: string; headers: Record<string, string>; body?: unknown }) => {
        requests.push({ ...req, body: typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body as Uint8Array) });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Readable.from([Buffer.from('{}')]) } };
      },
    } as never,
  });
  return { client, requests };
}

afterEach(() => setDataKeyProvider(undefined));

describe('KMS requests', () => {
  it('each operation goes out as the KMS client sends it: method, path, content type, target and JSON body (blobs base64)', async () => {
    const blob = randomBytes(48);
    const { client, requests } = capturingClient();
    await client.send(new GenerateDataKeyCommand(generateDataKeyInput(KEY, context)));
    await client.send(new DecryptCommand(decryptInput(KEY, blob, context)));
    const { kms, sent } = withFetch([json({}), json({})]);
    await kms.generateDataKey(generateDataKeyInput(KEY, context));
    await kms.decrypt(decryptInput(KEY, blob, context));
    const shape = (r: { method: string; path: string; headers: Record<string, string>; body: string }) => ({
      method: r.method,
      path: r.path,
      type: r.headers['content-type'],
      target: r.headers['x-amz-target'],
      body: JSON.parse(r.body),
    });
    expect(sent.map((r) => shape({ ...r, path: r.url.pathname, body: r.body!.toString('utf8') }))).toEqual(requests.map(shape));
    expect(bodyOf(sent[1]!).CiphertextBlob).toBe(blob.toString('base64'));
  });

  it('GenerateDataKey: one POST to the regional endpoint, the target and content type signed with the body hash; the blobs decoded', async () => {
    const plaintext = randomBytes(32);
    const ciphertext = randomBytes(48);
    const { kms, sent } = withFetch([json({ KeyId: KEY, Plaintext: plaintext.toString('base64'), CiphertextBlob: ciphertext.toString('base64') })]);
    const out = await kms.generateDataKey(generateDataKeyInput(KEY, context));
    expect(Buffer.from(out.Plaintext!).equals(plaintext)).toBe(true);
    expect(Buffer.from(out.CiphertextBlob!).equals(ciphertext)).toBe(true);
    const [req] = sent;
    expect(req!.method).toBe('POST');
    expect(req!.url.href).toBe('https://kms.eu-central-1.amazonaws.com/');
    expect(bodyOf(req!)).toEqual({ KeyId: KEY, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme', resource: context.resource } });
    expectSignedJsonRequest(req!, { target: 'TrentService.GenerateDataKey', region: 'eu-central-1', service: 'kms' });
  });

  it('seal and open through KMS on the wire: the data key travels base64 both ways and opens what it sealed', async () => {
    const plaintext = randomBytes(32);
    const ciphertext = randomBytes(48);
    const { kms, sent } = withFetch([
      json({ Plaintext: plaintext.toString('base64'), CiphertextBlob: ciphertext.toString('base64') }),
      json({ Plaintext: plaintext.toString('base64') }),
    ]);
    setDataKeyProvider(kmsDataKeys(KEY, kms));
    const sealed = await seal({ current: 'whsec_abc' }, context);
    expect(sealed.dk).toBe(ciphertext.toString('base64'));
    expect(await open(sealed, context)).toEqual({ current: 'whsec_abc' });
    expect(sent[1]!.headers['x-amz-target']).toBe('TrentService.Decrypt');
    expect(bodyOf(sent[1]!)).toEqual({ KeyId: KEY, CiphertextBlob: ciphertext.toString('base64'), EncryptionContext: { tenant: 'acme', resource: context.resource } });
  });
});

describe('KMS errors', () => {
  it("a refusal (the body's __type) is thrown at once as KMS named it, and stays a loud 500", async () => {
    const { kms, sent } = withFetch([json({ __type: 'InvalidCiphertextException', message: 'bad blob' }, 400)]);
    const err = await kms.decrypt(decryptInput(KEY, randomBytes(48), context)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ name: 'InvalidCiphertextException', reason: 'bad blob', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
    expect(sent).toHaveLength(1);
    expect(problemOf(err, 'POST /test').problem).toMatchObject({ status: 500, code: 'internal_error' });
  });

  it('a throttle (namespaced __type) is retried with backoff, then a 503 unavailable', async () => {
    const throttled = json({ __type: 'com.amazonaws.kms#ThrottlingException', message: 'slow down' }, 400);
    const { kms, sent, waits } = withFetch([throttled, throttled, throttled]);
    const err = await kms.generateDataKey(generateDataKeyInput(KEY, context)).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400, attempts: 3 } });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
    expect(problemOf(err, 'POST /test')).toMatchObject({ problem: { status: 503, code: 'unavailable' }, retryAfter: '1' });
  });

  it('a 5xx is retried, and the next answer counts', async () => {
    const plaintext = randomBytes(32);
    const { kms, sent } = withFetch([json({ __type: 'KMSInternalException', message: 'oops' }, 500), json({ Plaintext: plaintext.toString('base64') })]);
    const out = await kms.decrypt(decryptInput(KEY, randomBytes(48), context));
    expect(Buffer.from(out.Plaintext!).equals(plaintext)).toBe(true);
    expect(sent).toHaveLength(2);
  });

  it('a 200 whose body is not JSON is an error at once, not a retry (nor a 503)', async () => {
    const { kms, sent } = withFetch([() => new Response('<html>proxy</html>', { status: 200 }), json({ Plaintext: 'AA==' })]);
    const err = await kms.decrypt(decryptInput(KEY, randomBytes(48), context)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyntaxError);
    expect(sent).toHaveLength(1);
  });
});
