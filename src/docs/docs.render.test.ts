import helmet from 'helmet';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type TestBrowser } from '../../test/browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerUser, type TestUser } from '../../test/users.js';
import { seedDemoCatalog } from '../modules/catalog/index.js';
import { openApiDocument } from './openapi.js';

function operationCount(): number {
  return Object.values(openApiDocument().paths ?? {}).reduce((sum, item) => sum + Object.keys(item).length, 0);
}

/** Everything that went wrong on the page since it was opened. */
interface PageProblems {
  pageErrors: string[];
  consoleErrors: string[];
  failed: string[];
  foreign: string[];
}

/**
 * GET /docs in a real browser, on a freshly seeded catalog, as a first-time user meets it. The
 * cases share one page: Swagger UI's first render is seconds of a browser's CPU, so it is paid once.
 */
describe('GET /docs in a real browser', () => {
  let app: TestApp;
  let buyer: TestUser;
  let browser: TestBrowser | undefined;
  let opened: Promise<{ page: Page; problems: PageProblems }> | undefined;
  let screenshotDir: string | undefined;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    await seedDemoCatalog(app.db, app.config.currency);
    buyer = await registerUser(app, 'docs');
  });
  afterAll(async () => {
    await browser?.close();
    await app.close();
    if (screenshotDir) rmSync(screenshotDir, { recursive: true, force: true });
  });

  /** The docs page, opened by whichever case needs it first, with every problem it has recorded. */
  function docsPage(): Promise<{ page: Page; problems: PageProblems }> {
    opened ??= (async () => {
      browser = await openBrowser();
      const page = await browser.newPage();
      const origin = new URL(app.baseUrl).origin;
      const problems: PageProblems = { pageErrors: [], consoleErrors: [], failed: [], foreign: [] };
      page.on('pageerror', (error) => problems.pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.consoleErrors.push(message.text());
      });
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.protocol.startsWith('http') && url.origin !== origin) problems.foreign.push(request.url());
      });
      page.on('requestfailed', (request) => problems.failed.push(`${request.url()}: ${request.failure()?.errorText}`));
      page.on('response', (response) => {
        if (response.url().startsWith(origin) && response.status() >= 400) problems.failed.push(`${response.url()}: ${response.status()}`);
      });

      const response = await page.goto(`${app.baseUrl}/docs`);
      expect(response?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/docs/');
      await page.locator('.opblock-summary-path[data-path="/api/orders"]').first().waitFor({ state: 'visible', timeout: 20_000 });
      return { page, problems };
    })();
    return opened;
  }

  it('serves the docs with helmet\'s default CSP minus upgrade-insecure-requests only', async () => {
    const directives = (res: { headers: Record<string, string> }) => new Set(String(res.headers['content-security-policy']).split(';'));
    const defaults = Object.entries(helmet.contentSecurityPolicy.getDefaultDirectives());
    const expected = new Set(defaults.filter(([name]) => name !== 'upgrade-insecure-requests').map(([name, values]) => [name, ...values].join(' ')));
    expect(expected.size).toBe(defaults.length - 1);
    expect(directives(await app.http.get('/docs/'))).toEqual(expected);
    expect(directives(await app.http.get('/docs/swagger-ui-bundle.js'))).toEqual(expected);
  });

  it('when the documented examples are sent as they are, then they succeed: the product exists and the order is placed', async () => {
    const document = openApiDocument() as unknown as {
      components: { schemas: Record<string, { example?: unknown }> };
      paths: Record<string, { get?: { parameters?: { name: string; schema: { example?: string } }[] } }>;
    };
    const productId = document.paths['/api/products/{id}']?.get?.parameters?.find((p) => p.name === 'id')?.schema.example;
    expect((await app.http.get(`/api/products/${productId}`)).status).toBe(200);
    const order = await app.http.post('/api/orders').set('Authorization', `Bearer ${buyer.accessToken}`).send(document.components.schemas.PlaceOrderRequest!.example as object);
    expect(order.status).toBe(201);
  });

  it('renders every operation from our own origin, without page errors or failed requests', { timeout: 60_000 }, async () => {
    const { page, problems } = await docsPage();
    await expect.poll(() => page.locator('.opblock').count()).toBe(operationCount());
    expect(await page.locator('.info .title').innerText()).toContain('Order Processing Service');

    screenshotDir = mkdtempSync(path.join(tmpdir(), 'docs-render-'));
    const screenshot = path.join(screenshotDir, 'docs.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(0);

    expect(problems).toEqual({ pageErrors: [], consoleErrors: [], failed: [], foreign: [] });
  });

  it('when someone signs in through "Try it out", then the UI is authorized with the returned token', { timeout: 60_000 }, async () => {
    const { page, problems } = await docsPage();
    const operation = page.locator('#operations-Auth-login');
    // Opened as a reader does, from the list (the render case may have looked at the page first).
    if (!(await operation.locator('.try-out__btn').isVisible())) await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click({ timeout: 20_000 });
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ email: buyer.email, password: buyer.password }));
    await operation.locator('button.execute').click();
    await operation.locator('.live-responses-table tr.response td.response-col_status').first().waitFor({ timeout: 20_000 });
    expect((await operation.locator('.live-responses-table tr.response td.response-col_status').first().innerText()).trim()).toBe('200');

    const authorized = await page.evaluate(() => {
      const ui = (globalThis as unknown as { ui: { authSelectors: { authorized(): { toJS(): Record<string, { value?: string }> } } } }).ui;
      return ui.authSelectors.authorized().toJS();
    });
    expect(authorized.bearerAuth?.value).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(problems.pageErrors).toEqual([]);
  });
});
