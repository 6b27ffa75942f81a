import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { holdAnswer, signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';
import { waitUntil } from '../../test/wait.js';

/** Nothing listens on the discard port: every delivery to it fails, and with one attempt allowed it is `failed` at once. */
const unreachable = (name: string) => `http://127.0.0.1:9/hooks/${name}-${Date.now()}`;

/** Cases found reviewing the console's admin pages: webhooks and their deliveries, products on a phone. */
describe('the console\'s webhook and product pages, in a real browser', () => {
  const shop = useConsoleApp({ storage: 'postgres', processing: true, env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_MAX_ATTEMPTS: '1', WEBHOOK_POLL_MS: '100' } });
  let admin: TestUser;
  beforeAll(async () => {
    admin = await registerAdmin(shop.app);
  }, 120_000);

  async function signedInPage(hash: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; problems: string[] }> {
    const page = await (await shop.console.browser.newContext({ viewport, isMobile: viewport.width < 760 })).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console${hash}`);
    await signIn(page, admin);
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return { page, problems };
  }

  const addWebhook = async (url: string): Promise<string> => {
    const res = await shop.app.http.post('/api/webhooks').set(bearer(admin)).send({ url, events: ['order.placed', 'order.processing', 'order.completed'] });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  /** An endpoint with `count` failed deliveries (three events an order), made through the API. */
  async function endpointWithFailedDeliveries(count: number): Promise<string> {
    const url = unreachable('failing');
    const id = await addWebhook(url);
    const product = await createProduct(shop.app, admin, { stock: 100 });
    const shopper = await registerUser(shop.app, 'webhooked');
    for (let placed = 0; placed * 3 < count; placed++) {
      const res = await shop.app.http.post('/api/orders').set(bearer(shopper)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(res.status).toBe(201);
    }
    await waitUntil(
      async () => {
        const res = await shop.app.http.get(`/api/webhooks/${id}/deliveries?status=failed&limit=100`).set(bearer(admin));
        return (res.body.items as unknown[]).length >= count;
      },
      20_000,
      `${count} failed deliveries to ${url}`,
      200,
    );
    return url;
  }

  /** Every answer the page had before now has been handled (a request of its own, sent after, has come back). */
  const settled = (page: Page) => page.evaluate("fetch('/health/live').then((res) => res.status)");

  it('when a webhook\'s deliveries are slow to load, then their section says they are loading (it stood empty)', { timeout: 90_000 }, async () => {
    const url = await endpointWithFailedDeliveries(3);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    const section = page.getByRole('region', { name: `Deliveries to ${url}` });
    const read = await holdAnswer(page, /\/deliveries\?limit=20$/);
    await page.locator('li', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click();
    await read.read;
    await section.getByRole('status').filter({ hasText: 'Loading deliveries…' }).waitFor(WAIT);
    read.release();
    await expect.poll(() => section.locator('tbody tr').count(), WAIT).toBe(3);
    expect(await section.getByText('Loading deliveries…').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('when the delivery filter changes while the unfiltered list (or its older page) is loading, then the late answer does not replace or join the filtered list', { timeout: 90_000 }, async () => {
    const url = await endpointWithFailedDeliveries(21);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    const section = page.getByRole('region', { name: `Deliveries to ${url}` });
    const rows = section.locator('tbody tr');

    /** Holds the answer to `url` that `ask` asks for, chooses pending deliveries meanwhile, then lets it come: the list stays pending's (none). */
    const filterWhileHeld = async (url: RegExp, ask: () => Promise<void>) => {
      const held = await holdAnswer(page, url);
      const answered = page.waitForResponse((response) => url.test(response.url()));
      await ask();
      await held.read;
      await section.getByLabel('Delivery status').selectOption('pending');
      await section.getByText('No deliveries.').waitFor(WAIT);
      held.release();
      await (await answered).finished();
      await settled(page);
      expect(await section.getByText('No deliveries.').isVisible()).toBe(true);
      expect(await rows.count()).toBe(0);
    };

    // The first read is slow: a filter chosen meanwhile wins.
    await filterWhileHeld(/\/deliveries\?limit=20$/, () => page.locator('li', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click());
    // Older deliveries of the unfiltered list arrive after the filter changed: they are not added to it.
    await section.getByLabel('Delivery status').selectOption('');
    await expect.poll(() => rows.count(), WAIT).toBe(20);
    await filterWhileHeld(/\/deliveries\?limit=20&cursor=/, () => section.getByRole('button', { name: 'Older deliveries' }).click());
    expect(await section.getByRole('button', { name: 'Older deliveries' }).count()).toBe(0);

    // Back to every delivery: the first page, then the older one, each once.
    await section.getByLabel('Delivery status').selectOption('failed');
    await expect.poll(() => rows.count(), WAIT).toBe(20);
    await section.getByRole('button', { name: 'Older deliveries' }).click();
    await expect.poll(() => rows.count(), WAIT).toBe(21);
    expect(problems).toEqual([]);
  });

  it('when a read of a webhook\'s deliveries failed, then its error goes as soon as another filter, an older page or Refresh asks again, and a first page says it is loading (the old error stayed, with no Loading, until the next answer)', { timeout: 90_000 }, async () => {
    const url = await endpointWithFailedDeliveries(21);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    const section = page.getByRole('region', { name: `Deliveries to ${url}` });
    const rows = section.locator('tbody tr');
    const unreachable = section.getByRole('alert').filter({ hasText: 'The server could not be reached' });
    const dropOnce = (request: RegExp) => page.route(request, (route) => route.abort('connectionreset'), { times: 1 });
    /** Asks again with `ask` and holds the answer: meanwhile the section shows no error. */
    const askAgainWhileHeld = async (request: RegExp, ask: () => Promise<void>) => {
      const held = await holdAnswer(page, request);
      await ask();
      await held.read;
      expect(await section.getByRole('alert').count()).toBe(0);
      return held;
    };

    await dropOnce(/\/deliveries\?limit=20$/);
    await page.locator('li', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click();
    await unreachable.waitFor(WAIT);
    // Another filter: the section says its list is loading, not the unfiltered list's error.
    const filtered = await askAgainWhileHeld(/\/deliveries\?limit=20&status=failed$/, () => section.getByLabel('Delivery status').selectOption('failed').then(() => undefined));
    expect(await section.getByRole('status').filter({ hasText: 'Loading deliveries…' }).isVisible()).toBe(true);
    filtered.release();
    await expect.poll(() => rows.count(), WAIT).toBe(20);

    // The older page fails, then is asked for again.
    await dropOnce(/\/deliveries\?limit=20&status=failed&cursor=/);
    await section.getByRole('button', { name: 'Older deliveries' }).click();
    await unreachable.waitFor(WAIT);
    const older = await askAgainWhileHeld(/\/deliveries\?limit=20&status=failed&cursor=/, () => section.getByRole('button', { name: 'Older deliveries' }).click());
    older.release();
    await expect.poll(() => rows.count(), WAIT).toBe(21);

    // Refresh fails, then is clicked again.
    await dropOnce(/\/deliveries\?limit=20&status=failed$/);
    await section.getByRole('button', { name: 'Refresh' }).click();
    await unreachable.waitFor(WAIT);
    const refreshed = await askAgainWhileHeld(/\/deliveries\?limit=20&status=failed$/, () => section.getByRole('button', { name: 'Refresh' }).click());
    refreshed.release();
    await expect.poll(() => rows.count(), WAIT).toBe(20);
    expect(await section.getByRole('alert').count()).toBe(0);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a webhook\'s action failed, then its error goes as the next action starts (it stayed on screen until one succeeded), and stays when a Delete is dismissed (nothing was tried)', { timeout: 60_000 }, async () => {
    const url = unreachable('acted');
    const id = await addWebhook(url);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    const card = page.locator('li', { hasText: url });
    const thisHook = new RegExp(`/api/webhooks/${id}$`);
    const unreachableAlert = page.getByRole('alert').filter({ hasText: 'The server could not be reached' });

    await page.route(thisHook, (route) => route.abort('connectionreset'), { times: 1 });
    await card.getByRole('button', { name: 'Disable' }).click();
    await unreachableAlert.waitFor(WAIT);
    // A dismissed Delete tried nothing: the error of the Disable that failed is still the latest.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await card.getByRole('button', { name: /^Delete/ }).click();
    await settled(page);
    expect(await unreachableAlert.isVisible()).toBe(true);

    // Disable again: while it is on its way, the earlier failure is not shown.
    const held = await holdAnswer(page, thisHook);
    await card.getByRole('button', { name: 'Disable' }).click();
    await held.read;
    expect(await page.getByRole('alert').count()).toBe(0);
    held.release();
    await card.getByText('Disabled', { exact: true }).waitFor(WAIT);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The dropped connection itself is the one problem expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  it('when a Redeliver fails, then its error goes as the next Redeliver starts, and one that fails after a newer read of the deliveries started is not shown over that read\'s list (it was, until the next answer)', { timeout: 90_000 }, async () => {
    const url = await endpointWithFailedDeliveries(3);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    const section = page.getByRole('region', { name: `Deliveries to ${url}` });
    const rows = section.locator('tbody tr');
    await page.locator('li', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click();
    await expect.poll(() => rows.count(), WAIT).toBe(3);
    const redeliver = () => rows.first().getByRole('button', { name: /^Redeliver / }).click();

    await page.route(/\/redeliver$/, (route) => route.abort('connectionreset'), { times: 1 });
    await redeliver();
    await section.getByRole('alert').filter({ hasText: 'The server could not be reached' }).waitFor(WAIT);
    // Redeliver again: while it is on its way, the earlier failure is not shown.
    const held = await holdAnswer(page, /\/redeliver$/, { drop: true });
    await redeliver();
    await held.read;
    expect(await section.getByRole('alert').count()).toBe(0);
    // Refresh reads the deliveries meanwhile; the Redeliver then fails: the fresh list stays, with no error over it.
    const refreshed = page.waitForResponse((response) => /\/deliveries\?limit=20$/.test(response.url()));
    await section.getByRole('button', { name: 'Refresh' }).click();
    await (await refreshed).finished();
    await settled(page);
    const dropped = page.waitForEvent('requestfailed', (request) => request.url().endsWith('/redeliver'));
    held.release();
    await dropped;
    await settled(page);
    expect(await section.getByRole('alert').count()).toBe(0);
    expect(await rows.count()).toBe(3);
    // The dropped connections themselves are the only problems expected.
    expect(problems.filter((problem) => !problem.includes('ERR_CONNECTION_RESET'))).toEqual([]);
  });

  /** The URL of the endpoint whose card holds what has focus, or the focused element's text. */
  const focused = (page: Page) => page.evaluate("document.activeElement?.closest('li')?.querySelector('strong')?.textContent ?? document.activeElement?.textContent ?? 'nothing'");

  it('when a keyboard user deletes a webhook, then focus moves to the next endpoint\'s Delete (or the page heading once none is left), and the deletion is announced (it fell to <body>)', { timeout: 60_000 }, async () => {
    const [first, second] = [unreachable('first'), unreachable('second')];
    await addWebhook(first);
    await addWebhook(second);
    const { page, problems } = await signedInPage('#/admin/webhooks');
    page.on('dialog', (dialog) => void dialog.accept());
    const cards = page.locator('main li', { hasText: /\/hooks\// });
    await cards.first().waitFor(WAIT);
    const urls = await cards.locator('strong').allInnerTexts();
    expect(urls).toEqual(expect.arrayContaining([first, second]));
    const deleteTo = async (url: string) => {
      await page.locator('li', { hasText: url }).getByRole('button', { name: /^Delete/ }).focus();
      await page.keyboard.press('Enter');
      await page.locator('li', { hasText: url }).waitFor({ state: 'detached', ...WAIT });
      await page.getByRole('status').filter({ hasText: `Webhook to ${url} deleted.` }).waitFor({ state: 'attached', ...WAIT });
    };

    await deleteTo(urls[0]!);
    await expect.poll(() => focused(page), WAIT).toBe(urls[1]);
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe(`Delete the webhook to ${urls[1]}`);
    // The last endpoint of the list: focus goes to the one before it, and with none left to the heading.
    for (let at = urls.length - 1; at >= 1; at--) {
      await deleteTo(urls[at]!);
      await expect.poll(() => focused(page), WAIT).toBe(at > 1 ? urls[at - 1] : 'Webhooks');
    }
    await page.getByText('No webhooks yet.').waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when an admin manages products on a phone, then each product\'s stock, Restock and Edit are on screen without sideways scrolling (they were past the right edge of a scrolling table)', { timeout: 60_000 }, async () => {
    const name = 'Pocket Lamp With A Longer Name';
    const product = await createProduct(shop.app, admin, { stock: 7, name });
    const { page, problems } = await signedInPage('#/admin/products', { width: 390, height: 844 });
    const card = page.locator(`[data-sku="${product.sku}"]`);
    await card.waitFor(WAIT);
    const rightEdges = await Promise.all(
      [card.getByLabel(`Stock adjustment for ${name}`), card.getByRole('button', { name: `Apply stock adjustment to ${name}` }), card.getByRole('button', { name: `Edit ${name}` }), card.getByTestId('available')].map(
        async (control) => {
          const box = await control.boundingBox();
          return box ? box.x + box.width : Infinity;
        },
      ),
    );
    for (const edge of rightEdges) expect(edge).toBeLessThanOrEqual(390);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await page.evaluate("[...document.querySelectorAll('.table-wrap')].every((wrap) => wrap.scrollWidth <= wrap.clientWidth)")).toBe(true);
    // Restock still works there.
    await card.getByLabel(`Stock adjustment for ${name}`).fill('5');
    await card.getByRole('button', { name: `Apply stock adjustment to ${name}` }).click();
    await expect.poll(() => card.getByTestId('available').innerText(), WAIT).toBe('12');
    expect(problems).toEqual([]);
  });

  it('when an admin reads a webhook\'s deliveries on a phone, then each delivery\'s answer and Redeliver are on screen without sideways scrolling (they were past the right edge of a scrolling table)', { timeout: 90_000 }, async () => {
    const url = await endpointWithFailedDeliveries(3);
    const { page, problems } = await signedInPage('#/admin/webhooks', { width: 390, height: 844 });
    await page.locator('li', { hasText: url }).getByRole('button', { name: 'Deliveries' }).click();
    const section = page.getByRole('region', { name: `Deliveries to ${url}` });
    await expect.poll(() => section.locator('tbody tr').count(), WAIT).toBe(3);
    const row = section.locator('tbody tr').first();
    for (const control of [row.getByRole('button', { name: /^Redeliver / }), row.locator('td').nth(3)]) {
      const box = await control.boundingBox();
      expect(box && box.x + box.width).toBeLessThanOrEqual(390);
    }
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(await page.evaluate("[...document.querySelectorAll('.table-wrap')].every((wrap) => wrap.scrollWidth <= wrap.clientWidth)")).toBe(true);
    expect(problems).toEqual([]);
  });
});
