import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, type TestProduct } from '../../test/catalog.js';
import { signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

describe('the console in a real browser', () => {
  let baseUrl: string;
  let admin: TestUser;
  let customer: TestUser;
  let product: TestProduct;
  let adminPage: Page;
  let customerPage: Page;
  const problems: string[][] = [];
  let receiver: Server;
  let receiverUrl: string;
  const received: string[] = [];

  // A shop system that takes webhook deliveries, up before the app and closed after it.
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/orders`;
  });
  afterAll(async () => {
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const shop = useConsoleApp({ storage: 'postgres', processing: true, env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_POLL_MS: '100' } });
  beforeAll(async () => {
    baseUrl = shop.console.baseUrl;
    const { browser } = shop.console;
    admin = await registerAdmin(shop.app);
    customer = await registerUser(shop.app, 'shopper');
    product = await createProduct(shop.app, admin, { stock: 3, name: 'Console Lamp', priceCents: 2599 });
    adminPage = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    customerPage = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
    problems.push(watchProblems(adminPage, baseUrl), watchProblems(customerPage, baseUrl));
  });

  it('an admin signs in and watches all orders; a customer signs in with the keyboard only', { timeout: 60_000 }, async () => {
    await adminPage.goto(`${baseUrl}/console`);
    await signIn(adminPage, admin);
    await adminPage.getByRole('heading', { name: 'All orders' }).waitFor(WAIT);
    // The order stream is connected (not the polling fallback).
    await adminPage.locator('.live-live').waitFor(WAIT);

    await adminPage.getByRole('link', { name: 'Webhooks' }).click();
    await adminPage.getByLabel('Endpoint URL').fill(receiverUrl);
    await adminPage.getByLabel('order.placed').check();
    await adminPage.getByRole('button', { name: 'Add webhook' }).click();
    await adminPage.getByText('Copy it now').waitFor(WAIT);
    expect(await adminPage.locator('code.secret').innerText()).toMatch(/^whsec_/);
    await adminPage.getByRole('button', { name: 'Done' }).click();
    await adminPage.getByRole('link', { name: 'Orders', exact: true }).click();
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

    const mine = await shop.app.http.get('/api/orders').set(bearer(customer));
    expect(mine.body.items.map((order: { id: string }) => order.id)).toEqual([orderId]);

    const row = adminPage.locator(`tr[data-order-id="${orderId}"]`);
    await row.locator('[data-status="completed"]').waitFor(WAIT);
    await row.getByRole('link').click();
    await adminPage.getByRole('heading', { name: 'Email' }).waitFor(WAIT);
    await adminPage.getByText('Confirmation: sent').waitFor(WAIT);

    // An email the mail server refused for good says so.
    await shop.app.db.query("UPDATE email_deliveries SET status = 'undeliverable', sent_at = NULL WHERE order_id = $1", [orderId]);
    await adminPage.getByRole('link', { name: 'Orders', exact: true }).click();
    await row.getByRole('link').click();
    await adminPage.getByText('Confirmation: could not be delivered (1 attempt)').waitFor(WAIT);
    // Once the cause is fixed, an admin sends it again, and sees it go out.
    await adminPage.getByRole('button', { name: 'Send again' }).click();
    await adminPage.getByText('Confirmation: sent').waitFor(WAIT);
    expect(await adminPage.getByRole('button', { name: 'Send again' }).count()).toBe(0);
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
    // The order's events reached the webhook; an admin sees the deliveries and sends one again.
    await adminPage.getByRole('link', { name: 'Webhooks' }).click();
    await adminPage.getByRole('button', { name: 'Deliveries' }).click();
    const deliveries = adminPage.locator('.deliveries tbody tr');
    await expect.poll(() => deliveries.locator('.badge-succeeded').count(), WAIT).toBe(2);
    const before = received.length;
    await deliveries.first().getByRole('button', { name: /^Redeliver/ }).click();
    await expect.poll(() => received.length, WAIT).toBe(before + 1);

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
    // The refused confirmation (the order test above) was sent again: nothing refused, nothing owed.
    await expect.poll(() => adminPage.locator('[data-stat="Emails refused"] .stat-value').innerText(), WAIT).toBe('0');
    expect(await adminPage.getByRole('button', { name: 'Send all again' }).count()).toBe(0);
    // After an outage of the mail server every email of those days is refused; an admin sends them all again here.
    await shop.app.db.query("UPDATE email_deliveries SET status = 'undeliverable', sent_at = NULL");
    await expect.poll(() => adminPage.locator('[data-stat="Emails refused"] .stat-value').innerText(), WAIT).toBe('1');
    await adminPage.getByRole('button', { name: 'Send all again' }).click();
    await adminPage.getByRole('status').filter({ hasText: '1 email is being sent again.' }).waitFor(WAIT);
    await expect.poll(() => adminPage.locator('[data-stat="Emails refused"] .stat-value').innerText(), WAIT).toBe('0');
    await expect.poll(() => adminPage.locator('[data-stat="Emails unsent"]').innerText(), WAIT).toContain('every email owed went out');
    expect(await adminPage.getByRole('button', { name: 'Send all again' }).count()).toBe(0);
    expect(await adminPage.locator('[data-stat="Emails unsent"]').innerText()).toContain('every email owed went out');
    await customerPage.getByRole('link', { name: 'My orders' }).click();
    await customerPage.locator('tr[data-order-id]').first().waitFor(WAIT);

    await customerPage.getByRole('button', { name: 'Sign out' }).click();
    await customerPage.getByText('You have signed out.').waitFor(WAIT);
    expect(problems.flat()).toEqual([]);
  });
});
