/**
 * Envelope encryption of per-tenant signing secrets (issue 11 point 5): the KMS adapter's request
 * shapes (KMS replaced by a stand-in of its API; its requests on the wire: test/unit/kms.test.ts), seal/open bound to tenant + resource, the local provider,
 * and the table (DynamoDB Local, read raw) holding no plaintext secret: forms, webhooks and the
 * idempotency records that replay their creation.
 */
import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decryptInput,
  generateDataKeyInput,
  isSealed,
  kmsDataKeys,
  localDataKeys,
  open,
  seal,
  setDataKeyProvider,
} from '#domain/secrets/envelope.ts';
import type { KmsApi } from '#domain/secrets/kms.ts';
import { db, tableName } from '#domain/table/client.ts';
import { api, type Caller } from '#test/support/fixtures.ts';

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const ctxA = { tenant: 'acme', resource: 'webhook/01J0000000000000000000000' };

/** A stand-in for KMS: data keys it made, by their ciphertext, each bound to its encryption context. */
function fakeKms() {
  const calls: { operation: 'GenerateDataKey' | 'Decrypt'; input: object }[] = [];
  const issued = new Map<string, { plaintext: Buffer; context: string }>();
  const port: KmsApi = {
    async generateDataKey(input) {
      calls.push({ operation: 'GenerateDataKey', input });
      const plaintext = randomBytes(32);
      const blob = randomBytes(48);
      issued.set(blob.toString('hex'), { plaintext, context: JSON.stringify(input.EncryptionContext) });
      return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array(blob) };
    },
    async decrypt(input) {
      calls.push({ operation: 'Decrypt', input });
      const found = issued.get(Buffer.from(input.CiphertextBlob).toString('hex'));
      if (!found || found.context !== JSON.stringify(input.EncryptionContext)) throw Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });
      return { Plaintext: new Uint8Array(found.plaintext) };
    },
  };
  return { port, calls };
}

afterEach(() => setDataKeyProvider(undefined));

describe('the KMS adapter (KMS mocked at the edge)', () => {
  it('GenerateDataKey: the key, AES_256, the tenant and resource as encryption context; Decrypt: the same context and key', async () => {
    const { port, calls } = fakeKms();
    setDataKeyProvider(kmsDataKeys(KEY, port));
    const sealed = await seal({ current: 'whsec_abc' }, ctxA);
    expect(calls[0]!.operation).toBe('GenerateDataKey');
    expect(calls[0]!.input).toEqual({ KeyId: KEY, KeySpec: 'AES_256', EncryptionContext: { tenant: 'acme', resource: ctxA.resource } });
    expect(generateDataKeyInput(KEY, ctxA)).toEqual(calls[0]!.input);

    expect(await open(sealed, ctxA)).toEqual({ current: 'whsec_abc' });
    expect(calls[1]!.operation).toBe('Decrypt');
    expect(calls[1]!.input).toEqual(decryptInput(KEY, Buffer.from(sealed.dk, 'base64'), ctxA));
    expect(calls[1]!.input).toMatchObject({ KeyId: KEY, EncryptionContext: { tenant: 'acme', resource: ctxA.resource } });
  });

  it('a sealed value holds no plaintext, and opens for its own tenant and resource only', async () => {
    const { port } = fakeKms();
    setDataKeyProvider(kmsDataKeys(KEY, port));
    const sealed = await seal({ current: 'whsec_topsecret' }, ctxA);
    expect(isSealed(sealed)).toBe(true);
    expect(JSON.stringify(sealed)).not.toContain('topsecret');
    await expect(open(sealed, { ...ctxA, tenant: 'globex' })).rejects.toThrow();
    await expect(open(sealed, { ...ctxA, resource: 'webhook/other' })).rejects.toThrow();
  });
});

describe('the local provider (a key file, no KMS)', () => {
  const local = localDataKeys(randomBytes(32));

  it('round-trips, with a fresh data key and IV each time', async () => {
    setDataKeyProvider(local);
    const one = await seal({ current: 's1' }, ctxA);
    const two = await seal({ current: 's1' }, ctxA);
    expect(one.dk).not.toBe(two.dk);
    expect(one.ct).not.toBe(two.ct);
    expect(await open(one, ctxA)).toEqual({ current: 's1' });
  });

  it('refuses another context and any altered byte', async () => {
    setDataKeyProvider(local);
    const sealed = await seal({ current: 's1' }, ctxA);
    await expect(open(sealed, { ...ctxA, tenant: 'other' })).rejects.toThrow();
    const ct = Buffer.from(sealed.ct, 'base64');
    ct[0]! ^= 1;
    await expect(open({ ...sealed, ct: ct.toString('base64') }, ctxA)).rejects.toThrow();
  });
});

describe('the table holds no plaintext signing secret (raw items, DynamoDB Local)', () => {
  const root: Caller = { tenant: 'envelope', user: 'root', role: 'admin' };

  it('forms and webhooks: the item and the idempotency record of the create are sealed; the secret still works', async () => {
    const form = await api(root).post('/v1/forms', { name: 'Website', source: 'website' }, { headers: { 'idempotency-key': 'form-1' } });
    expect(form.status, form.body).toBe(201);
    const webhook = await api(root).post('/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['account.created'] }, { headers: { 'idempotency-key': 'wh-1' } });
    expect(webhook.status, webhook.body).toBe(201);
    const rotated = await api(root).post(`/v1/webhooks/${webhook.json.id}/rotate-secret`);
    expect(rotated.status, rotated.body).toBe(200);
    const secrets = [form.json.secret as string, webhook.json.secret as string, rotated.json.secret as string];
    for (const s of secrets) expect(s).toMatch(/^whsec_/);

    const items = (await db.send(new ScanCommand({ TableName: tableName() }))).Items ?? [];
    const raw = JSON.stringify(items);
    for (const s of secrets) {
      expect(raw).not.toContain(s);
      expect(raw).not.toContain(s.replace(/^whsec_/, ''));
    }
    const stored = items.filter((i) => i.entityType === 'FORM' || i.entityType === 'WEBHOOK');
    expect(stored).toHaveLength(2);
    for (const item of stored) expect(isSealed(item.signing), String(item.entityType)).toBe(true);
    const records = items.filter((i) => i.entityType === 'IDEMPOTENCY');
    expect(records.length).toBeGreaterThanOrEqual(2);
    for (const r of records) expect([isSealed(r.sealedResult), r.result]).toEqual([true, undefined]);

    // A replay answers the same secret (opened from the sealed record).
    const replay = await api(root).post('/v1/forms', { name: 'Website', source: 'website' }, { headers: { 'idempotency-key': 'form-1' } });
    expect(replay.json.secret).toBe(form.json.secret);
    // The webhook's view never shows it; its item opens to the rotated secret (with the previous one overlapping).
    const shown = await api(root).get(`/v1/webhooks/${webhook.json.id}`);
    expect(shown.status).toBe(200);
    expect(JSON.stringify(shown.json)).not.toContain('whsec_');
  });
});
