/**
 * Large CSV imports through an upload (api/integrations.md "CSV import"): `POST /v1/imports/uploads`
 * hands out a URL the client PUTs the file to (in the cloud a presigned S3 URL: Lambda's 6 MB
 * payload limit keeps large files out of the function's request); `POST /v1/imports {uploadId}`
 * then reads it back. Nothing is stored in the table: the upload is only its object.
 */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import type { UseCaseContext } from '#domain/context.ts';
import { DomainError } from '#domain/errors.ts';
import { requireRole } from '#domain/identity.ts';
import { newId } from '#domain/records.ts';
import { importEntity, IMPORT_ROLES } from '#domain/integrations/import.ts';
import type { ImportEntity } from '#domain/integrations/csv-mapping.ts';
import { uploadStore } from '#domain/integrations/upload-store.ts';

/** How long an upload URL accepts the file. */
export const UPLOAD_URL_SECONDS = 15 * 60;

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
export const uploadBody = z.lazy(() => z.strictObject({ entity: importEntity }));

export const uploadView = z.lazy(() =>
  z.object({
    uploadId: f.out.id,
    uploadUrl: f.upTo(f.MAX.presignedUrl),
    method: z.literal('PUT'),
    headers: z.record(f.out.text, f.out.text),
    expiresAt: f.out.timestamp,
  }),
);
export type Upload = z.infer<typeof uploadView>;

export const uploadMissing = () =>
  new DomainError(400, 'upload_missing', 'No file was uploaded under this uploadId (or its URL was never used).');

/** The roles that may import the entity may upload a file for it. */
export async function createUpload(ctx: UseCaseContext, entity: ImportEntity): Promise<Upload> {
  requireRole(ctx.identity, ...IMPORT_ROLES[entity]);
  const uploadId = newId(ctx);
  const { url, headers } = await uploadStore().presignPut(ctx.identity.tenantId, uploadId, ctx.now, UPLOAD_URL_SECONDS);
  return { uploadId, uploadUrl: url, method: 'PUT', headers, expiresAt: new Date(ctx.now.getTime() + UPLOAD_URL_SECONDS * 1000).toISOString() };
}

/** The uploaded bytes of the caller's tenant; another tenant's uploadId reads as missing. */
export async function readUpload(ctx: UseCaseContext, uploadId: string): Promise<Buffer> {
  const bytes = await uploadStore().read(ctx.identity.tenantId, uploadId);
  if (!bytes) throw uploadMissing();
  return bytes;
}
