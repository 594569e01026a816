/**
 * Secrets read at run time (issue 11 point 5): the GetSecretValue request for the ARN the
 * environment names, read once per container; Secrets Manager mocked at the client edge.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GetSecretValueInput } from '#domain/secrets/secrets-manager.ts';
import { forgetSecrets, getSecretValueInput, readSecret, secretFromEnvironment, type SecretsPort } from '#domain/secrets/runtime-secret.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:CursorSigningKey-AbC123';

function fakeSecretsManager(value: string | (() => never)) {
  const calls: GetSecretValueInput[] = [];
  const port: SecretsPort = {
    async getSecretValue(input) {
      calls.push(input);
      return { SecretString: typeof value === 'string' ? value : value() };
    },
  };
  return { port, calls };
}

afterEach(() => {
  forgetSecrets();
  delete process.env.TEST_KEY_ARN;
});

describe('runtime secrets', () => {
  it('asks GetSecretValue for the secret\'s current version, by its ARN', async () => {
    const { port, calls } = fakeSecretsManager('s3cret');
    expect(await readSecret(ARN, port)).toBe('s3cret');
    expect(calls).toEqual([{ SecretId: ARN, VersionStage: 'AWSCURRENT' }]);
    expect(getSecretValueInput(ARN)).toEqual({ SecretId: ARN, VersionStage: 'AWSCURRENT' });
  });

  it('reads once per container, concurrent first reads included', async () => {
    const { port, calls } = fakeSecretsManager('s3cret');
    await Promise.all([readSecret(ARN, port), readSecret(ARN, port)]);
    await readSecret(ARN, port);
    expect(calls).toHaveLength(1);
  });

  it('a failed read is not remembered', async () => {
    const failing = fakeSecretsManager(() => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    });
    await expect(readSecret(ARN, failing.port)).rejects.toThrow('throttled');
    const { port } = fakeSecretsManager('s3cret');
    expect(await readSecret(ARN, port)).toBe('s3cret');
  });

  it('takes the ARN from `<NAME>_ARN`; without one there is nothing to read (the local fallback applies)', async () => {
    const { port, calls } = fakeSecretsManager('from-secrets-manager');
    expect(await secretFromEnvironment('TEST_KEY', port)).toBeUndefined();
    process.env.TEST_KEY_ARN = ARN;
    expect(await secretFromEnvironment('TEST_KEY', port)).toBe('from-secrets-manager');
    expect(calls).toHaveLength(1);
  });
});
