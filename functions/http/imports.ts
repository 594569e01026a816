/** HTTP: CSV imports and exports (api/integrations.md). Parse → use case → result; everything else is middleware. */
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { pageOf } from '#domain/fields.ts';
import { validationFailed } from '#domain/errors.ts';
import { EXPORT_FILTERS, exportCsv, exportLinkView, exportParams } from '#domain/integrations/exports.ts';
import {
  csvTooLarge,
  decodeCsv,
  importBody,
  importQuery,
  importView,
  MAX_CSV_BYTES,
  MAX_JSON_IMPORT_BODY_BYTES,
  stripBom,
  type ImportBody,
  type ImportQuery,
} from '#domain/integrations/import.ts';
import { getImport, listImports, startImport } from '#domain/integrations/imports.ts';
import { createUpload, readUpload, uploadBody, uploadView } from '#domain/integrations/uploads.ts';
import type { ImportEntity } from '#domain/integrations/csv-mapping.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams, validate } from '#functions/middleware/request.ts';

const listQuery = z.lazy(() => z.strictObject({ ...listParams() }));
/** The query of `POST /v1/imports`: the options of a raw CSV body (a JSON body carries them itself, and takes no query). */
const postQuery = z.lazy(() =>
  z.strictObject({
    entity: z.optional(f.out.code),
    encoding: z.optional(f.out.code),
    onDuplicate: z.optional(f.out.code),
  }),
);
const exportQuery = z.lazy(() => z.record(f.out.code, f.upTo(f.MAX.freeText)));

/** `Accept: application/json` (and not text/csv): the caller wants the export's link as JSON. */
const wantsJson = (accept: string | undefined) => !!accept && /\bapplication\/json\b/i.test(accept) && !/\btext\/csv\b/i.test(accept);

function csvText(csv: string): string {
  if (Buffer.byteLength(csv) > MAX_CSV_BYTES) throw csvTooLarge();
  return stripBom(csv);
}

export const handler = httpFunction({
  'POST /v1/imports': operation({
    body: importBody,
    query: postQuery,
    rawBody: ['text/csv', 'application/octet-stream'],
    maxBodyBytes: MAX_JSON_IMPORT_BODY_BYTES,
    accepted: '/v1/imports',
    response: importView,
    run: async ({ ctx, body, query, raw }) => {
      if (raw) {
        // The options come in the query: the entity at least.
        const options = validate(importQuery, query, 'query') as ImportQuery;
        const encoding = options.encoding ?? 'utf-8';
        return startImport(ctx, { entity: options.entity, onDuplicate: options.onDuplicate, encoding, text: decodeCsv(raw.bytes, encoding) });
      }
      const json = body as ImportBody;
      if (Object.values(query).some((v) => v !== undefined)) throw validationFailed([{ path: 'query', message: 'a JSON body carries its options itself' }]);
      if ((json.csv === undefined) === (json.uploadId === undefined)) {
        throw validationFailed([{ path: 'body.csv', message: 'give exactly one of csv and uploadId' }]);
      }
      const encoding = json.encoding ?? 'utf-8';
      const text = json.uploadId !== undefined ? decodeCsv(await readUpload(ctx, json.uploadId), encoding) : csvText(json.csv!);
      return startImport(ctx, { entity: json.entity, onDuplicate: json.onDuplicate, encoding, mapping: json.mapping, text });
    },
  }),
  'POST /v1/imports/uploads': operation({
    body: uploadBody,
    response: uploadView,
    // 201 without a Location: an upload has no route of its own, its URL is in the answer.
    outcome: (upload) => ({ created: true, body: upload }),
    run: ({ ctx, body }) => createUpload(ctx, body.entity),
  }),
  'GET /v1/imports': operation({ query: listQuery, response: z.lazy(() => pageOf(importView)), run: ({ ctx, page }) => listImports(ctx, page) }),
  'GET /v1/imports/{id}': operation({ response: importView, run: ({ ctx, params }) => getImport(ctx, params.id!) }),
  'GET /v1/exports/{file}': operation({
    params: exportParams,
    query: exportQuery,
    file: true,
    // The link's answer, when the file is stored (large, or asked for as JSON).
    response: exportLinkView,
    run: async ({ ctx, params, query, headers }) => {
      const entity = params.file!.replace(/\.csv$/, '') as ImportEntity;
      const json = wantsJson(headers.accept);
      const answer = await exportCsv(ctx, entity, validate(EXPORT_FILTERS[entity], query, 'query') as Record<string, unknown>, { link: json });
      return 'file' in answer ? answer.file : { link: answer.link, json };
    },
  }),
});
