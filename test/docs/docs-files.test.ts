/**
 * The docs function's files through its S3 adapter (functions/openapi/docs-files.ts): the
 * request it sends for each file (S3 has no local emulator here: `fetch` is replaced at the edge),
 * and the same bytes as the local adapter, so the cloud answers what `npm start` answers.
 */
import { describe, expect, it } from 'vitest';
import { s3Objects } from '#domain/integrations/s3-objects.ts';
import { DOCS_FILES } from '#functions/openapi/assets.ts';
import { s3DocsFiles } from '#functions/openapi/docs-files.ts';
import { localDocsFiles } from '#functions/openapi/local-docs-files.ts';

const KEYS = Object.fromEntries(DOCS_FILES.map((name, i) => [name, `${i}abc.${name.split('.').pop()}`]));

/** The bucket's objects behind a replaced `fetch`: each GET is recorded (method and URL) and answered by its key. */
function fakeS3(bucket: string, objects: Record<string, Buffer>) {
  const sent: string[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    sent.push(`${init.method} ${url}`);
    const bytes = objects[decodeURIComponent(new URL(url).pathname.slice(1))];
    return bytes ? new Response(new Uint8Array(bytes)) : new Response('<Error><Code>NoSuchKey</Code></Error>', { status: 404 });
  }) as typeof globalThis.fetch;
  return { sent, objects: s3Objects(bucket, { region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, fetch }) };
}

describe('the docs files from S3', () => {
  it('reads each file with one GET of its own key in the bucket, and answers the bytes the local runtime serves', async () => {
    const local = Object.fromEntries(await Promise.all(DOCS_FILES.map(async (name) => [name, await localDocsFiles.read(name)] as const)));
    const s3 = fakeS3('cdk-assets-bucket', Object.fromEntries(DOCS_FILES.map((name) => [KEYS[name]!, local[name]!])));
    const files = s3DocsFiles('cdk-assets-bucket', KEYS, s3.objects);
    for (const name of DOCS_FILES) expect((await files.read(name)).equals(local[name]!), name).toBe(true);
    expect(s3.sent).toEqual(DOCS_FILES.map((name) => `GET https://cdk-assets-bucket.s3.eu-west-1.amazonaws.com/${KEYS[name]}`));
  });

  it('a file its configuration does not name is an error, not a request', async () => {
    const s3 = fakeS3('b', {});
    await expect(s3DocsFiles('b', {}, s3.objects).read('openapi.json')).rejects.toThrow(/DOCS_OBJECTS names no object for openapi.json/);
    expect(s3.sent).toEqual([]);
  });

  it('a named object that is missing is an error (a broken deployment), not an empty file', async () => {
    const s3 = fakeS3('b', {});
    await expect(s3DocsFiles('b', KEYS, s3.objects).read('openapi.json')).rejects.toThrow(`s3://b/${KEYS['openapi.json']} does not exist`);
  });
});
