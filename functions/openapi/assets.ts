/**
 * The reference page's files: the renderer's standalone bundle, served by the API itself
 * (`GET /docs/{asset}`), so the page needs no network beyond the API.
 *
 * Where they are read from: `DOCS_ASSETS_DIR` when set (in Lambda: the folder the CDK stack
 * copies them into, next to the bundle, see infra/api-stack.ts), else the npm package in
 * node_modules (`npm start`, tests).
 */
import { createRequire } from 'node:module';
import path from 'node:path';

export interface DocsAsset {
  /** The name in `/docs/{asset}`. */
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

/** The environment variable naming the folder the deployed function reads its assets from. */
export const DOCS_ASSETS_DIR = 'DOCS_ASSETS_DIR';

/** Absolute path of an asset in node_modules (what the CDK stack copies into the bundle). */
export function assetSource(asset: DocsAsset): string {
  return createRequire(import.meta.url).resolve(asset.module);
}

/** Where the running function reads an asset. */
export function assetPath(asset: DocsAsset): string {
  const dir = process.env[DOCS_ASSETS_DIR];
  return dir ? path.join(dir, asset.name) : assetSource(asset);
}
