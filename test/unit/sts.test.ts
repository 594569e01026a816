/**
 * The STS adapter (domain/aws/sts.ts): AssumeRole as a signed `fetch` request, form-encoded out,
 * XML back. STS has no local emulator, so `fetch` is replaced at the edge: the request body is
 * compared byte for byte with what the real STS client sends for the same input, and the answers
 * (credentials, errors) with what the client makes of the same bytes (a capturing request handler,
 * no network; @aws-sdk/client-sts is a dev dependency for this); the signature with a SigV4 written
 * from the specification; the tenant provider over the wire.
 */
import { Readable } from 'node:stream';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AwsServiceError } from '#domain/aws/signed-fetch.ts';
import { assumeRoleOutputOf, stsApi, type AssumeRoleInput } from '#domain/aws/sts.ts';
import { assumeRoleInput, RENEW_BEFORE_MS, stsClientProvider } from '#domain/table/tenant-client.ts';
import { problemOf } from '#functions/middleware/problem.ts';
import { CREDENTIALS, expectedSignature, recordingFetch, sha256Hex } from '#test/support/signed-fetch.ts';

const ROLE = 'arn:aws:iam::123456789012:role/CrmApi-HttpAccountsTenantTableRole';
const REGION = 'eu-central-1';

const xml = (body: string, status = 200) => () => new Response(body, { status, headers: { 'content-type': 'text/xml' } });
const granted = (c: { id: string; secret: string; token: string; expires: string }) =>
  `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>x</SourceIdentity>
    <AssumedRoleUser><AssumedRoleId>AROA3XFRBF535PLBIFPI4:tenant-acme</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/r/tenant-acme</Arn></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${c.id}</AccessKeyId>
      <SecretAccessKey>${c.secret}</SecretAccessKey>
      <SessionToken>${c.token}</SessionToken>
      <Expiration>${c.expires}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;
const refused = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r1</RequestId></ErrorResponse>`;
const GRANTED = granted({ id: 'ASIAEXAMPLE1', secret: 'wJal/K7&amp;MDENG', token: 'IQoJb3JpZ2luX2Vj+/=', expires: '2026-06-01T09:00:00Z' });

function withFetch(answers: (() => Response | Promise<Response>)[]) {
  const { options, sent, waits } = recordingFetch(answers, REGION);
  return { sts: stsApi(options), sent, waits };
}

/** The real STS client: its requests captured, each answered with the next of `answers`, no retries. */
function capturingClient(answers: { status: number; body: string }[] = []) {
  const requests: { hostname: string; path: string; method: string; headers: Record<string, string>; body: string }[] = [];
  const client = new STSClient({
    region: REGION,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (req: { hostname: string; path: string; method: string; headers: Record<string, string>; body?: unknown }) => {
        requests.push({ ...req, body: typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body as Uint8Array) });
        const answer = answers.shift() ?? { status: 200, body: GRANTED };
        return { response: { statusCode: answer.status, headers: { 'content-type': 'text/xml' }, body: Readable.from([Buffer.from(answer.body)]) } };
      },
    } as never,
  });
  return { client, requests };
}

describe('STS AssumeRole requests', () => {
  it('goes out as the STS client sends it: host, method, path, content type and the form body byte for byte', async () => {
    const inputs: AssumeRoleInput[] = [assumeRoleInput(ROLE, 'acme'), assumeRoleInput(ROLE, 'a.b@c_d-E9'), assumeRoleInput(ROLE, 'x'.repeat(128))];
    const { client, requests } = capturingClient();
    for (const input of inputs) await client.send(new AssumeRoleCommand(input));
    const { sts, sent } = withFetch(inputs.map(() => xml(GRANTED)));
    for (const input of inputs) await sts.assumeRole(input);
    const shape = (r: { hostname: string; method: string; path: string; headers: Record<string, string>; body: string }) => ({
      hostname: r.hostname,
      method: r.method,
      path: r.path,
      type: r.headers['content-type'],
      body: r.body,
    });
    expect(sent.map((r) => shape({ ...r, hostname: r.url.hostname, path: r.url.pathname, body: r.body!.toString('utf8') }))).toEqual(requests.map(shape));
    expect(requests[0]!.body).toBe(
      'Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FCrmApi-HttpAccountsTenantTableRole' +
        '&RoleSessionName=tenant-acme&DurationSeconds=3600&Tags.member.1.Key=tenant&Tags.member.1.Value=acme',
    );
  });

  it('encodes any tenant id (and the characters encodeURIComponent leaves alone) as the SDK does', async () => {
    const tenantIds = fc.sample(fc.stringMatching(/^[A-Za-z0-9_.@!*'()~-]{1,70}$/), { seed: 6, numRuns: 40 });
    const { client, requests } = capturingClient();
    const { sts, sent } = withFetch(tenantIds.map(() => xml(GRANTED)));
    for (const id of tenantIds) {
      await client.send(new AssumeRoleCommand(assumeRoleInput(ROLE, id)));
      await sts.assumeRole(assumeRoleInput(ROLE, id));
    }
    expect(sent.map((r) => r.body!.toString('utf8'))).toEqual(requests.map((r) => r.body));
  });

  it('one POST to the regional endpoint, signed for service sts over the content type and the body hash', async () => {
    const { sts, sent } = withFetch([xml(GRANTED)]);
    await sts.assumeRole(assumeRoleInput(ROLE, 'acme'));
    const [req] = sent;
    expect(req!.method).toBe('POST');
    expect(req!.url.href).toBe('https://sts.eu-central-1.amazonaws.com/');
    expect(req!.headers).toMatchObject({
      'content-type': 'application/x-www-form-urlencoded',
      'x-amz-content-sha256': sha256Hex(req!.body!),
      'x-amz-date': '20260601T080000Z',
      'x-amz-security-token': CREDENTIALS.sessionToken,
    });
    expect(req!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260601\/eu-central-1\/sts\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(req!.headers.authorization!.split('Signature=')[1]).toBe(expectedSignature(req!, REGION, 'sts'));
  });
});

describe('STS AssumeRole answers', () => {
  it('reads the credentials as the STS client reads the same XML (entities decoded, Expiration a Date)', async () => {
    const answers = [GRANTED, granted({ id: 'ASIA2', secret: 'a&lt;b&gt;&quot;c&apos;&#x41;&#66;', token: 'T', expires: '2026-06-01T09:00:00.123Z' })];
    const { client } = capturingClient(answers.map((body) => ({ status: 200, body })));
    for (const body of answers) {
      const { Credentials } = await client.send(new AssumeRoleCommand(assumeRoleInput(ROLE, 'acme')));
      expect(assumeRoleOutputOf(body)).toEqual({ Credentials });
    }
    expect(assumeRoleOutputOf(GRANTED).Credentials).toEqual({
      AccessKeyId: 'ASIAEXAMPLE1',
      SecretAccessKey: 'wJal/K7&MDENG',
      SessionToken: 'IQoJb3JpZ2luX2Vj+/=',
      Expiration: new Date('2026-06-01T09:00:00Z'),
    });
  });

  it('an answer without credentials reads as none (the provider then refuses it)', () => {
    expect(assumeRoleOutputOf('<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>')).toEqual({});
    expect(assumeRoleOutputOf(granted({ id: 'A', secret: 'S', token: 'T', expires: 'soon' })).Credentials).not.toHaveProperty('Expiration');
  });

  it('the tenant provider over the wire: the tenant role assumed once, the client built from the answer, kept until shortly before expiry', async () => {
    const { sts, sent } = withFetch([xml(GRANTED), xml(GRANTED)]);
    let at = Date.parse('2026-06-01T08:00:00Z');
    const made: unknown[] = [];
    const provider = stsClientProvider({
      roleArn: ROLE,
      sts,
      now: () => new Date(at),
      clientOf: (credentials) => (made.push(credentials), { credentials } as unknown as DynamoDBDocumentClient),
    });
    const [one, two] = await Promise.all([provider.clientFor('acme'), provider.clientFor('acme')]);
    expect(one).toBe(two);
    expect(sent).toHaveLength(1);
    expect(made).toEqual([{ accessKeyId: 'ASIAEXAMPLE1', secretAccessKey: 'wJal/K7&MDENG', sessionToken: 'IQoJb3JpZ2luX2Vj+/=', expiration: new Date('2026-06-01T09:00:00Z') }]);
    at = Date.parse('2026-06-01T09:00:00Z') - RENEW_BEFORE_MS;
    expect(await provider.clientFor('acme')).not.toBe(one);
    expect(sent).toHaveLength(2);
  });
});

describe('STS errors', () => {
  it('a refusal (AccessDenied) is thrown at once, named by its Code as the client names it, and stays a loud 500', async () => {
    const body = refused('AccessDenied', 'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: sts:TagSession');
    const { client } = capturingClient([{ status: 403, body }]);
    const sdkError = (await client.send(new AssumeRoleCommand(assumeRoleInput(ROLE, 'acme'))).catch((e: unknown) => e)) as Error;
    const { sts, sent } = withFetch([xml(body, 403)]);
    const err = await sts.assumeRole(assumeRoleInput(ROLE, 'acme')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ name: sdkError.name, reason: sdkError.message, $fault: 'client', $metadata: { httpStatusCode: 403, attempts: 1 } });
    expect(sdkError.name).toBe('AccessDenied');
    expect(sent).toHaveLength(1);
    expect(problemOf(err, 'GET /test').problem).toMatchObject({ status: 500, code: 'internal_error' });
  });

  it('a throttle (Throttling) is retried with backoff, then a 503 unavailable; the provider does not remember the failure', async () => {
    const throttled = xml(refused('Throttling', 'Rate exceeded'), 400);
    const { sts, sent, waits } = withFetch([throttled, throttled, throttled, xml(GRANTED)]);
    const provider = stsClientProvider({ roleArn: ROLE, sts, clientOf: () => ({}) as DynamoDBDocumentClient });
    const err = await provider.clientFor('acme').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'Throttling', reason: 'Rate exceeded', $metadata: { httpStatusCode: 400, attempts: 3 } });
    expect(sent).toHaveLength(3);
    expect(waits).toEqual([100, 200]);
    expect(problemOf(err, 'GET /test')).toMatchObject({ problem: { status: 503, code: 'unavailable' }, retryAfter: '1' });
    await expect(provider.clientFor('acme')).resolves.toBeDefined();
  });

  it('a 5xx without an XML body is retried, and the next answer counts', async () => {
    const { sts, sent } = withFetch([() => new Response('Service Unavailable', { status: 503 }), xml(GRANTED)]);
    expect((await sts.assumeRole(assumeRoleInput(ROLE, 'acme'))).Credentials?.AccessKeyId).toBe('ASIAEXAMPLE1');
    expect(sent).toHaveLength(2);
  });
});
