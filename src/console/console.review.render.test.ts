import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProduct, type TestProduct } from '../../test/catalog.js';
import { holdAnswer, signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

/** The payment simulator declines orders above this; one line of this many mugs is one. */
const DECLINE_ABOVE_CENTS = 50_000;
const DECLINED_QUANTITY = 100;

/** Cases found reviewing the console. */
describe('the console under races, odd links and double clicks, in a real browser', () => {
  const shop = useConsoleApp({ storage: 'postgres', processing: true, env: { PAYMENT_DECLINE_ABOVE_CENTS: String(DECLINE_ABOVE_CENTS), WEBHOOK_ALLOW_PRIVATE_URLS: 'true' } });
  let admin: TestUser;
  let product: TestProduct;
  beforeAll(async () => {
    admin = await registerAdmin(shop.app);
    product = await createProduct(shop.app, admin, { stock: 10_000, name: 'Review Mug', priceCents: 1000 });
  }, 120_000);

  const place = async (user: TestUser, quantity = 1): Promise<string> => {
    const res = await shop.app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId: product.id, quantity }] });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  async function signedInPage(user: TestUser, hash = '', options: { allowStatuses?: number[] } = {}): Promise<{ page: Page; problems: string[] }> {
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl, options);
    await page.goto(`${shop.console.baseUrl}/console${hash}`);
    await signIn(page, user);
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return { page, problems };
  }

  it('when a link to an order has a broken percent escape, then the order page says it was not found (the page did not go blank)', { timeout: 60_000 }, async () => {
    const customer = await registerUser(shop.app, 'oddlink');
    const { page, problems } = await signedInPage(customer, '', { allowStatuses: [404] });
    await page.evaluate(`location.hash = '#/orders/%E0%A4%A'`);
    await page.getByRole('heading', { name: /^Order / }).waitFor(WAIT);
    await page.getByRole('alert').waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when the order list answers after a live change, then the list keeps what the stream brought', { timeout: 60_000 }, async () => {
    const customer = await registerUser(shop.app, 'stale');
    const earlier = await place(customer);
    const { page, problems } = await signedInPage(customer);
    const list = await holdAnswer(page, /\/api\/orders\?/);
    await page.getByRole('link', { name: 'My orders' }).click();
    await list.read;
    await page.locator('header .live-live').waitFor(WAIT);
    // Placed after the list was read: the stream brings it (and its completion) before the older list arrives.
    const later = await place(customer);
    await page.locator(`tr[data-order-id="${later}"] [data-status="completed"]`).waitFor(WAIT);
    list.release();
    await page.locator(`tr[data-order-id="${earlier}"]`).waitFor(WAIT);
    const rows = await page.locator('tr[data-order-id]').all();
    expect(await Promise.all(rows.map((row) => row.getAttribute('data-order-id')))).toEqual([later, earlier]);
    expect(await page.locator(`tr[data-order-id="${later}"] .badge`).innerText()).toBe('completed');
    expect(problems).toEqual([]);
  });

  it('when the status filter changes while the unfiltered list is still loading, then the late unfiltered answer does not replace the filtered list', { timeout: 60_000 }, async () => {
    const customer = await registerUser(shop.app, 'filter');
    const completed = await place(customer);
    const { page, problems } = await signedInPage(customer);
    const unfiltered = /\/api\/orders\?limit=\d+$/;
    const unfilteredAnswered = page.waitForResponse((response) => unfiltered.test(response.url()));
    const list = await holdAnswer(page, unfiltered);
    await page.getByRole('link', { name: 'My orders' }).click();
    await list.read;
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No orders with status failed yet.').waitFor(WAIT);
    await page.locator('header .live-live').waitFor(WAIT);
    list.release();
    await (await unfilteredAnswered).finished();
    // A live change handled after the late answer: once it shows, the late answer has been handled too.
    const declined = await place(customer, DECLINED_QUANTITY);
    await page.locator(`tr[data-order-id="${declined}"] [data-status="failed"]`).waitFor(WAIT);
    expect(await page.locator(`tr[data-order-id="${completed}"]`).count()).toBe(0);
    expect(await page.locator('tr[data-order-id] .badge').allInnerTexts()).toEqual(['failed']);
    expect(problems).toEqual([]);
  });

  /** Counts the page's requests of one method to a path. */
  function countRequests(page: Page, method: string, path: RegExp): () => number {
    let count = 0;
    page.on('request', (request) => {
      if (request.method() === method && path.test(new URL(request.url()).pathname)) count++;
    });
    return () => count;
  }

  it('when an admin double-clicks Add webhook, then one webhook is added (the button waits for the answer)', { timeout: 60_000 }, async () => {
    const { page, problems } = await signedInPage(admin, '#/admin/webhooks');
    const url = `http://127.0.0.1:9/hooks/${Date.now()}`;
    await page.getByLabel('Endpoint URL').fill(url);
    const posts = countRequests(page, 'POST', /^\/api\/webhooks$/);
    const added = await holdAnswer(page, /\/api\/webhooks$/);
    const answered = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().endsWith('/api/webhooks'));
    await page.getByRole('button', { name: 'Add webhook' }).dblclick();
    await added.read;
    added.release();
    await answered;
    await page.getByText('Copy it now').waitFor(WAIT);
    expect(posts()).toBe(1);
    const listed = await shop.app.http.get('/api/webhooks?limit=100').set(bearer(admin));
    expect((listed.body.items as { url: string }[]).filter((hook) => hook.url === url)).toHaveLength(1);
    expect(problems).toEqual([]);
  });

  it('when a customer signs out with a full cart, then the next customer to sign in on that tab starts with an empty cart', { timeout: 60_000 }, async () => {
    const first = await registerUser(shop.app, 'first');
    const second = await registerUser(shop.app, 'second');
    const { page, problems } = await signedInPage(first);
    await page.locator(`li[data-sku="${product.sku}"]`).getByRole('button', { name: 'Add Review Mug to cart' }).click();
    await page.getByRole('link', { name: /1 in cart/ }).waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, second);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    expect(await page.getByText('Your cart is empty.').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Place order' }).isDisabled()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('when the API refuses a field of a new product, then its message stands beside that field, which is marked invalid and described by it', { timeout: 60_000 }, async () => {
    const { page, problems } = await signedInPage(admin, '#/admin/products', { allowStatuses: [400] });
    await page.getByRole('button', { name: 'New product' }).click();
    await page.getByLabel('SKU').fill('bad sku!');
    await page.getByLabel('Name', { exact: true }).fill('Odd Lamp');
    await page.getByLabel('Price').fill('12.50');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('alert').filter({ hasText: 'Please correct the fields marked above.' }).waitFor(WAIT);
    const sku = page.getByLabel('SKU');
    expect(await sku.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await sku.getAttribute('aria-describedby')) ?? '';
    expect(await page.locator(`[id="${describedBy}"]`).innerText()).toMatch(/must start with a letter or digit/);
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBeNull();
    expect(problems).toEqual([]);
  });

  it('when a product name and a customer name are one long word, then the catalog and its cart still fit a phone\'s width', { timeout: 60_000 }, async () => {
    const longName = `Extraordinarily${'Long'.repeat(40)}Lamp`;
    const long = await createProduct(shop.app, admin, { stock: 5, name: longName });
    const customer = await registerUser(shop.app, `Someone${'Verbose'.repeat(12)}`);
    const page = await (await shop.console.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true })).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, customer);
    const card = page.locator(`li[data-sku="${long.sku}"]`);
    await card.getByRole('button', { name: `Add ${longName} to cart` }).click();
    await page.getByRole('link', { name: /1 in cart/ }).waitFor(WAIT);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(problems).toEqual([]);
  });

  it('when the order stream goes silent for longer than three keep-alives, then the page gives it up and resumes it (Live did not stay on over a dead connection)', { timeout: 60_000 }, async () => {
    const customer = await registerUser(shop.app, 'silent');
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    // The page's clock is the test's: 46 s pass in the page at once, while the server (real time) sends nothing.
    await page.clock.install();
    await page.goto(`${shop.console.baseUrl}/console#/orders`);
    await signIn(page, customer);
    await page.getByText('No orders yet.').waitFor(WAIT);
    await page.locator('header .live-live').waitFor(WAIT);
    let streams = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/api/orders/events')) streams++;
    });
    await page.clock.fastForward(46_000);
    await page.locator('header .live-polling').waitFor(WAIT);
    await page.clock.fastForward(2_000);
    await expect.poll(() => streams, WAIT).toBe(1);
    await page.locator('header .live-live').waitFor(WAIT);
    // The resumed stream works: an order placed now shows.
    const placed = await place(customer);
    await page.locator(`tr[data-order-id="${placed}"]`).waitFor(WAIT);
    expect(problems).toEqual([]);
  });
});
