import helmet from 'helmet';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type TestBrowser } from '../../test/browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { openApiDocument } from './openapi.js';

function operationCount(): number {
  return Object.values(openApiDocument().paths ?? {}).reduce((sum, item) => sum + Object.keys(item).length, 0);
}

describe('GET /docs in a real browser', () => {
  let app: TestApp;
  let browser: TestBrowser | undefined;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
  });
  afterAll(async () => {
    await browser?.close();
    await app.close();
  });

  it('serves the docs with helmet\'s default CSP minus upgrade-insecure-requests only', async () => {
    const directives = (res: { headers: Record<string, string> }) => new Set(String(res.headers['content-security-policy']).split(';'));
    const defaults = Object.entries(helmet.contentSecurityPolicy.getDefaultDirectives());
    const expected = new Set(defaults.filter(([name]) => name !== 'upgrade-insecure-requests').map(([name, values]) => [name, ...values].join(' ')));
    expect(expected.size).toBe(defaults.length - 1);
    expect(directives(await app.http.get('/docs/'))).toEqual(expected);
    expect(directives(await app.http.get('/docs/swagger-ui-bundle.js'))).toEqual(expected);
  });

  it('renders every operation from our own origin, without page errors or failed requests', { timeout: 60_000 }, async () => {
    browser = await openBrowser();
    const page = await browser.newPage();
    const origin = new URL(app.baseUrl).origin;
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    const failed: string[] = [];
    const foreign: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol.startsWith('http') && url.origin !== origin) foreign.push(request.url());
    });
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.url().startsWith(origin) && response.status() >= 400) failed.push(`${response.url()}: ${response.status()}`);
    });

    const response = await page.goto(`${app.baseUrl}/docs`);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/docs/');

    await page.locator('.opblock-summary-path[data-path="/api/orders"]').first().waitFor({ state: 'visible', timeout: 20_000 });
    await expect.poll(() => page.locator('.opblock').count()).toBe(operationCount());
    expect(await page.locator('.info .title').innerText()).toContain('Order Processing Service');

    const screenshot = path.join(mkdtempSync(path.join(tmpdir(), 'docs-render-')), 'docs.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(0);

    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(failed).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
