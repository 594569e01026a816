/**
 * The two KMS operations envelope encryption uses (domain/secrets/envelope.ts), `GenerateDataKey`
 * and `Decrypt`, as `fetch` requests signed by domain/aws/signed-fetch.ts rather than through the
 * KMS client (`@aws-sdk/client-kms` and its JSON-RPC protocol: ~27 KB minified in each function that
 * seals or opens a secret). KMS speaks awsJson1_1: a POST of the input as JSON to `/`, the operation
 * named in `X-Amz-Target: TrentService.<Op>`, blobs base64 in the JSON both ways (as the SDK sends
 * and reads them), an error named by the body's `__type` (domain/aws/json-errors.ts).
 */
import { jsonRpcErrorOf } from '#domain/aws/json-errors.ts';
import { requestTo, signedFetch, type SignedFetchOptions } from '#domain/aws/signed-fetch.ts';

/** The members of the KMS model sent and read (names as in the model). */
export interface GenerateDataKeyInput {
  KeyId: string;
  KeySpec: 'AES_256';
  EncryptionContext: Record<string, string>;
}
export interface DecryptInput {
  KeyId: string;
  CiphertextBlob: Uint8Array;
  EncryptionContext: Record<string, string>;
}
export interface DataKeyOutput {
  Plaintext?: Uint8Array;
  CiphertextBlob?: Uint8Array;
}

/** The part of KMS envelope encryption uses (a stand-in in tests). */
export interface KmsApi {
  generateDataKey(input: GenerateDataKeyInput): Promise<DataKeyOutput>;
  decrypt(input: DecryptInput): Promise<Pick<DataKeyOutput, 'Plaintext'>>;
}

export interface KmsApiOptions extends SignedFetchOptions {
  /** Default `https://kms.<region>.amazonaws.com`. */
  endpoint?: string;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
/** The answer's blobs (base64 in the JSON) as bytes. */
const blobs = (out: { Plaintext?: string; CiphertextBlob?: string }): DataKeyOutput => ({
  ...(out.Plaintext === undefined ? {} : { Plaintext: new Uint8Array(Buffer.from(out.Plaintext, 'base64')) }),
  ...(out.CiphertextBlob === undefined ? {} : { CiphertextBlob: new Uint8Array(Buffer.from(out.CiphertextBlob, 'base64')) }),
});

export function kmsApi(options: KmsApiOptions = {}): KmsApi {
  const kms = signedFetch({ title: 'KMS', signingName: 'kms', errorOf: jsonRpcErrorOf }, options);
  const endpoint = new URL(options.endpoint ?? `https://kms.${kms.region}.amazonaws.com`);
  const call = async (operation: string, input: object) => {
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${operation}` };
    // The body is read inside the attempt, parsed outside it: a malformed answer is an error, not a retry.
    const text = await kms.send(requestTo(endpoint, 'POST', '/', headers, JSON.stringify(input)), (res) => res.text(), operation);
    return blobs(JSON.parse(text) as { Plaintext?: string; CiphertextBlob?: string });
  };
  return {
    generateDataKey: (input) => call('GenerateDataKey', input),
    decrypt: async (input) => {
      const { Plaintext } = await call('Decrypt', { ...input, CiphertextBlob: base64(input.CiphertextBlob) });
      return Plaintext === undefined ? {} : { Plaintext };
    },
  };
}
