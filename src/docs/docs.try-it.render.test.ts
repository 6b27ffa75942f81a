import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type TestBrowser } from '../../test/browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerUser, type TestUser } from '../../test/users.js';
import { seedDemoCatalog } from '../modules/catalog/index.js';
import { openApiDocument } from './openapi.js';

/** "Try it out" in the API docs, as a first-time user does it, on a freshly seeded catalog. */
describe('the API docs, tried out', () => {
  let app: TestApp;
  let buyer: TestUser;
  let browser: TestBrowser | undefined;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    await seedDemoCatalog(app.db, app.config.currency);
    buyer = await registerUser(app, 'docs');
  });
  afterAll(async () => {
    await browser?.close();
    await app.close();
  });

  it('when the documented examples are sent as they are, then they succeed: the product exists and the order is placed', async () => {
    const document = openApiDocument() as unknown as {
      components: { schemas: Record<string, { example?: unknown }> };
      paths: Record<string, { get?: { parameters?: { name: string; schema: { example?: string } }[] } }>;
    };
    const productId = document.paths['/api/products/{id}']?.get?.parameters?.find((p) => p.name === 'id')?.schema.example;
    expect((await app.http.get(`/api/products/${productId}`)).status).toBe(200);
    const order = await app.http.post('/api/orders').set('Authorization', `Bearer ${buyer.accessToken}`).send(document.components.schemas.PlaceOrderRequest!.example as object);
    expect(order.status).toBe(201);
  });

  it('when someone signs in through "Try it out", then the UI is authorized with the returned token', { timeout: 60_000 }, async () => {
    browser = await openBrowser();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(`${app.baseUrl}/docs/#/Auth/login`);
    const operation = page.locator('#operations-Auth-login');
    await operation.locator('.try-out__btn').click({ timeout: 20_000 });
    await operation.locator('textarea.body-param__text').fill(JSON.stringify({ email: buyer.email, password: buyer.password }));
    await operation.locator('button.execute').click();
    await operation.locator('.live-responses-table tr.response td.response-col_status').first().waitFor({ timeout: 20_000 });
    expect((await operation.locator('.live-responses-table tr.response td.response-col_status').first().innerText()).trim()).toBe('200');

    const authorized = await page.evaluate(() => {
      const ui = (globalThis as unknown as { ui: { authSelectors: { authorized(): { toJS(): Record<string, { value?: string }> } } } }).ui;
      return ui.authSelectors.authorized().toJS();
    });
    expect(authorized.bearerAuth?.value).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(pageErrors).toEqual([]);
  });
});
