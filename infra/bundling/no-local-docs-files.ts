/**
 * What the bundles get for functions/openapi/local-docs-files.ts (infra/crm-function.ts
 * BUNDLE_ALIASES): a deployed docs function reads its files from S3, and the local adapter would
 * bring every handler into its bundle. Reached only if `DOCS_BUCKET` is missing: a deployment bug.
 */
import type { DocsFiles } from '#functions/openapi/docs-files.ts';

export const localDocsFiles: DocsFiles = {
  read() {
    return Promise.reject(new Error('DOCS_BUCKET is not set: a deployed docs function reads its files from the stack\'s S3 assets'));
  },
};
