/**
 * The reference page in a real browser: Debian's chromium, headless, driven by playwright-core,
 * opens `/docs` on `npm start`'s HTTP server (started here on a free port, in front of the same
 * router), waits for Swagger UI to render the document, and finds a route and a schema field on the
 * page. The page may reach nothing but the API: every request it makes is recorded and checked.
 *
 * Needs /usr/bin/chromium (CI installs it: .ci/run). Missing, the test fails and says how to install it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '#local/router.ts';
import { startHttpServer } from '#local/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** A hang guard for a loaded 2-core machine, not a speed check. */
const RENDER_WITHIN_MS = 90_000;

let server: Awaited<ReturnType<typeof startHttpServer>> | undefined;
let browser: BrowserContext | undefined;
let profile: string | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the reference page is tested in Debian's chromium. Install it with: apt-get install -y chromium`);
  }
  server = await startHttpServer(createRouter(), { port: 0, host: '127.0.0.1' });
  profile = await mkdtemp(path.join(tmpdir(), 'crm-chromium-'));
  // A fresh profile (--user-data-dir): Playwright takes it as the persistent context's folder.
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('GET /docs in a browser', () => {
  it('renders the document: a route and a schema field are on the page, and nothing is fetched from elsewhere', async () => {
    const page = await browser!.newPage();
    const requested: string[] = [];
    page.on('request', (req) => requested.push(req.url()));
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(String(err)));

    // A deep link opens one operation: creating an account.
    const res = await page.goto(`${server!.url}/docs#/Accounts/createAccount`, { waitUntil: 'load', timeout: RENDER_WITHIN_MS });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);

    // A route: its path is on the page (Swagger UI puts it in `data-path`; the text breaks it with zero-width spaces).
    const create = page.locator('.opblock-post').filter({ has: page.locator('[data-path="/v1/accounts"]') });
    await create.first().waitFor({ timeout: RENDER_WITHIN_MS });
    await expect.poll(() => create.getByText('Create an account').count(), { timeout: RENDER_WITHIN_MS }).toBeGreaterThan(0);

    // A schema field: the request body's schema names the account's `name` (required: `name*`) and `tier`.
    const body = create.locator('.opblock-body');
    await expect.poll(() => body.getByText(/^name\*?$/).count(), { timeout: RENDER_WITHIN_MS }).toBeGreaterThan(0);
    await expect.poll(() => body.getByText(/^tier\*?$/).count(), { timeout: RENDER_WITHIN_MS }).toBeGreaterThan(0);

    expect(failures, 'script errors on the page').toEqual([]);
    const elsewhere = requested.filter((u) => !u.startsWith(`${server!.url}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    expect(elsewhere, 'requests outside the API').toEqual([]);
    expect(requested).toContain(`${server!.url}/v1/openapi.json`);
    await page.close();
  });
});
