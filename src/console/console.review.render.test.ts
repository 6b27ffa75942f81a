import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, startConsole, WAIT, watchProblems, type ConsoleServer } from '../../test/console-browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerUser, type TestUser } from '../../test/users.js';

/** The payment simulator declines orders above this. */
const DECLINE_ABOVE_CENTS = 50_000;

/** Cases found reviewing the console. */
describe('the console under races, odd links and double clicks, in a real browser', () => {
  let app: TestApp;
  let consoleServer: ConsoleServer;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', processing: true, env: { PAYMENT_DECLINE_ABOVE_CENTS: String(DECLINE_ABOVE_CENTS) } });
    consoleServer = await startConsole(app);
  }, 120_000);
  afterAll(async () => {
    await consoleServer?.close();
    await app?.close();
  });

  async function signedInPage(user: TestUser, hash = '', options: { allowStatuses?: number[] } = {}): Promise<{ page: Page; problems: string[] }> {
    const page = await (await consoleServer.browser.newContext()).newPage();
    const problems = watchProblems(page, consoleServer.baseUrl, options);
    await page.goto(`${consoleServer.baseUrl}/console${hash}`);
    await signIn(page, user);
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return { page, problems };
  }

  it('when a link to an order has a broken percent escape, then the order page says it was not found (the page did not go blank)', { timeout: 60_000 }, async () => {
    const customer = await registerUser(app, 'oddlink');
    const { page, problems } = await signedInPage(customer, '', { allowStatuses: [404] });
    await page.evaluate(`location.hash = '#/orders/%E0%A4%A'`);
    await page.getByRole('heading', { name: /^Order / }).waitFor(WAIT);
    await page.getByRole('alert').waitFor(WAIT);
    expect(problems).toEqual([]);
  });
});
