/**
 * The docs function's files through its S3 adapter (functions/openapi/docs-files.ts): the
 * request it sends for each file (S3 has no local emulator here: mocked at the client's `send`),
 * and the same bytes as the local adapter, so the cloud answers what `npm start` answers.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { DOCS_FILES } from '#functions/openapi/assets.ts';
import { s3DocsFiles } from '#functions/openapi/docs-files.ts';
import { localDocsFiles } from '#functions/openapi/local-docs-files.ts';

const KEYS = Object.fromEntries(DOCS_FILES.map((name, i) => [name, `${i}abc.${name.split('.').pop()}`]));

function fakeS3(objects: Record<string, Buffer>) {
  const sent: unknown[] = [];
  return {
    sent,
    client: {
      async send(command: GetObjectCommand) {
        expect(command).toBeInstanceOf(GetObjectCommand);
        sent.push(command.input);
        const bytes = objects[command.input.Key!];
        if (!bytes) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
        return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
      },
    } as never,
  };
}

describe('the docs files from S3', () => {
  it('reads each file with one GetObject of its own key in the bucket, and answers the bytes the local runtime serves', async () => {
    const local = Object.fromEntries(await Promise.all(DOCS_FILES.map(async (name) => [name, await localDocsFiles.read(name)] as const)));
    const s3 = fakeS3(Object.fromEntries(DOCS_FILES.map((name) => [KEYS[name]!, local[name]!])));
    const files = s3DocsFiles('cdk-assets-bucket', KEYS, s3.client);
    for (const name of DOCS_FILES) expect((await files.read(name)).equals(local[name]!), name).toBe(true);
    expect(s3.sent).toEqual(DOCS_FILES.map((name) => ({ Bucket: 'cdk-assets-bucket', Key: KEYS[name] })));
  });

  it('a file its configuration does not name is an error, not a request', async () => {
    const s3 = fakeS3({});
    await expect(s3DocsFiles('b', {}, s3.client).read('openapi.json')).rejects.toThrow(/DOCS_OBJECTS names no object for openapi.json/);
    expect(s3.sent).toEqual([]);
  });
});
