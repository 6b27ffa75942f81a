import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { holdAnswer, signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

/** Cases found reviewing the console's pages: keyboard use, loading and error states. */
describe('the console\'s pages with the keyboard and when a read fails, in a real browser', () => {
  const shop = useConsoleApp({ storage: 'pglite' });
  let admin: TestUser;
  beforeAll(async () => {
    admin = await registerAdmin(shop.app);
  }, 120_000);

  async function productsPage(): Promise<{ page: Page; problems: string[] }> {
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console#/admin/products`);
    await signIn(page, admin);
    await page.getByRole('heading', { name: 'Products and stock' }).waitFor(WAIT);
    return { page, problems };
  }
  /**
   * A new customer with `count` pending orders (nothing processes them here), and a page signed
   * in as them at `hash` (made of the last order's id).
   */
  async function customerWithOrders(name: string, count: number, hash: (orderId: string) => string): Promise<{ page: Page; problems: string[]; orderId: string }> {
    const product = await createProduct(shop.app, admin, { stock: count + 5, name: `${name} cup` });
    const customer = await registerUser(shop.app, name);
    let orderId = '';
    for (let placed = 0; placed < count; placed++) {
      const res = await shop.app.http.post('/api/orders').set(bearer(customer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(res.status).toBe(201);
      orderId = res.body.id as string;
    }
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console${hash(orderId)}`);
    await signIn(page, customer);
    return { page, problems, orderId };
  }

  /**
   * `ask` meets a dropped connection to `request` and the page says so; asked again, with the
   * answer held (or, with `drop`, to be dropped), the page shows no error meanwhile. Returns the
   * hold, to release.
   */
  async function failThenAskAgain(page: Page, request: RegExp, ask: () => Promise<void>, { drop = false } = {}): Promise<{ release: () => void }> {
    await page.route(request, (route) => route.abort('connectionreset'), { times: 1 });
    await ask();
    await page.getByRole('alert').filter({ hasText: 'The server could not be reached' }).waitFor(WAIT);
    return askWhileHeld(page, request, ask, { drop });
  }

  /** `ask`s with the answer to `request` held: meanwhile the page shows no error. Returns the hold, to release. */
  async function askWhileHeld(page: Page, request: RegExp, ask: () => Promise<unknown>, { drop = false } = {}): Promise<{ release: () => void }> {
    const held = await holdAnswer(page, request, { drop });
    await ask();
    await held.read;
    expect(await page.getByRole('alert').count()).toBe(0);
    return held;
  }

  /** The accessible name of what has focus, or its tag. */
  const focused = (page: Page) => page.evaluate("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.labels?.[0]?.textContent ?? document.activeElement?.textContent ?? document.activeElement?.tagName");

  it('when a keyboard user edits a product, then focus goes into the form and back to its Edit button after Save or Escape (it fell to <body> each time)', { timeout: 60_000 }, async () => {
    const product = await createProduct(shop.app, admin, { stock: 3, name: 'Keyboard Lamp' });
    const { page, problems } = await productsPage();
    const edit = page.getByRole('button', { name: 'Edit Keyboard Lamp' });
    await edit.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page), WAIT).toBe('Name');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('Keyboard Lamp XL');
    await page.keyboard.press('Enter');
    await page.locator(`tr[data-sku="${product.sku}"]`).getByText('Keyboard Lamp XL', { exact: true }).waitFor(WAIT);
    await expect.poll(() => focused(page), WAIT).toBe('Edit Keyboard Lamp XL');

    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page), WAIT).toBe('Name');
    await page.keyboard.press('Escape');
    await expect.poll(() => focused(page), WAIT).toBe('Edit Keyboard Lamp XL');
    expect(await page.getByRole('form', { name: /^Edit / }).count()).toBe(0);

    // The new-product form: opened, its first field has focus; closed, focus is back on its button.
    await page.getByRole('button', { name: 'New product' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page), WAIT).toBe('SKU');
    await page.keyboard.press('Escape');
    await expect.poll(() => focused(page), WAIT).toBe('New product');
    expect(problems).toEqual([]);
  });

  it('when the first read of the products fails, then the page says so without claiming to load them, and Refresh reads them (it said "Loading products…" for ever)', { timeout: 60_000 }, async () => {
    await createProduct(shop.app, admin, { stock: 1, name: 'Refreshed Lamp' });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.route(/\/api\/products\?limit=50$/, (route) => route.abort('connectionreset'), { times: 1 });
    await page.goto(`${shop.console.baseUrl}/console#/admin/products`);
    await signIn(page, admin);
    await page.getByRole('alert').filter({ hasText: 'The server could not be reached' }).waitFor(WAIT);
    expect(await page.getByText('Loading products…').count()).toBe(0);

    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: 'Edit Refreshed Lamp' }).waitFor(WAIT);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connection itself is the one problem expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a read of an order list or a Cancel failed, then its error goes as the next filter or Cancel starts, and a new filter says it is loading (the old error stayed, with no Loading, until the next answer)', { timeout: 60_000 }, async () => {
    const { page, problems, orderId } = await customerWithOrders('lister', 1, () => '#/orders');
    // Once live, the page has read its list for the stream too: no read of its own is left to come.
    await page.locator('header .live-live').waitFor(WAIT);
    const row = page.locator(`tr[data-order-id="${orderId}"]`);
    await row.waitFor(WAIT);
    const unreachable = page.getByRole('alert').filter({ hasText: 'The server could not be reached' });

    await page.route(/\/api\/orders\?limit=20&status=completed$/, (route) => route.abort('connectionreset'), { times: 1 });
    await page.getByLabel('Status').selectOption('completed');
    await unreachable.waitFor(WAIT);
    const pending = await askWhileHeld(page, /\/api\/orders\?limit=20&status=pending$/, () => page.getByLabel('Status').selectOption('pending'));
    expect(await page.getByRole('status').filter({ hasText: 'Loading orders…' }).isVisible()).toBe(true);
    pending.release();
    await row.waitFor(WAIT);

    const cancel = await failThenAskAgain(page, /\/cancel$/, () => row.getByRole('button', { name: /^Cancel order/ }).click());
    cancel.release();
    await page.getByText('No orders with status pending yet.').waitFor(WAIT);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when Older orders failed, then its error goes as it is asked again, and one that fails after the filter changed is not shown over the new list (it was)', { timeout: 60_000 }, async () => {
    const { page, problems } = await customerWithOrders('pager', 21, () => '#/orders');
    await page.locator('header .live-live').waitFor(WAIT);
    const rows = page.locator('tr[data-order-id]');
    await expect.poll(() => rows.count(), WAIT).toBe(20);
    const older = /\/api\/orders\?limit=20&cursor=/;

    // Asked again: while it is on its way, the earlier failure is not shown; then it fails after another filter was chosen.
    const held = await failThenAskAgain(page, older, () => page.getByRole('button', { name: 'Older orders' }).click(), { drop: true });
    await page.getByLabel('Status').selectOption('completed');
    await page.getByText('No orders with status completed yet.').waitFor(WAIT);
    const dropped = page.waitForEvent('requestfailed', (request) => older.test(request.url()));
    held.release();
    await dropped;
    await page.evaluate("fetch('/health/live').then((res) => res.status)");
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a read of the catalog failed, then its error goes as Refresh is clicked, and the page says it is loading (the error stayed, with no Loading, until the next answer)', { timeout: 60_000 }, async () => {
    await createProduct(shop.app, admin, { stock: 1, name: 'Catalog Lamp' });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    // Every read fails (the page also reads every 5 s) until Refresh is about to be clicked.
    const catalog = /\/api\/products\?limit=100$/;
    await page.route(catalog, (route) => route.abort('connectionreset'));
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, await registerUser(shop.app, 'refresher'));
    await page.getByRole('alert').filter({ hasText: 'The server could not be reached' }).waitFor(WAIT);
    await page.unroute(catalog);

    const held = await askWhileHeld(page, catalog, () => page.getByRole('button', { name: 'Refresh' }).click());
    expect(await page.getByRole('status').filter({ hasText: 'Loading products…' }).isVisible()).toBe(true);
    held.release();
    await page.getByRole('button', { name: 'Add Catalog Lamp to cart' }).waitFor(WAIT);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a read of the products or a Restock failed, then its error goes as Refresh or the next Restock starts (it stayed until one succeeded)', { timeout: 60_000 }, async () => {
    const name = 'Restocked Lamp';
    const product = await createProduct(shop.app, admin, { stock: 2, name });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    const products = /\/api\/products\?limit=50$/;
    await page.route(products, (route) => route.abort('connectionreset'), { times: 1 });
    await page.goto(`${shop.console.baseUrl}/console#/admin/products`);
    await signIn(page, admin);
    await page.getByRole('alert').filter({ hasText: 'The server could not be reached' }).waitFor(WAIT);
    const read = await askWhileHeld(page, products, () => page.getByRole('button', { name: 'Refresh' }).click());
    expect(await page.getByRole('status').filter({ hasText: 'Loading products…' }).isVisible()).toBe(true);
    read.release();

    const stock = new RegExp(`/api/products/${product.id}/stock$`);
    const restock = async () => {
      await page.getByLabel(`Stock adjustment for ${name}`).fill('3');
      await page.getByRole('button', { name: `Apply stock adjustment to ${name}` }).click();
    };
    (await failThenAskAgain(page, stock, restock)).release();
    await expect.poll(() => page.locator(`tr[data-sku="${product.sku}"]`).getByTestId('available').innerText(), WAIT).toBe('5');
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when Cancel order failed on an order\'s page, then its error goes as Cancel order is clicked again (it stayed until one succeeded)', { timeout: 60_000 }, async () => {
    const { page, problems } = await customerWithOrders('detailer', 1, (orderId) => `#/orders/${orderId}`);
    const cancel = page.getByRole('button', { name: 'Cancel order' });

    (await failThenAskAgain(page, /\/cancel$/, () => cancel.click())).release();
    await page.locator('.big-status [data-status="cancelled"]').waitFor(WAIT);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connection itself is the one problem expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a keyboard user removes a line from the cart, then focus moves to the next line\'s Remove, then to the cart, and the removal is announced (it fell to <body>)', { timeout: 60_000 }, async () => {
    await createProduct(shop.app, admin, { stock: 5, name: 'First Cup' });
    await createProduct(shop.app, admin, { stock: 5, name: 'Second Cup' });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, await registerUser(shop.app, 'remover'));
    await page.getByRole('button', { name: 'Add First Cup to cart' }).click();
    await page.getByRole('button', { name: 'Add Second Cup to cart' }).click();
    const cart = page.locator('aside.cart');
    // Both lines shown before the first is removed (a removal before the second line came left the cart empty).
    await cart.getByRole('button', { name: 'Remove Second Cup' }).waitFor(WAIT);

    await cart.getByRole('button', { name: 'Remove First Cup' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => focused(page), WAIT).toBe('Remove Second Cup');
    await cart.locator('[aria-live="polite"]').filter({ hasText: 'First Cup removed from the cart.' }).waitFor({ state: 'attached', ...WAIT });
    await page.keyboard.press('Enter');
    await cart.getByText('Your cart is empty.').waitFor(WAIT);
    await expect.poll(() => focused(page), WAIT).toBe('Cart');
    await cart.locator('[aria-live="polite"]').filter({ hasText: 'Second Cup removed from the cart.' }).waitFor({ state: 'attached', ...WAIT });
    expect(problems).toEqual([]);
  });
});
