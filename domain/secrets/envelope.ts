/**
 * Envelope encryption of per-tenant secrets (forms' and webhooks' signing secrets, and an
 * idempotency record that replays one): a fresh 256-bit data key per sealed value, the value
 * encrypted with AES-256-GCM (node:crypto), and the data key kept only encrypted, beside it.
 * The data key comes from a key provider bound to an encryption context (tenant + resource):
 * in the cloud KMS `GenerateDataKey` / `Decrypt` under the CRM secrets key (`SECRETS_KMS_KEY_ID`),
 * so a sealed value opens only through KMS, only for that context, and every opening is in
 * CloudTrail; locally a key file wraps the data key the same way (no KMS emulator).
 * The sealed value is a plain map the table stores; it holds no plaintext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { kmsApi, type KmsApi } from '#domain/secrets/kms.ts';
import { localKeyText } from '#domain/secrets/local-key.ts';
import { registerResultOpener } from '#domain/secrets/sealed-results.ts';

/** Who may open a sealed value: KMS checks it on Decrypt; GCM binds the value to it too. */
export interface SealContext {
  tenant: string;
  /** What the value belongs to, e.g. `form/<id>`, `webhook/<id>`, `idempotency/<hash>`. */
  resource: string;
}

export interface SealedValue {
  /** Format version. */
  v: 1;
  /** Which provider wrapped the data key: `kms` or `local`. */
  by: 'kms' | 'local';
  /** The data key, encrypted by the provider (base64). */
  dk: string;
  iv: string;
  tag: string;
  /** The value, encrypted under the data key (base64). */
  ct: string;
}

export interface DataKeyProvider {
  readonly name: SealedValue['by'];
  generate(context: SealContext): Promise<{ plaintext: Buffer; encrypted: Buffer }>;
  decrypt(encrypted: Buffer, context: SealContext): Promise<Buffer>;
}

/** The context as KMS takes it (string → string) and as GCM's additional data (sorted JSON). */
const kmsContext = (c: SealContext) => ({ tenant: c.tenant, resource: c.resource });
const aad = (c: SealContext) => Buffer.from(JSON.stringify([c.tenant, c.resource]), 'utf8');

function gcmSeal(key: Buffer, plaintext: Buffer, additional: Buffer) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(additional);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ct };
}

function gcmOpen(key: Buffer, box: { iv: Buffer; tag: Buffer; ct: Buffer }, additional: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, box.iv);
  decipher.setAAD(additional);
  decipher.setAuthTag(box.tag);
  return Buffer.concat([decipher.update(box.ct), decipher.final()]);
}

// ---- the KMS adapter ---------------------------------------------------------------------

export const generateDataKeyInput = (keyId: string, context: SealContext) => ({ KeyId: keyId, KeySpec: 'AES_256' as const, EncryptionContext: kmsContext(context) });
export const decryptInput = (keyId: string, encrypted: Buffer, context: SealContext) => ({
  KeyId: keyId,
  CiphertextBlob: new Uint8Array(encrypted),
  EncryptionContext: kmsContext(context),
});

export function kmsDataKeys(keyId: string, kms: KmsApi): DataKeyProvider {
  return {
    name: 'kms',
    async generate(context) {
      const out = await kms.generateDataKey(generateDataKeyInput(keyId, context));
      if (!out.Plaintext || !out.CiphertextBlob) throw new Error('GenerateDataKey answered no key');
      return { plaintext: Buffer.from(out.Plaintext), encrypted: Buffer.from(out.CiphertextBlob) };
    },
    async decrypt(encrypted, context) {
      const out = await kms.decrypt(decryptInput(keyId, encrypted, context));
      if (!out.Plaintext) throw new Error('Decrypt answered no key');
      return Buffer.from(out.Plaintext);
    },
  };
}

// ---- the local provider ------------------------------------------------------------------

/** Wraps data keys with AES-256-GCM under a key file, bound to the context like KMS's. */
export function localDataKeys(masterKey: Buffer): DataKeyProvider {
  return {
    name: 'local',
    async generate(context) {
      const plaintext = randomBytes(32);
      const { iv, tag, ct } = gcmSeal(masterKey, plaintext, aad(context));
      return { plaintext, encrypted: Buffer.concat([iv, tag, ct]) };
    },
    async decrypt(encrypted, context) {
      return gcmOpen(masterKey, { iv: encrypted.subarray(0, 12), tag: encrypted.subarray(12, 28), ct: encrypted.subarray(28) }, aad(context));
    },
  };
}

let provider: DataKeyProvider | undefined;

/** The container's provider: KMS where the function has the key, else the local key file. */
export function dataKeyProvider(): DataKeyProvider {
  if (provider) return provider;
  const keyId = process.env.SECRETS_KMS_KEY_ID;
  if (keyId) return (provider = kmsDataKeys(keyId, kmsApi()));
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) throw new Error('SECRETS_KMS_KEY_ID is not set');
  return (provider = localDataKeys(Buffer.from(localKeyText('envelope-master'), 'base64url')));
}

/** Tests: another provider (undefined: back to the environment's). */
export function setDataKeyProvider(p: DataKeyProvider | undefined): void {
  provider = p;
}

// ---- seal and open -----------------------------------------------------------------------

/** Encrypts `value` (JSON) under a fresh data key bound to `context`. */
export async function seal(value: unknown, context: SealContext): Promise<SealedValue> {
  const keys = dataKeyProvider();
  const dataKey = await keys.generate(context);
  try {
    const { iv, tag, ct } = gcmSeal(dataKey.plaintext, Buffer.from(JSON.stringify(value), 'utf8'), aad(context));
    return { v: 1, by: keys.name, dk: dataKey.encrypted.toString('base64'), iv: iv.toString('base64'), tag: tag.toString('base64'), ct: ct.toString('base64') };
  } finally {
    dataKey.plaintext.fill(0);
  }
}

export const isSealed = (v: unknown): v is SealedValue =>
  typeof v === 'object' && v !== null && (v as SealedValue).v === 1 && typeof (v as SealedValue).ct === 'string' && typeof (v as SealedValue).dk === 'string';

/** Decrypts a sealed value; throws if it was sealed for another context or altered. */
export async function open<T>(sealed: SealedValue, context: SealContext): Promise<T> {
  const keys = dataKeyProvider();
  if (sealed.by !== keys.name) throw new Error(`a value sealed by ${sealed.by} cannot be opened by ${keys.name}`);
  const dataKey = await keys.decrypt(Buffer.from(sealed.dk, 'base64'), context);
  try {
    const plain = gcmOpen(dataKey, { iv: Buffer.from(sealed.iv, 'base64'), tag: Buffer.from(sealed.tag, 'base64'), ct: Buffer.from(sealed.ct, 'base64') }, aad(context));
    return JSON.parse(plain.toString('utf8')) as T;
  } finally {
    dataKey.fill(0);
  }
}

/** For `UnitOfWork.commit(result, { sealResult })`: an idempotency record's answer that holds a secret. */
export const sealResult = (result: unknown, context: SealContext): Promise<SealedValue> => seal(result, context);
// The idempotency middleware opens sealed answers through this (domain/secrets/sealed-results.ts).
registerResultOpener(open);
