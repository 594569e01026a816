/**
 * The docs function's files without S3 (`npm start`, tests): the document built in-process from
 * the handlers (functions/openapi/operations.ts), the renderer from node_modules. The bytes are
 * those the stack uploads (infra/bundling/openapi-document.ts serializes the same way).
 */
import { readFile } from 'node:fs/promises';
import { assetSource, DOCS_ASSETS, documentBytes, OPENAPI_DOCUMENT } from '#functions/openapi/assets.ts';
import type { DocsFiles } from '#functions/openapi/docs-files.ts';
import { apiDocument } from '#functions/openapi/operations.ts';

export const localDocsFiles: DocsFiles = {
  async read(name) {
    if (name === OPENAPI_DOCUMENT) return documentBytes((await apiDocument()).document);
    const asset = DOCS_ASSETS.find((a) => a.name === name);
    if (!asset) throw new Error(`no docs file ${name}`);
    return readFile(assetSource(asset));
  },
};
