/**
 * Secrets read at run time from Secrets Manager, once per container (issue 11 point 5): the
 * function's environment holds the secret's ARN (`<NAME>_ARN`), never its value, and its role may
 * GetSecretValue on that one secret. The read happens when the module that needs the key loads
 * (Lambda's init phase, before the first request), so the key's users stay synchronous.
 * Without an ARN (local runtime, tests, bench) `<NAME>` itself may hold the value.
 */
import { secretsManagerApi, type SecretsManagerApi } from '#domain/secrets/secrets-manager.ts';

/** The part of Secrets Manager we use: one GetSecretValue (domain/secrets/secrets-manager.ts; a stand-in in tests). */
export type SecretsPort = Pick<SecretsManagerApi, 'getSecretValue'>;

let defaultPort: SecretsPort | undefined;
/** Built only where an ARN is configured (it needs the region then). */
const awsSecretsManager = (): SecretsPort => (defaultPort ??= secretsManagerApi());

/** The GetSecretValue request for one secret: its current version. */
export const getSecretValueInput = (secretArn: string) => ({ SecretId: secretArn, VersionStage: 'AWSCURRENT' });

const cache = new Map<string, Promise<string>>();

/** The secret's current value, read once per container (a failed read is not remembered). */
export function readSecret(secretArn: string, port?: SecretsPort): Promise<string> {
  const known = cache.get(secretArn);
  if (known) return known;
  const read = (async () => {
    const out = await (port ?? awsSecretsManager()).getSecretValue(getSecretValueInput(secretArn));
    if (!out.SecretString) throw new Error(`secret ${secretArn} has no string value`);
    return out.SecretString;
  })();
  cache.set(secretArn, read);
  read.catch(() => cache.delete(secretArn));
  return read;
}

/** `<name>_ARN` set: the secret's value from Secrets Manager; else undefined (the caller's fallback applies). */
export async function secretFromEnvironment(name: string, port?: SecretsPort): Promise<string | undefined> {
  const arn = process.env[`${name}_ARN`];
  return arn ? readSecret(arn, port) : undefined;
}

/** Tests: forget what was read. */
export function forgetSecrets(): void {
  cache.clear();
}
