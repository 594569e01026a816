/**
 * Where the docs function reads its files (functions/openapi/assets.ts): a port with two adapters,
 * chosen by configuration. `DOCS_BUCKET` set (the cloud): a GET of each of the stack's assets
 * (domain/integrations/s3-objects.ts), once per file and container. Unset (`npm start`, tests): functions/openapi/local-docs-files.ts, loaded
 * only then; the bundles alias it to a stub (infra/crm-function.ts BUNDLE_ALIASES), so the
 * handlers the local document is built from never reach the function's bundle.
 */
import { s3Objects, type S3Objects } from '#domain/integrations/s3-objects.ts';
import { DOCS_BUCKET, DOCS_OBJECTS } from '#functions/openapi/assets.ts';

export interface DocsFiles {
  /** The file's bytes; `name` is one of DOCS_FILES. */
  read(name: string): Promise<Buffer>;
}

export function s3DocsFiles(bucket: string, keys: Record<string, string>, objects: S3Objects = s3Objects(bucket)): DocsFiles {
  return {
    async read(name) {
      const key = keys[name];
      if (!key) throw new Error(`${DOCS_OBJECTS} names no object for ${name}`);
      const bytes = await objects.get(key);
      if (!bytes) throw new Error(`s3://${bucket}/${key} does not exist`);
      return bytes;
    },
  };
}

let chosen: Promise<DocsFiles> | undefined;

/** The adapter of this environment, chosen once. */
export function docsFiles(): Promise<DocsFiles> {
  chosen ??= (async () => {
    const bucket = process.env[DOCS_BUCKET];
    if (bucket) return s3DocsFiles(bucket, JSON.parse(process.env[DOCS_OBJECTS] ?? '{}') as Record<string, string>);
    return (await import('#functions/openapi/local-docs-files.ts')).localDocsFiles;
  })();
  return chosen;
}
