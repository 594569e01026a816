/**
 * What the bundles' stand-in for the default credential chain (infra/bundling/lambda-credentials.ts)
 * answers: the credentials Lambda puts in the environment, and an error (not a guess) without them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '#infra/bundling/lambda-credentials.ts';

afterEach(() => vi.unstubAllEnvs());

describe('Lambda bundles\' default credentials', () => {
  it('are the execution role\'s, from the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');
    await expect(defaultProvider()()).resolves.toMatchObject({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' });
  });

  it('fail loudly when the environment has none', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
    await expect(defaultProvider()()).rejects.toThrow(/credentials/i);
  });
});
