/**
 * The files the docs function serves as they are: the OpenAPI document and the reference page's
 * renderer (Swagger UI's prebuilt browser files), so the page needs no network beyond the API.
 *
 * Where they come from (functions/openapi/docs-files.ts):
 * - in the cloud, S3: each file is an asset of the stack (infra/api-stack.ts), uploaded by
 *   `cdk deploy`; the document is built at synth time (infra/bundling/openapi-document.ts), so the
 *   function carries neither the renderer (458 KB gzip) nor the handlers the document describes;
 * - locally (`npm start`, tests): the document built in-process from the handlers, the renderer
 *   from node_modules (functions/openapi/local-docs-files.ts). Same bytes, same answers.
 */
import { createRequire } from 'node:module';

export interface DocsAsset {
  /** The name in `/docs/{asset}`, and the file's key in `DOCS_OBJECTS`. */
  name: string;
  /** The file inside node_modules, as `require.resolve` takes it. */
  module: string;
  contentType: string;
}

/** Swagger UI's prebuilt browser files (swagger-ui-dist: no dependencies of its own). */
export const DOCS_ASSETS: readonly DocsAsset[] = [
  { name: 'swagger-ui-bundle.js', module: 'swagger-ui-dist/swagger-ui-bundle.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'swagger-ui.css', module: 'swagger-ui-dist/swagger-ui.css', contentType: 'text/css; charset=utf-8' },
];

/** The OpenAPI document's file name, beside the assets' names. */
export const OPENAPI_DOCUMENT = 'openapi.json';

/** Every file the docs function reads: the document and the assets. */
export const DOCS_FILES: readonly string[] = [OPENAPI_DOCUMENT, ...DOCS_ASSETS.map((a) => a.name)];

/** The environment of the deployed function: the bucket, and `{ <file name>: <object key> }` as JSON. */
export const DOCS_BUCKET = 'DOCS_BUCKET';
export const DOCS_OBJECTS = 'DOCS_OBJECTS';

/** Absolute path of an asset in node_modules (the local source, and what the stack uploads). */
export function assetSource(asset: DocsAsset): string {
  return createRequire(import.meta.url).resolve(asset.module);
}

/** The document's bytes as served: one serialization for the synth-time file and the local runtime. */
export const documentBytes = (document: unknown): Buffer => Buffer.from(JSON.stringify(document));
