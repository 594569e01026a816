/**
 * The OpenAPI document as a file, built at synth time for the docs function's S3 asset
 * (infra/api-stack.ts): the same document the local runtime builds (functions/openapi/operations.ts),
 * serialized the same way (functions/openapi/assets.ts `documentBytes`).
 *
 * Building it loads every HTTP handler (asynchronously), and CDK's local bundling is synchronous:
 * `buildOpenApiDocumentFile` runs this module as a script in a child `node --import tsx` process.
 * `npx tsx infra/bundling/openapi-document.ts <file>` writes the file by hand.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO_ROOT = path.join(import.meta.dirname, '..', '..');

/** Writes the document to `file` (synchronously, for CDK's `tryBundle`). */
export function buildOpenApiDocumentFile(file: string): void {
  execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, file], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    // The handlers' modules read no configuration at load; quiet logs, whatever the caller's level.
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
}

async function writeDocument(file: string): Promise<void> {
  const { apiDocument } = await import('#functions/openapi/operations.ts');
  const { documentBytes } = await import('#functions/openapi/assets.ts');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, documentBytes((await apiDocument()).document));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: openapi-document.ts <file>');
  await writeDocument(path.resolve(file));
}
