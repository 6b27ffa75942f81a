import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { createOrderStreams } from '../modules/events/index.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';

/** A live page whose stream the server refuses for good (an admin demoted while watching): it says why, and stops asking. */
describe('the console when the server refuses a live stream for good, in a real browser', () => {
  const shop = useConsoleApp(
    { storage: 'postgres' },
    {
      // Admin rights are checked every 200 ms instead of 15 s, so a demotion ends a stream at once.
      overrides: (app) => ({ orderStreams: createOrderStreams({ db: app.db, hub: app.eventHub, roleOf: app.deps.auth.currentRole, adminRecheckMs: 200 }) }),
    },
  );

  /** The page's timers are the test's: minutes of retries and polls can pass at once. */
  async function signedInPage(user: TestUser, hash: string): Promise<{ page: Page; problems: string[]; requests: () => number }> {
    const page = await (await shop.console.browser.newContext()).newPage();
    await page.clock.install();
    const problems = watchProblems(page, shop.console.baseUrl);
    let requests = 0;
    page.on('request', (request) => {
      if (request.url().includes('/api/orders')) requests++;
    });
    await page.goto(`${shop.console.baseUrl}/console${hash}`);
    await signIn(page, user);
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return { page, problems, requests: () => requests };
  }

  /** Every request the page sent before now has been seen by the test (they go out in order). */
  const settled = (page: Page) => page.evaluate("fetch('/health/live').then((res) => res.status)");

  async function expectNoMoreAsking(page: Page, requests: () => number): Promise<void> {
    await settled(page);
    const asked = requests();
    await page.clock.fastForward(60_000);
    await settled(page);
    expect(requests()).toBe(asked);
  }

  it('when an admin watching every order is demoted, then the page says the admin rights ended, offers only a customer’s pages and stops asking (it kept retrying, showing Reconnecting)', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const { page, problems, requests } = await signedInPage(admin, '#/admin/orders');
    await page.locator('header .live-live').waitFor(WAIT);

    await shop.app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [admin.id]);
    await page.getByRole('alert').filter({ hasText: 'Your admin rights have ended' }).waitFor(WAIT);
    // The header and the menu follow the rights the server now gives: no admin pages offered.
    await expect.poll(() => page.locator('header .user').textContent(), WAIT).toContain('(customer)');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Pipeline' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'My orders' }).count()).toBe(1);

    await expectNoMoreAsking(page, requests);
    // A poll of the list while the stream was reconnecting may have been refused as well, on a slow machine.
    expect(problems).toContain(`answered 403: GET ${shop.console.baseUrl}/api/orders/events?scope=all`);
    expect(problems.filter((problem) => !problem.startsWith(`answered 403: GET ${shop.console.baseUrl}/api/orders`))).toEqual([]);
  });

  it('when an admin watching a customer\'s order is demoted, then its stream is refused with 404: the banner says live updates stopped and why, the header shows a customer, Cancel order is no longer offered, and the page stops asking', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const product = await createProduct(shop.app, admin, { stock: 5 });
    const shopper = await registerUser(shop.app, 'watched');
    const placed = await shop.app.http.post('/api/orders').set(bearer(shopper)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const orderId = placed.body.id as string;
    const { page, problems, requests } = await signedInPage(admin, `#/orders/${orderId}`);
    await page.locator('header .live-live').waitFor(WAIT);
    await page.getByRole('button', { name: 'Cancel order' }).waitFor(WAIT);

    await shop.app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [admin.id]);
    const banner = page.getByRole('alert').filter({ hasText: 'Live updates stopped' });
    await banner.waitFor(WAIT);
    expect(await banner.textContent()).toBe('Live updates stopped: admin rights ended; this stream needs them (No such order).');
    expect(await page.locator('header .live').textContent()).toBe('Not live');
    // The order as last read stays on screen, no longer said to be updating.
    await page.locator('.big-status [data-status="pending"]').waitFor(WAIT);
    expect(await page.locator('.big-status').textContent()).not.toContain('updating live');
    // The 404 was the first refusal this admin met: the header follows the rights the server now gives.
    await page.getByRole('alert').filter({ hasText: 'Your admin rights have ended' }).waitFor(WAIT);
    await expect.poll(() => page.locator('header .user').textContent(), WAIT).toContain('(customer)');
    // The order is another customer's: a demoted admin may not cancel it (the button stayed, to be refused).
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);

    await expectNoMoreAsking(page, requests);
    expect(problems).toEqual([`answered 404: GET ${shop.console.baseUrl}/api/orders/${orderId}/events`]);
  });

  it('when an admin watching every order is demoted while the account cannot be read again, then the banner says live updates stopped and why (403), and the page stops asking', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const { page, problems, requests } = await signedInPage(admin, '#/admin/orders');
    await page.locator('header .live-live').waitFor(WAIT);
    // The re-read of the account that would switch the page to a customer's view meets a dropped connection.
    await page.route(/\/api\/auth\/me$/, (route) => route.abort('connectionreset'));

    await shop.app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [admin.id]);
    const banner = page.getByRole('alert').filter({ hasText: 'Live updates stopped' });
    await banner.waitFor(WAIT);
    expect(await banner.textContent()).toBe('Live updates stopped: admin rights ended; this stream needs them (Only admins can follow every order (scope=all)).');
    expect(await page.locator('header .live').textContent()).toBe('Not live');

    await expectNoMoreAsking(page, requests);
    // The dropped connection itself is the one other problem expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([`answered 403: GET ${shop.console.baseUrl}/api/orders/events?scope=all`]);
  });
});
