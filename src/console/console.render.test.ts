import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.js';
import { createProduct, type TestProduct } from '../../test/catalog.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';
import { createApp } from '../app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = { timeout: 20_000 };

/** Every console error, page error, CSP violation, failed or foreign request a page produces. */
function watch(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) problems.push(`foreign request: ${request.url()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`answered ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    // Streams are aborted on purpose when a page closes them.
    if (!request.url().includes('/events')) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  return problems;
}

async function signIn(page: Page, user: TestUser): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the console in a real browser', () => {
  let app: TestApp;
  let server: Server;
  let baseUrl: string;
  let browser: Browser;
  let admin: TestUser;
  let customer: TestUser;
  let product: TestProduct;
  let adminPage: Page;
  let customerPage: Page;
  const problems: string[][] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium not found at ${CHROMIUM}. Install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH.`);
    }
    const assets = mkdtempSync(path.join(tmpdir(), 'console-assets-'));
    await buildConsole(assets);
    app = await startTestApp({ storage: 'pglite', processing: true });
    // The harness's app serves dist/; this one serves the bundle just built.
    server = createServer(createApp({ ...app.deps, consoleAssetsDir: assets }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    admin = await registerAdmin(app);
    customer = await registerUser(app, 'shopper');
    product = await createProduct(app, admin, { stock: 3, name: 'Console Lamp', priceCents: 2599 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    adminPage = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    customerPage = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
    problems.push(watch(adminPage, baseUrl), watch(customerPage, baseUrl));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await app?.close();
  });

  it('an admin signs in and watches all orders; a customer signs in with the keyboard only', { timeout: 60_000 }, async () => {
    await adminPage.goto(`${baseUrl}/console`);
    await signIn(adminPage, admin);
    await adminPage.getByRole('heading', { name: 'All orders' }).waitFor(WAIT);
    // The order stream is connected (not the polling fallback).
    await adminPage.locator('.live-live').waitFor(WAIT);

    await customerPage.goto(`${baseUrl}/console`);
    await customerPage.getByRole('heading', { name: 'Sign in to the order console' }).waitFor(WAIT);
    // From the focused page heading: Tab to the email field, Tab to the password, Enter submits.
    await customerPage.keyboard.press('Tab');
    expect(await customerPage.evaluate("document.activeElement.getAttribute('name')")).toBe('email');
    await customerPage.keyboard.type(customer.email);
    await customerPage.keyboard.press('Tab');
    await customerPage.keyboard.type(customer.password);
    await customerPage.keyboard.press('Enter');
    await customerPage.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
  });

  it('a customer places an order (a double click orders once) and sees it complete without a reload; the admin sees it appear live', { timeout: 60_000 }, async () => {
    const card = customerPage.locator(`li[data-sku="${product.sku}"]`);
    await expect.poll(() => card.getByTestId('availability').innerText(), WAIT).toBe('3 available');
    await card.getByRole('button', { name: 'Add Console Lamp to cart' }).click();
    // A reload would drop this marker (and the in-memory session with it).
    await customerPage.evaluate('window.notReloaded = true');
    await customerPage.getByRole('button', { name: 'Place order' }).dblclick();

    await customerPage.waitForURL(/#\/orders\/[0-9a-f-]{36}$/, WAIT);
    const orderId = customerPage.url().split('/').pop() ?? '';
    await customerPage.locator('.big-status [data-status="completed"]').waitFor(WAIT);
    expect(await customerPage.evaluate('window.notReloaded')).toBe(true);

    const mine = await app.http.get('/api/orders').set(bearer(customer));
    expect(mine.body.items.map((order: { id: string }) => order.id)).toEqual([orderId]);

    const row = adminPage.locator(`tr[data-order-id="${orderId}"]`);
    await row.locator('[data-status="completed"]').waitFor(WAIT);
    await row.getByRole('link').click();
    await adminPage.getByRole('heading', { name: 'Email' }).waitFor(WAIT);
    await adminPage.getByText('Confirmation: sent').waitFor(WAIT);
  });

  it('an admin restocks a product and the customer sees the new availability', { timeout: 60_000 }, async () => {
    await adminPage.getByRole('link', { name: 'Products' }).click();
    const row = adminPage.locator(`tr[data-sku="${product.sku}"]`);
    await expect.poll(() => row.getByTestId('available').innerText(), WAIT).toBe('2');
    await row.getByLabel(`Stock adjustment for Console Lamp`).fill('5');
    await row.getByRole('button', { name: 'Apply stock adjustment to Console Lamp' }).click();
    await expect.poll(() => row.getByTestId('available').innerText(), WAIT).toBe('7');

    await customerPage.getByRole('link', { name: 'Catalog' }).click();
    const card = customerPage.locator(`li[data-sku="${product.sku}"]`);
    await expect.poll(() => card.getByTestId('availability').innerText(), WAIT).toBe('7 available');
  });

  it('every admin page renders without console errors or CSP violations', { timeout: 60_000 }, async () => {
    for (const [link, heading] of [
      ['Webhooks', 'Webhooks'],
      ['Pipeline', 'Pipeline'],
      ['Shop', 'Catalog'],
      ['Orders', 'All orders'],
    ] as const) {
      await adminPage.getByRole('link', { name: link, exact: true }).click();
      await adminPage.getByRole('heading', { name: heading, exact: true }).waitFor(WAIT);
    }
    await adminPage.getByRole('link', { name: 'Pipeline' }).click();
    await adminPage.locator('.uplot canvas').waitFor(WAIT);
    await adminPage.locator('[data-stat="Completed"]').waitFor(WAIT);
    await customerPage.getByRole('link', { name: 'My orders' }).click();
    await customerPage.locator('tr[data-order-id]').first().waitFor(WAIT);

    await customerPage.getByRole('button', { name: 'Sign out' }).click();
    await customerPage.getByText('You have signed out.').waitFor(WAIT);
    expect(problems.flat()).toEqual([]);
  });
});
