import { beforeAll, describe, expect, it } from 'vitest';
import { signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { createProduct } from '../../test/catalog.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

/** The default access-token lifetime; the API's token clock is moved past it instead of waited for. */
const ACCESS_TTL_SECONDS = 900;

describe('the console session in a real browser', () => {
  let customer: TestUser;
  // The API signs and checks access tokens by this clock: real time plus whatever the test skipped.
  let skippedMs = 0;
  const expireAccessTokens = () => void (skippedMs += (ACCESS_TTL_SECONDS + 1) * 1000);

  const shop = useConsoleApp({ storage: 'postgres', processing: true, clock: () => Date.now() + skippedMs, env: { ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL_SECONDS) } });
  beforeAll(async () => {
    customer = await registerUser(shop.app, 'sessions');
  }, 120_000);

  const tokenRows = (userId: string) =>
    shop.app.db.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM refresh_tokens WHERE user_id = $1', [userId]).then((r) => r.rows);

  /** A page signed in as `user` on the catalog, the problems it shows (401s are the point here) and how many refreshes it sent. */
  async function catalogWithRefreshes(user: TestUser) {
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl, { allowStatuses: [401] });
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, user);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    let refreshes = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/api/auth/refresh')) refreshes++;
    });
    return { page, problems, refreshes: () => refreshes };
  }

  it('when the access token expired, then one refresh keeps the customer signed in; when that fails, then the sign-in page says so', { timeout: 60_000 }, async () => {
    const { page, problems, refreshes } = await catalogWithRefreshes(customer);
    expireAccessTokens();
    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByText('No orders yet.').waitFor(WAIT);
    expect(refreshes()).toBeGreaterThanOrEqual(1);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);

    // The sign-in's refresh tokens are revoked behind the page's back (as theft detection would).
    await shop.app.db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1', [customer.id]);
    expireAccessTokens();
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor(WAIT);
    await page.getByRole('heading', { name: 'Sign in to the order console' }).waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when the session ends as the customer places the order, then signing in again finds the cart as it was and places it (it was emptied); another customer signing in finds it empty', { timeout: 60_000 }, async () => {
    const shopper = await registerUser(shop.app, 'mid-checkout');
    await createProduct(shop.app, await registerAdmin(shop.app), { stock: 10, name: 'Kept Mug' });
    const { page, problems } = await catalogWithRefreshes(shopper);
    await page.getByRole('button', { name: 'Add Kept Mug to cart' }).click();
    await page.getByRole('link', { name: /1 in cart/ }).waitFor(WAIT);
    const endSession = async () => {
      await shop.app.db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1', [shopper.id]);
      expireAccessTokens();
    };

    await endSession();
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor(WAIT);
    await signIn(page, shopper);
    const cart = page.locator('aside.cart');
    await cart.getByRole('spinbutton', { name: 'Quantity of Kept Mug in cart' }).waitFor(WAIT);
    expect(await cart.getByRole('alert').count()).toBe(0);
    await cart.getByRole('button', { name: 'Place order' }).click();
    await page.locator('.big-status').waitFor(WAIT);
    // (The test's own token has expired by the API's clock: the database says what was ordered.)
    expect((await shop.app.db.query('SELECT id FROM orders WHERE user_id = $1', [shopper.id])).rows).toHaveLength(1);

    // A cart left behind by an ended session is not the next customer's.
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('button', { name: 'Add Kept Mug to cart' }).click();
    await endSession();
    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor(WAIT);
    await signIn(page, await registerUser(shop.app, 'next-in-line'));
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByText('Your cart is empty.').waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when the server cannot be reached as the access token is refreshed, then the customer stays signed in and the page goes live again, its list read anew', { timeout: 60_000 }, async () => {
    const { page, problems, refreshes } = await catalogWithRefreshes(await registerUser(shop.app, 'unreachable'));
    // Refreshes meet a dropped connection (a restart, a network blip; the token was never refused)
    // until the page has said so, then go through. Letting the second through at once let it clear
    // the notice before the test saw it; holding it instead hung the page when the first refresh
    // was the stream's (which retries quietly) and the list's came after it (full-suite runs).
    const notice = page.getByRole('alert').filter({ hasText: 'could not renew your session' });
    let noticeShown = false;
    await page.route(/\/api\/auth\/refresh$/, async (route) => {
      if (noticeShown) await route.continue();
      else await route.abort('connectionreset');
    });
    expireAccessTokens();
    await page.getByRole('link', { name: 'My orders' }).click();
    await notice.waitFor(WAIT);
    noticeShown = true;
    // The stream tries again, and the next refresh goes through.
    await page.locator('header .live-live').waitFor(WAIT);
    // The list that could not be read is read again once the stream is up: no page left loading.
    await page.getByText('No orders yet.').waitFor(WAIT);
    expect(refreshes()).toBeGreaterThanOrEqual(2);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    expect(await page.getByText('Your session has ended').count()).toBe(0);
    // The dropped connection itself is the one problem expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when the token a live page streams with expires, then the page stays live: it resumes with a refreshed token at once', { timeout: 60_000 }, async () => {
    const watcher = await registerUser(shop.app, 'watcher');
    const product = await createProduct(shop.app, await registerAdmin(shop.app), { stock: 10 });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl, { allowStatuses: [401] });
    let streamsOpened = 0;
    let refreshes = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/api/orders/events')) streamsOpened++;
      if (request.url().endsWith('/api/auth/refresh')) refreshes++;
    });
    const signInAnswer = page.waitForResponse((response) => response.url().endsWith('/api/auth/login'));
    await page.goto(`${shop.console.baseUrl}/console#/orders`);
    await signIn(page, watcher);
    await page.getByText('No orders yet.').waitFor(WAIT);
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    // The page's token has 3 s left when the next stream opens.
    const { accessToken } = (await (await signInAnswer).json()) as { accessToken: string };
    const { exp } = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { exp: number };
    skippedMs = exp * 1000 - 3000 - Date.now();
    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByText('No orders yet.').waitFor(WAIT);
    const indicator = page.locator('header .live');
    await indicator.getByText('Live').waitFor(WAIT);
    // Every state the indicator shows from here on (page scripts are strings: no DOM types here).
    await page.evaluate(`
      window.liveStates = [];
      new MutationObserver(() => window.liveStates.push(document.querySelector('header .live')?.textContent ?? 'none'))
        .observe(document.querySelector('header'), { subtree: true, childList: true, characterData: true });
    `);
    const opened = streamsOpened;

    // The server ends the stream; the page asks again with its token (401), refreshes, and asks again.
    await expect.poll(() => refreshes, WAIT).toBeGreaterThanOrEqual(1);
    await expect.poll(() => streamsOpened, WAIT).toBeGreaterThanOrEqual(opened + 2);
    const signedIn = await shop.app.http.post('/api/auth/login').send({ email: watcher.email, password: watcher.password });
    const placed = await shop.app.http.post('/api/orders').set(bearer({ accessToken: signedIn.body.accessToken as string })).send({ items: [{ productId: product.id, quantity: 1 }] });
    await page.locator(`tr[data-order-id="${placed.body.id as string}"]`).waitFor(WAIT);
    expect(await page.evaluate("window.liveStates.filter((state) => state !== 'Live')")).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('when the customer signs out, then the sign-in\'s refresh tokens are revoked and no token is left in the page\'s storage', { timeout: 60_000 }, async () => {
    const leaving = await registerUser(shop.app, 'leaving');
    const before = new Set((await tokenRows(leaving.id)).map((row) => row.id));
    const page = await (await shop.console.browser.newContext()).newPage();
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, leaving);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    const stored = await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage), document.cookie, location.href])');
    expect(stored).not.toMatch(/ey[A-Za-z0-9_-]{10,}\./);
    expect(JSON.parse(stored as string).slice(0, 3)).toEqual([[], [], '']);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor(WAIT);
    const ofThisSignIn = async () => (await tokenRows(leaving.id)).filter((row) => !before.has(row.id));
    expect(await ofThisSignIn()).toHaveLength(1);
    await expect.poll(async () => (await ofThisSignIn()).every((row) => row.revoked), WAIT).toBe(true);
  });
});

describe('order history in a real browser (processing off, so orders stay pending)', () => {
  const shop = useConsoleApp({ storage: 'postgres' });

  it('a customer pages through the order history with the cursor and cancels a pending order', { timeout: 60_000 }, async () => {
    const shopper = await registerUser(shop.app, 'history');
    const product = await createProduct(shop.app, await registerAdmin(shop.app), { stock: 100 });
    for (let index = 0; index < 22; index++) {
      const placed = await shop.app.http.post('/api/orders').set(bearer(shopper)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(placed.status).toBe(201);
    }
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console#/orders`);
    await signIn(page, shopper);
    const rows = page.locator('tr[data-order-id]');
    await expect.poll(() => rows.count(), WAIT).toBe(20);
    await page.getByRole('button', { name: 'Older orders' }).click();
    await expect.poll(() => rows.count(), WAIT).toBe(22);
    await expect.poll(() => page.getByRole('button', { name: 'Older orders' }).count(), WAIT).toBe(0);

    const newest = rows.first();
    const orderId = await newest.getAttribute('data-order-id');
    await newest.getByRole('button', { name: /^Cancel order/ }).click();
    await newest.locator('[data-status="cancelled"]').waitFor(WAIT);
    expect((await shop.app.http.get(`/api/orders/${orderId}`).set(bearer(shopper))).body.status).toBe('cancelled');
    expect(problems).toEqual([]);
  });

  it('when a customer double-clicks Cancel order, then one cancel is sent and no error shows', { timeout: 60_000 }, async () => {
    const shopper = await registerUser(shop.app, 'canceller');
    const product = await createProduct(shop.app, await registerAdmin(shop.app), { stock: 5 });
    const placed = await shop.app.http.post('/api/orders').set(bearer(shopper)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const page = await (await shop.console.browser.newContext()).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console#/orders/${placed.body.id as string}`);
    await signIn(page, shopper);
    let cancels = 0;
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/cancel')) cancels++;
    });
    // The first cancel's answer waits until the second click has happened.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/cancel$/, async (route) => {
      const response = await route.fetch();
      await released;
      await route.fulfill({ response });
    }, { times: 1 });
    await page.getByRole('button', { name: 'Cancel order' }).dblclick();
    release();
    await page.locator('.big-status [data-status="cancelled"]').waitFor(WAIT);
    expect(cancels).toBe(1);
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('when a customer changes the password from the user menu, then a wrong current password is said beside the form, and the right one changes it while the page stays signed in', { timeout: 60_000 }, async () => {
    const customer = await registerUser(shop.app, 'owner');
    const page = await (await shop.console.browser.newContext()).newPage();
    // The wrong current password is refused with a 401 on purpose.
    const problems = watchProblems(page, shop.console.baseUrl, { allowStatuses: [401] });
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, customer);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);

    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { name: 'Change password' }).waitFor(WAIT);
    const form = page.locator('form');
    const fill = async (current: string, next: string, again = next) => {
      await form.getByLabel('Current password').fill(current);
      await form.getByLabel('New password', { exact: true }).fill(next);
      await form.getByLabel('New password again').fill(again);
      await form.getByRole('button', { name: 'Change password' }).click();
    };

    // Told apart before sending: the two new passwords differ.
    await fill(customer.password, 'the new password', 'a different one');
    await page.getByText('does not match the new password').waitFor(WAIT);

    // A wrong current password: said on the page, and the user is still signed in (the 401 was not about the token).
    await fill('not my password', 'the new password');
    await page.getByText('The current password is incorrect').waitFor(WAIT);
    expect(await page.getByText('Your session has ended').count()).toBe(0);

    await fill(customer.password, 'the new password');
    await page.getByRole('status').filter({ hasText: 'Your password has been changed' }).waitFor(WAIT);

    // Every other session is signed out; this page goes on with the tokens the change answered.
    expect((await shop.app.http.post('/api/auth/refresh').send({ refreshToken: customer.refreshToken })).body.code).toBe('INVALID_REFRESH_TOKEN');
    expect((await shop.app.http.post('/api/auth/login').send({ email: customer.email, password: 'the new password' })).status).toBe(200);
    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByText('No orders yet.').waitFor(WAIT);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the order console' }).waitFor(WAIT);
    await signIn(page, { email: customer.email, password: 'the new password' });
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    expect(problems).toEqual([]);
  });
});
