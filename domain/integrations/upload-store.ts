/**
 * The object store of CSV files on their way in and out (api/integrations.md "CSV import"): a large
 * CSV waits here between its upload and `POST /v1/imports {uploadId}`, and a large export waits
 * here for its download. Chosen by configuration, never by an `if (local)` in the use cases:
 * - `IMPORT_UPLOADS_BUCKET` set (the cloud): S3. The client PUTs an upload to a presigned URL; the
 *   imports function reads the object back (GetObject). An export is written (PutObject) and
 *   fetched by the client from a presigned GET.
 * - unset (`npm start`, tests): a directory, `$CRM_DATA_DIR/uploads`. The "presigned" URLs are the
 *   local routes `PUT /_local/uploads/{uploadId}?token=…` and `GET /_local/exports/{exportId}?token=…`,
 *   whose tokens (domain/marketing/tokens.ts, kinds `upload`, `export`) name the tenant, the object
 *   and its expiry.
 *
 * Keys are `imports/<tenantId>/<uploadId>.csv` and `exports/<tenantId>/<exportId>.csv` in both: the
 * tenant in the key is what keeps one tenant from importing another's upload. The bucket forgets
 * both after a day (infra/api-stack.ts).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { csvTooLarge, MAX_CSV_BYTES } from '#domain/integrations/import.ts';
import { signToken, verifyToken } from '#domain/marketing/tokens.ts';
import { publicBaseUrl } from '#domain/marketing/tracking-links.ts';
import { s3Objects, type S3Objects } from '#domain/integrations/s3-objects.ts';

export const UPLOAD_CONTENT_TYPE = 'text/csv';

export interface PresignedPut {
  url: string;
  /** Headers the PUT must carry (they are part of the signature in S3). */
  headers: Record<string, string>;
}

export interface UploadStore {
  /** A URL that accepts a PUT of the object for `expiresInSeconds` from `now`. */
  presignPut(tenantId: string, uploadId: string, now: Date, expiresInSeconds: number): Promise<PresignedPut>;
  /** The object's bytes; undefined when there is none; 413 when larger than the CSV limit. */
  read(tenantId: string, uploadId: string): Promise<Buffer | undefined>;
  /** Stores an export's CSV, to be downloaded as `filename`. */
  putExport(tenantId: string, exportId: string, bytes: Buffer, filename: string): Promise<void>;
  /** A URL that answers a GET of the export for `expiresInSeconds` from `now`, no other credential needed. */
  presignGet(tenantId: string, exportId: string, filename: string, now: Date, expiresInSeconds: number): Promise<string>;
}

export const uploadKey = (tenantId: string, uploadId: string) => `imports/${tenantId}/${uploadId}.csv`;
export const exportKey = (tenantId: string, exportId: string) => `exports/${tenantId}/${exportId}.csv`;
export const EXPORT_CONTENT_TYPE = 'text/csv; charset=utf-8';
/** `filename` is the export's (`accounts.csv`): a name the API chose, no quoting needed. */
export const attachment = (filename: string) => `attachment; filename="${filename}"`;

// ---- S3 -------------------------------------------------------------------------------

export function s3UploadStore(bucket: string, objects: S3Objects = s3Objects(bucket)): UploadStore {
  return {
    async presignPut(tenantId, uploadId, now, expiresInSeconds) {
      const headers = { 'content-type': UPLOAD_CONTENT_TYPE };
      return { url: await objects.presign('PUT', uploadKey(tenantId, uploadId), { now, expiresInSeconds, headers }), headers };
    },
    // Refused before reading: a presigned PUT cannot cap the size it accepts.
    read: (tenantId, uploadId) => objects.get(uploadKey(tenantId, uploadId), { maxBytes: MAX_CSV_BYTES, tooLarge: csvTooLarge }),
    async putExport(tenantId, exportId, bytes, filename) {
      await objects.put(exportKey(tenantId, exportId), bytes, { 'content-type': EXPORT_CONTENT_TYPE, 'content-disposition': attachment(filename) });
    },
    // The object carries its media type and file name: the GET answers them as stored.
    presignGet: (tenantId, exportId, _filename, now, expiresInSeconds) => objects.presign('GET', exportKey(tenantId, exportId), { now, expiresInSeconds }),
  };
}

// ---- A local directory ------------------------------------------------------------------

export const LOCAL_UPLOAD_PATH = '/_local/uploads/';
export const LOCAL_EXPORT_PATH = '/_local/exports/';

function localUploadDir(): string {
  return path.join(process.env.CRM_DATA_DIR ?? path.join(process.cwd(), '.crm-local'), 'uploads');
}

const localFile = (tenantId: string, uploadId: string) => path.join(localUploadDir(), ...uploadKey(tenantId, uploadId).split('/'));
const localExportFile = (tenantId: string, exportId: string) => path.join(localUploadDir(), ...exportKey(tenantId, exportId).split('/'));

export function localUploadStore(): UploadStore {
  return {
    async presignPut(tenantId, uploadId, now, expiresInSeconds) {
      const expiresAt = now.getTime() + expiresInSeconds * 1000;
      const token = signToken({ tenantId, kind: 'upload', ids: [uploadId, String(expiresAt)] });
      return {
        url: `${publicBaseUrl()}${LOCAL_UPLOAD_PATH}${encodeURIComponent(uploadId)}?token=${token}`,
        headers: { 'content-type': UPLOAD_CONTENT_TYPE },
      };
    },
    async read(tenantId, uploadId) {
      const file = localFile(tenantId, uploadId);
      const size = await stat(file).then(
        (s) => s.size,
        () => undefined,
      );
      if (size === undefined) return undefined;
      if (size > MAX_CSV_BYTES) throw csvTooLarge();
      return readFile(file);
    },
    async putExport(tenantId, exportId, bytes) {
      const file = localExportFile(tenantId, exportId);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, bytes);
    },
    async presignGet(tenantId, exportId, filename, now, expiresInSeconds) {
      const expiresAt = now.getTime() + expiresInSeconds * 1000;
      const token = signToken({ tenantId, kind: 'export', ids: [exportId, String(expiresAt), filename] });
      return `${publicBaseUrl()}${LOCAL_EXPORT_PATH}${encodeURIComponent(exportId)}?token=${token}`;
    },
  };
}

/**
 * The local stand-in for S3's side of a presigned GET: the token must be genuine, for this export,
 * and unexpired ('refused', S3's 403); the file, with the name it downloads as; undefined when it is gone.
 */
export async function getLocalExport(exportId: string, token: string, now: Date): Promise<{ bytes: Buffer; filename: string } | 'refused' | undefined> {
  const claims = verifyToken(token, 'export');
  if (!claims || claims.ids.length !== 3 || claims.ids[0] !== exportId) return 'refused';
  if (!(Number(claims.ids[1]) > now.getTime())) return 'refused';
  const bytes = await readFile(localExportFile(claims.tenantId, exportId)).catch(() => undefined);
  return bytes && { bytes, filename: claims.ids[2]! };
}

export type LocalPutResult = 'stored' | 'refused' | 'too_large';

/**
 * The local stand-in for S3's side of a presigned PUT: the token must be genuine, for this
 * upload, and unexpired. Like S3, a later PUT to the same URL replaces the object.
 */
export async function putLocalUpload(uploadId: string, token: string, bytes: Buffer, now: Date): Promise<LocalPutResult> {
  const claims = verifyToken(token, 'upload');
  if (!claims || claims.ids.length !== 2 || claims.ids[0] !== uploadId) return 'refused';
  if (!(Number(claims.ids[1]) > now.getTime())) return 'refused';
  if (bytes.length > MAX_CSV_BYTES) return 'too_large';
  const file = localFile(claims.tenantId, uploadId);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return 'stored';
}

let configured: UploadStore | undefined;

/** The store of this deployment (see the module comment). */
export function uploadStore(): UploadStore {
  if (configured) return configured;
  const bucket = process.env.IMPORT_UPLOADS_BUCKET;
  return (configured = bucket ? s3UploadStore(bucket) : localUploadStore());
}
