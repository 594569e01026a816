/**
 * Secrets Manager `GetSecretValue`, the one call domain/secrets/runtime-secret.ts makes, as a
 * `fetch` request signed by domain/aws/signed-fetch.ts rather than through the Secrets Manager
 * client (`@aws-sdk/client-secrets-manager` and its JSON-RPC protocol in every function's bundle,
 * for one read per container). Secrets Manager speaks awsJson1_1: a POST of the input as JSON to
 * `/`, the operation named in `X-Amz-Target: secretsmanager.<Op>`, an error named by the body's
 * `__type` (domain/aws/json-errors.ts).
 */
import { jsonRpcErrorOf } from '#domain/aws/json-errors.ts';
import { requestTo, signedFetch, type SignedFetchOptions } from '#domain/aws/signed-fetch.ts';

/** The members of the model's GetSecretValueRequest we send. */
export interface GetSecretValueInput {
  SecretId: string;
  VersionStage: string;
}

/** The part of Secrets Manager we use (a stand-in in tests). */
export interface SecretsManagerApi {
  getSecretValue(input: GetSecretValueInput): Promise<{ SecretString?: string }>;
}

export interface SecretsManagerApiOptions extends SignedFetchOptions {
  /** Default `https://secretsmanager.<region>.amazonaws.com`. */
  endpoint?: string;
}

export function secretsManagerApi(options: SecretsManagerApiOptions = {}): SecretsManagerApi {
  const secrets = signedFetch({ title: 'Secrets Manager', signingName: 'secretsmanager', errorOf: jsonRpcErrorOf }, options);
  const endpoint = new URL(options.endpoint ?? `https://secretsmanager.${secrets.region}.amazonaws.com`);
  return {
    async getSecretValue(input) {
      const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' };
      const text = await secrets.send(requestTo(endpoint, 'POST', '/', headers, JSON.stringify(input)), (res) => res.text(), 'GetSecretValue');
      const out = JSON.parse(text) as { SecretString?: unknown };
      return typeof out.SecretString === 'string' ? { SecretString: out.SecretString } : {};
    },
  };
}
