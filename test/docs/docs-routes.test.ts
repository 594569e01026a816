/**
 * The docs function over HTTP (the local router, as `npm start` serves it): no token, the
 * right media types, cacheable files with ETags (304), gzip when accepted, a page that may
 * only reach the API, and problem+json for a file that is not there.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { assetSource, DOCS_ASSETS } from '#functions/openapi/assets.ts';
import { call } from '#test/support/api.ts';
import { expectProblem, send } from '#test/support/fixtures.ts';

describe('the docs routes', () => {
  it('GET /v1/openapi.json needs no token, and answers 304 to its own ETag', async () => {
    const first = await call(null, 'GET', '/v1/openapi.json');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(first.headers.etag).toMatch(/^"[\w-]+"$/);
    const again = await call(null, 'GET', '/v1/openapi.json', undefined, { headers: { 'if-none-match': first.headers.etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    // A token changes nothing: the same document for everyone.
    const withToken = await call({ tenant: 'docs', user: 'u', role: 'rep' }, 'GET', '/v1/openapi.json');
    expect(withToken.body).toBe(first.body);
  });

  it('GET /docs is an HTML page whose scripts and data come from the API only', async () => {
    const page = await call(null, 'GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = page.headers['content-security-policy']!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    // Every script and stylesheet is one of ours, by a relative address.
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const s of sources) expect(s, s).toMatch(/^(docs\/[\w.-]+|data:,)$/);
  });

  it('GET /docs/{asset} serves the renderer from the API, gzipped when accepted, cacheable', async () => {
    for (const asset of [...DOCS_ASSETS.map((a) => a.name), 'init.js']) {
      const plain = await call(null, 'GET', `/docs/${asset}`);
      expect(plain.status, asset).toBe(200);
      expect(plain.headers['content-type'], asset).toMatch(/^text\/(javascript|css); charset=utf-8$/);
      expect(plain.headers['cache-control'], asset).toBe('public, max-age=86400');
      const gz = await call(null, 'GET', `/docs/${asset}`, undefined, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(gz.headers['content-encoding'], asset).toBe('gzip');
      expect(gunzipSync(gz.bytes!).toString('utf8'), asset).toBe(plain.body);
      expect(gz.headers.etag, asset).toBe(plain.headers.etag);
    }
    const bundle = DOCS_ASSETS.find((a) => a.name === 'swagger-ui-bundle.js')!;
    expect((await call(null, 'GET', '/docs/swagger-ui-bundle.js')).body).toBe(await readFile(assetSource(bundle), 'utf8'));
  });

  it('a file that is not there is a 404 problem', async () => {
    for (const name of ['nope.js', 'package.json', '..%2Fpackage.json', '%2e%2e']) {
      expectProblem(await send(null, 'GET', `/docs/${name}`), 404, 'not_found');
    }
  });
});
