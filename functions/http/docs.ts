/**
 * HTTP: the API's reference, no token needed (api/integrations.md): the OpenAPI document
 * (`GET /v1/openapi.json`), the reference page that renders it (`GET /docs`, Swagger UI) and
 * the page's files (`GET /docs/{asset}`), all from the API itself: the page loads nothing from
 * anywhere else. Each answer is made once per container and served with an ETag (304 on
 * `If-None-Match`), gzipped when the client accepts it. The document and the renderer are files
 * this function reads (functions/openapi/docs-files.ts: S3 in the cloud, built and node_modules
 * locally), not code it carries.
 */
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from 'zod/mini';
import * as f from '#domain/fields.ts';
import { DomainError, notFound } from '#domain/errors.ts';
import { logger } from '#functions/middleware/logger.ts';
import { problemResponse } from '#functions/middleware/problem.ts';
import { limitPublicRequest, rateLimited, withRateLimitHeaders } from '#functions/middleware/public-rate-limit.ts';
import { lowerCaseHeaders } from '#functions/middleware/request.ts';
import { DOCS_ASSETS, OPENAPI_DOCUMENT, type DocsAsset } from '#functions/openapi/assets.ts';
import { docsFiles } from '#functions/openapi/docs-files.ts';
import type { DescribedOperation } from '#functions/openapi/document.ts';

/** What `GET /v1/openapi.json` answers, as far as a client relies on it. */
export const openApiDocumentView = z.lazy(() =>
  z.looseObject({
    openapi: z.string().check(z.maxLength(f.MAX.code), z.regex(/^3\.1\.\d+$/)),
    info: z.looseObject({ title: f.out.text, version: f.out.text }),
    servers: z.array(z.looseObject({ url: f.out.url })).check(z.maxLength(10)),
    paths: z.record(f.out.text, z.record(f.out.text, z.unknown())),
    components: z.looseObject({}),
  }),
);

const operations: Record<string, DescribedOperation> = {
  'GET /v1/openapi.json': { operationId: 'getOpenApiDocument', summary: 'Get this OpenAPI document', response: openApiDocumentView, neverFails: true },
  // The page and its files are how a person reads the document, not part of the API it describes.
  'GET /docs': { hidden: true, answers: 'html' },
  'GET /docs/{asset}': { hidden: true, answers: 'asset' },
};

interface File {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
  contentType: string;
}

function file(body: Buffer, contentType: string): File {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, gzipped: gzipSync(body), etag, contentType };
}

/**
 * The page: Swagger UI renders the document; both are fetched from this API with relative URLs
 * (any host, any stage). Its settings are a script of ours (`/docs/init.js`), not inline, so the
 * page's policy allows no inline script at all.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

/**
 * Swagger UI's settings: operations listed by tag, each opened at its schema (field names and
 * types, not an example), deep links (`/docs#/Accounts/createAccount`), a filter; no "try it
 * out" (a person calls the API with a token, not from this page) and no online validator
 * (its badge would fetch the document from validator.swagger.io).
 */
const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: 'v1/openapi.json',
    dom_id: '#reference',
    layout: 'BaseLayout',
    deepLinking: true,
    docExpansion: 'list',
    defaultModelRendering: 'model',
    defaultModelExpandDepth: 2,
    defaultModelsExpandDepth: 0,
    displayOperationId: true,
    filter: true,
    supportedSubmitMethods: [],
    validatorUrl: null
  });
});
`;

/** The page may only reach this API. Swagger UI sets inline styles and draws its icons from data: URLs. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const made = new Map<string, Promise<File>>();
const once = (key: string, make: () => Promise<File>) => {
  let p = made.get(key);
  if (!p) {
    p = make();
    made.set(key, p);
    p.catch(() => made.delete(key));
  }
  return p;
};

const read = async (name: string) => (await docsFiles()).read(name);
const documentFile = () => once('document', async () => file(await read(OPENAPI_DOCUMENT), 'application/json; charset=utf-8'));
const pageFile = () => once('page', async () => file(Buffer.from(PAGE), 'text/html; charset=utf-8'));
const assetFile = (asset: DocsAsset) => once(`asset:${asset.name}`, async () => file(await read(asset.name), asset.contentType));
const initFile = () => once('init', async () => file(Buffer.from(INIT), 'text/javascript; charset=utf-8'));

const BASE_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

function answer(f: File, headers: Record<string, string>, extra: Record<string, string>): APIGatewayProxyStructuredResultV2 {
  const common = { ...BASE_HEADERS, ...extra, etag: f.etag, vary: 'accept-encoding' };
  const tags = (headers['if-none-match'] ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes(f.etag) || tags.includes('*')) return { statusCode: 304, headers: common };
  const gzip = /\bgzip\b/.test(headers['accept-encoding'] ?? '');
  return gzip
    ? { statusCode: 200, headers: { ...common, 'content-type': f.contentType, 'content-encoding': 'gzip' }, body: f.gzipped.toString('base64'), isBase64Encoded: true }
    : { statusCode: 200, headers: { ...common, 'content-type': f.contentType }, body: f.body.toString('utf8') };
}

/** Limited per client IP like the other public routes (functions/middleware/public-rate-limit.ts). */
async function dispatch(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const decision = limitPublicRequest(event);
  return withRateLimitHeaders(decision.allowed ? await serve(event) : problemResponse(rateLimited(decision.retryAfter!)), decision);
}

async function serve(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const headers = lowerCaseHeaders(event);
  try {
    switch (event.routeKey) {
      case 'GET /v1/openapi.json':
        // Revalidated after five minutes: a deployment changes it.
        return answer(await documentFile(), headers, { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
      case 'GET /docs':
        return answer(await pageFile(), headers, { 'cache-control': 'no-cache', 'content-security-policy': PAGE_CSP });
      case 'GET /docs/{asset}': {
        const name = event.pathParameters?.asset;
        const asset = DOCS_ASSETS.find((a) => a.name === name);
        if (!asset && name !== 'init.js') throw notFound('file');
        return answer(asset ? await assetFile(asset) : await initFile(), headers, { 'cache-control': 'public, max-age=86400' });
      }
      default:
        throw notFound('route');
    }
  } catch (err) {
    if (err instanceof DomainError) return problemResponse(err);
    logger().error('unhandled error', { error: err as Error, routeKey: event.routeKey });
    return problemResponse(new DomainError(500, 'internal_error', 'Something went wrong on our side.'));
  }
}

export const handler = Object.assign(dispatch, { operations });
