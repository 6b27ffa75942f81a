import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type TestBrowser } from '../../test/browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerAdmin, type TestUser } from '../../test/users.js';

describe('/admin/queues in a real browser', () => {
  let app: TestApp;
  let admin: TestUser;
  let browser: TestBrowser | undefined;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', redis: true });
    admin = await registerAdmin(app);
  });
  afterAll(async () => {
    await browser?.close();
    await app.close();
  });

  it('asks an admin to sign in, then renders the orders queue without page errors', { timeout: 60_000 }, async () => {
    browser = await openBrowser();
    const context = await browser.newContext({ httpCredentials: { username: admin.email, password: admin.password } });
    const page = await context.newPage();
    const origin = new URL(app.baseUrl).origin;
    const pageErrors: string[] = [];
    const failedOwn: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('requestfailed', (request) => {
      if (request.url().startsWith(origin)) failedOwn.push(request.url());
    });
    // The dashboard asks a web-font host for fonts; this machine has no network, so refuse fast.
    await page.route((url) => !url.toString().startsWith(origin), (route) => route.abort());

    const response = await page.goto(`${app.baseUrl}/admin/queues`);
    expect(response?.status()).toBe(200);
    await page.getByText('orders', { exact: false }).first().waitFor({ timeout: 20_000 });
    // The overview finishes loading the queue's counts from the dashboard's API.
    await page.getByText('Loading', { exact: false }).waitFor({ state: 'detached', timeout: 20_000 });
    if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/queues.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(failedOwn).toEqual([]);
  });
});
