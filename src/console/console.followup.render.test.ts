import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { createProduct, type TestProduct } from '../../test/catalog.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

/** Cases left by the first console review. */
describe('the console when prices and focus change under it, in a real browser', () => {
  const shop = useConsoleApp({ storage: 'postgres' });

  /** With `fakeClock`, the page's timers are the test's: minutes of retries and polls can pass at once. */
  async function signedInPage(user: TestUser, hash: string, options: { fakeClock?: boolean } = {}): Promise<{ page: Page; problems: string[] }> {
    const page = await (await shop.console.browser.newContext()).newPage();
    if (options.fakeClock) await page.clock.install();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console${hash}`);
    await signIn(page, user);
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return { page, problems };
  }

  const place = async (user: TestUser, product: TestProduct): Promise<string> => {
    const res = await shop.app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId: product.id, quantity: 1 }] });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const focused = (page: Page) => page.evaluate("document.activeElement?.closest('tr')?.dataset.orderId ?? document.activeElement?.className ?? 'nothing'");

  it('when a keyboard user cancels an order, then focus moves to the status it changed, which is announced (it fell to <body> as the button went away)', { timeout: 60_000 }, async () => {
    const product = await createProduct(shop.app, await registerAdmin(shop.app), { stock: 10 });
    const shopper = await registerUser(shop.app, 'keyboard');
    const [inList, onItsPage] = [await place(shopper, product), await place(shopper, product)];
    const { page, problems } = await signedInPage(shopper, '#/orders');

    const row = page.locator(`tr[data-order-id="${inList}"]`);
    await row.getByRole('button', { name: /^Cancel order/ }).focus();
    await page.keyboard.press('Enter');
    await row.locator('[data-status="cancelled"]').waitFor(WAIT);
    await expect.poll(() => focused(page), WAIT).toBe(inList);
    expect(await page.evaluate('document.activeElement.classList.contains("status-cell")')).toBe(true);
    await page.getByRole('status').filter({ hasText: `Order ${inList.slice(0, 8)} cancelled.` }).waitFor({ state: 'attached', ...WAIT });

    await page.getByRole('link', { name: onItsPage.slice(0, 8) }).click();
    // Exactly: until the order's page shows, the list's "Cancel order <id>" would match, and take the Enter.
    await page.getByRole('button', { name: 'Cancel order', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.locator('.big-status [data-status="cancelled"]').waitFor(WAIT);
    await expect.poll(() => focused(page), WAIT).toBe('big-status');
    expect(await page.locator('.big-status').getAttribute('role')).toBe('status');
    expect(problems).toEqual([]);
  });

  it('when an admin changes a price after it went into the cart, then the cart shows the new price and total, says so, and places nothing until asked again', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const product = await createProduct(shop.app, admin, { stock: 10, name: 'Repriced Mug', priceCents: 1000 });
    const shopper = await registerUser(shop.app, 'repriced');
    const { page, problems } = await signedInPage(shopper, '#/', { fakeClock: true });
    const cart = page.locator('aside.cart');
    await page.getByRole('button', { name: 'Add Repriced Mug to cart' }).click();
    await cart.getByText(/Total.*10\.00/).waitFor(WAIT);
    // The catalog's 5 s refresh waits for the test: the price is read again only when the customer places the order.
    await page.clock.pauseAt(new Date((await page.evaluate<number>('Date.now()')) + 1000));
    const reprice = (priceCents: number) => shop.app.http.patch(`/api/products/${product.id}`).set(bearer(admin)).send({ priceCents }).expect(200);
    await reprice(1500);

    await cart.getByRole('button', { name: 'Place order' }).click();
    await cart.getByRole('status').getByText('Repriced Mug is now').waitFor(WAIT);
    expect(await cart.getByRole('status').textContent()).toMatch(/is now \D*15\.00\D* \(was \D*10\.00/);
    await cart.getByText(/Total.*15\.00/).waitFor(WAIT);
    await cart.getByText(/15\.00.* each/).waitFor(WAIT);
    expect((await shop.app.http.get('/api/orders').set(bearer(shopper))).body.items).toEqual([]);

    // Time flows again (the order page's effects wait for a frame).
    await page.clock.resume();
    await cart.getByRole('button', { name: 'Place order' }).click();
    await page.locator('.big-status').waitFor(WAIT);
    const [order] = (await shop.app.http.get('/api/orders').set(bearer(shopper))).body.items as { totalCents: number }[];
    expect(order?.totalCents).toBe(1500);

    // On the catalog, its refresh brings a new price into the cart as well.
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('button', { name: 'Add Repriced Mug to cart' }).click();
    await cart.getByText(/Total.*15\.00/).waitFor(WAIT);
    await reprice(900);
    await page.clock.fastForward(5_000);
    await cart.getByText(/Total.*9\.00/).waitFor(WAIT);
    await cart.getByRole('status').getByText(/is now \D*9\.00\D* \(was \D*15\.00/).waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when an admin edits a price while another admin renames the product, then both changes stand and a description over several lines keeps its lines (the form sent every field back, as first shown and flattened)', { timeout: 60_000 }, async () => {
    const [admin, other] = [await registerAdmin(shop.app), await registerAdmin(shop.app)];
    const product = await createProduct(shop.app, admin, { stock: 5, name: 'Shared Mug', priceCents: 1000 });
    const description = 'Stoneware.\nHolds 350 ml.';
    await shop.app.http.patch(`/api/products/${product.id}`).set(bearer(admin)).send({ description }).expect(200);
    const { page, problems } = await signedInPage(admin, '#/admin/products');

    await page.getByRole('button', { name: 'Edit Shared Mug' }).click();
    const form = page.getByRole('form', { name: 'Edit Shared Mug' });
    await shop.app.http.patch(`/api/products/${product.id}`).set(bearer(other)).send({ name: 'Shared Mug, renamed' }).expect(200);
    await form.getByLabel('Price').fill('12.50');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached', ...WAIT });

    const saved = (await shop.app.http.get(`/api/products/${product.id}`)).body as { name: string; description: string; priceCents: number };
    expect(saved).toMatchObject({ name: 'Shared Mug, renamed', description, priceCents: 1250 });

    // Edited in the form, the description keeps the lines typed into it.
    await page.getByRole('button', { name: 'Edit Shared Mug, renamed' }).click();
    const again = page.getByRole('form', { name: 'Edit Shared Mug, renamed' });
    expect(await again.getByLabel('Description').inputValue()).toBe(description);
    await again.getByLabel('Description').fill('Stoneware.\nHolds 400 ml.');
    await again.getByRole('button', { name: 'Save' }).click();
    await again.waitFor({ state: 'detached', ...WAIT });
    expect((await shop.app.http.get(`/api/products/${product.id}`)).body).toMatchObject({ name: 'Shared Mug, renamed', description: 'Stoneware.\nHolds 400 ml.', priceCents: 1250 });
    expect(problems).toEqual([]);
  });

  it('when a price changes between the cart\'s last check and the order, then the order page says which product was ordered at which price, against what the cart showed (nothing said so)', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const racing = await createProduct(shop.app, admin, { stock: 10, name: 'Racing Mug', priceCents: 1000 });
    await createProduct(shop.app, admin, { stock: 10, name: 'Steady Plate', priceCents: 500 });
    const shopper = await registerUser(shop.app, 'raced');
    const { page, problems } = await signedInPage(shopper, '#/');
    const cart = page.locator('aside.cart');
    await page.getByRole('button', { name: 'Add Racing Mug to cart' }).click();
    await page.getByRole('button', { name: 'Add Steady Plate to cart' }).click();
    await cart.getByText(/Total.*15\.00/).waitFor(WAIT);
    // Placing reads the cart's prices again; this one changes just after that read, before the order.
    await page.route(new RegExp(`/api/products/${racing.id}$`), async (route) => {
      const response = await route.fetch();
      await shop.app.http.patch(`/api/products/${racing.id}`).set(bearer(admin)).send({ priceCents: 1500 }).expect(200);
      await route.fulfill({ response });
    }, { times: 1 });

    await cart.getByRole('button', { name: 'Place order' }).click();
    await page.locator('.big-status [data-status="pending"]').waitFor(WAIT);
    const [order] = (await shop.app.http.get('/api/orders').set(bearer(shopper))).body.items as { totalCents: number }[];
    expect(order?.totalCents).toBe(2000);
    const notice = page.getByRole('alert').filter({ hasText: 'Racing Mug' });
    await notice.waitFor(WAIT);
    expect(await notice.textContent()).toMatch(/Racing Mug was ordered at \D*15\.00\D* each \(your cart showed \D*10\.00\D*\)\. The total is \D*20\.00\D*, not \D*15\.00/);
    expect(await notice.textContent()).not.toContain('Steady Plate');
    expect(await notice.textContent()).toContain('cancel');
    expect(problems).toEqual([]);
  });
});

describe('the console of a shop priced in yen, its catalog still empty, in a real browser', () => {
  const shop = useConsoleApp({ storage: 'pglite', env: { CURRENCY: 'JPY' } });

  it('when an admin creates the first product, then its price is read in the shop\'s currency (1250 is ¥1,250), not in USD (it became ¥125,000)', { timeout: 60_000 }, async () => {
    const empty = await shop.app.http.get('/api/products');
    expect(empty.body).toEqual({ items: [], nextCursor: null, currency: 'JPY' });
    const admin = await registerAdmin(shop.app);
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console#/admin/products`);
    await signIn(page, admin);
    // An empty catalog says so, instead of a table of headings with no rows.
    await page.getByText('No products yet: add the first with New product.').waitFor(WAIT);
    expect(await page.locator('table.products').count()).toBe(0);
    await page.getByRole('button', { name: 'New product' }).click();
    const form = page.getByRole('form', { name: 'New product' });
    const price = form.getByLabel(/^Price/);
    expect(await price.getAttribute('placeholder')).toBe('1250');
    await form.getByText('Price (JPY)').waitFor(WAIT);
    await form.getByLabel('SKU').fill('YEN-MUG');
    await form.getByLabel('Name').fill('Yen Mug');
    await price.fill('1250');
    await form.getByLabel('Initial stock').fill('5');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.locator('tr[data-sku="YEN-MUG"]').getByText(/1,250/).waitFor(WAIT);
    const { rows } = await shop.app.db.query<{ priceCents: number; currency: string }>('SELECT price_cents AS "priceCents", currency FROM products WHERE sku = $1', ['YEN-MUG']);
    expect(rows).toEqual([{ priceCents: 1250, currency: 'JPY' }]);
    expect(problems).toEqual([]);
  });
});

