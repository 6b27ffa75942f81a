/**
 * `npm run screenshots`: starts the service in this process on a fresh embedded database
 * (demo catalog, an admin, a customer with a few orders), opens the console in Chromium and
 * saves its main pages at desktop (1280 px) and phone (390 px) widths into docs/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/platform/logger.js';
import { openRuntime } from '../src/runtime.js';
import { buildConsole } from './build-console.js';

const OUT_DIR = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN = { email: 'admin@example.com', password: 'admin-password-1' };
const CUSTOMER = { email: 'ada@example.com', password: 'customer-password-1', name: 'Ada Lovelace' };
const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

// A shop system receiving webhooks: answers 204, except that it refuses `order.failed` (to show a retry).
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => res.writeHead(body.includes('"order.failed"') ? 503 : 204).end());
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/orders`;

const dataDir = mkdtempSync(path.join(tmpdir(), 'console-screenshots-'));
const assetsDir = path.join(dataDir, 'console');
await buildConsole(assetsDir);
const config = loadConfig(
  { NODE_ENV: 'development', LOG_LEVEL: 'error', DATA_DIR: dataDir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, SEED_DEMO_DATA: 'true', PAYMENT_DECLINE_ABOVE_CENTS: '50000', WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
  undefined,
);
const runtime = await openRuntime(config, createLogger({ level: 'error', format: 'json' }));
const background = runtime.startBackground();
const server = createServer(createApp({ ...runtime.deps, consoleAssetsDir: assetsDir }));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function call<T>(method: string, url: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(baseUrl + url, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Some history for the lists and the pipeline chart: completed orders, one failed, one pending. */
async function seedOrders(): Promise<void> {
  const admin = await call<{ accessToken: string }>('POST', '/api/auth/login', ADMIN);
  await call('POST', '/api/webhooks', { url: receiverUrl, events: ['order.completed', 'order.failed'], description: 'Warehouse system' }, admin.accessToken);
  const { accessToken } = await call<{ accessToken: string }>('POST', '/api/auth/register', CUSTOMER);
  const { items: products } = await call<{ items: { id: string; priceCents: number }[] }>('GET', '/api/products?limit=100');
  for (let round = 0; round < 24; round++) {
    const product = products[round % products.length];
    if (product) await call('POST', '/api/orders', { items: [{ productId: product.id, quantity: 1 + (round % 3) }] }, accessToken);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const priciest = [...products].sort((a, b) => b.priceCents - a.priceCents)[0];
  if (priciest) await call('POST', '/api/orders', { items: [{ productId: priciest.id, quantity: Math.ceil(60000 / priciest.priceCents) }] }, accessToken).catch(() => undefined);
}

/** The two oldest confirmations given up during a mail-server outage, for the pipeline's *Send all again*. */
async function giveUpOldestEmails(): Promise<void> {
  await runtime.db.query(
    `UPDATE email_deliveries SET status = 'undeliverable', sent_at = NULL, last_error = 'still failing after its retry lifetime: connect ECONNREFUSED'
     WHERE (order_id, kind) IN (SELECT order_id, kind FROM email_deliveries WHERE status = 'sent' ORDER BY created_at LIMIT 2)
       AND NOT EXISTS (SELECT 1 FROM email_deliveries WHERE status = 'undeliverable')`,
  );
}

async function signIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/console`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function shoot(page: Page, name: string, width: keyof typeof WIDTHS): Promise<void> {
  // Let the page settle (fonts, a chart's first draw) before the picture.
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(OUT_DIR, `${name}-${width}.png`), fullPage: true });
}

async function open(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.getByRole('heading', { name: heading }).first().waitFor();
}

try {
  await seedOrders();
  mkdirSync(OUT_DIR, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  for (const width of Object.keys(WIDTHS) as (keyof typeof WIDTHS)[]) {
    const context = await browser.newContext({ viewport: WIDTHS[width], deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/console`);
    await page.getByRole('heading', { name: 'Sign in to the order console' }).waitFor();
    await shoot(page, 'sign-in', width);

    await signIn(page, CUSTOMER);
    await page.locator('.product').first().waitFor();
    await page.locator('.product button').first().click();
    await page.locator('.product button').nth(2).click();
    await shoot(page, 'catalog', width);
    await open(page, '#/orders', 'My orders');
    await page.locator('tr[data-order-id]').first().waitFor();
    await shoot(page, 'my-orders', width);
    await page.locator('tr[data-order-id]:has([data-status="completed"]) a').first().click();
    await page.locator('.big-status .badge').waitFor();
    await shoot(page, 'order', width);
    await open(page, '#/account', 'Change password');
    await shoot(page, 'account', width);
    await page.getByRole('button', { name: 'Sign out' }).click();

    await signIn(page, ADMIN);
    await page.locator('tr[data-order-id]').first().waitFor();
    await shoot(page, 'admin-orders', width);
    await page.locator('tr[data-order-id] a').first().click();
    await page.getByRole('heading', { name: 'Email' }).waitFor();
    await page.getByText(/Confirmation|Failure notice|Sent when/).first().waitFor();
    await shoot(page, 'admin-order', width);
    await open(page, '#/admin/products', 'Products and stock');
    await page.locator('tr[data-sku]').first().waitFor();
    await shoot(page, 'products', width);
    await open(page, '#/admin/webhooks', 'Webhooks');
    await page.getByRole('button', { name: 'Deliveries' }).click();
    await page.locator('.deliveries tbody tr').first().waitFor();
    await shoot(page, 'webhooks', width);
    await giveUpOldestEmails();
    await open(page, '#/admin/pipeline', 'Pipeline');
    await page.locator('.uplot canvas').waitFor();
    await page.getByRole('button', { name: 'Send all again' }).waitFor();
    await shoot(page, 'pipeline', width);
    await context.close();
  }
  await browser.close();
  process.stdout.write(`screenshots written to ${path.relative(process.cwd(), OUT_DIR)}\n`);
} finally {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await background.stop();
  await runtime.close();
  receiver.closeAllConnections();
  receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
}
