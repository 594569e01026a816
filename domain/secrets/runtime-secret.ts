/**
 * Secrets read at run time from Secrets Manager, once per container (issue 11 point 5): the
 * function's environment holds the secret's ARN (`<NAME>_ARN`), never its value, and its role may
 * GetSecretValue on that one secret. The read happens when the module that needs the key loads
 * (Lambda's init phase, before the first request), so the key's users stay synchronous.
 * Without an ARN (local runtime, tests, bench) `<NAME>` itself may hold the value.
 */
// Named imports, not `import('@aws-sdk/client-secrets-manager')`: a dynamic import keeps the whole client
// in the bundle; the client is still only built where an ARN is configured.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The part of Secrets Manager we use: one GetSecretValue (mocked at this edge in tests). */
export interface SecretsPort {
  send(command: GetSecretValueCommand): Promise<{ SecretString?: string }>;
}

let defaultPort: SecretsPort | undefined;
/** Built only where an ARN is configured. */
const awsSecretsManager = (): SecretsPort => (defaultPort ??= new SecretsManagerClient({}));

/** The GetSecretValue request for one secret: its current version. */
export const getSecretValueInput = (secretArn: string) => ({ SecretId: secretArn, VersionStage: 'AWSCURRENT' });

const cache = new Map<string, Promise<string>>();

/** The secret's current value, read once per container (a failed read is not remembered). */
export function readSecret(secretArn: string, port?: SecretsPort): Promise<string> {
  const known = cache.get(secretArn);
  if (known) return known;
  const read = (async () => {
    const out = await (port ?? awsSecretsManager()).send(new GetSecretValueCommand(getSecretValueInput(secretArn)));
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
