import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, startConsole, WAIT, watchProblems, type ConsoleServer } from '../../test/console-browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerUser, type TestUser } from '../../test/users.js';

/** Access tokens that live one second, so every step of the test runs on an expired one. */
describe('the console session in a real browser', () => {
  let app: TestApp;
  let consoleServer: ConsoleServer;
  let customer: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', env: { ACCESS_TOKEN_TTL_SECONDS: '1' } });
    consoleServer = await startConsole(app);
    customer = await registerUser(app, 'sessions');
  }, 120_000);
  afterAll(async () => {
    await consoleServer?.close();
    await app?.close();
  });

  const familyRows = () =>
    app.db.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM refresh_tokens WHERE user_id = $1', [customer.id]).then((r) => r.rows);

  it('when the access token expired, then one refresh keeps the customer signed in; when that fails, then the sign-in page says so', { timeout: 60_000 }, async () => {
    const page = await (await consoleServer.browser.newContext()).newPage();
    // The 401s here are the point of the test; anything else still counts.
    const problems = watchProblems(page, consoleServer.baseUrl, { allowStatuses: [401] });
    await page.goto(`${consoleServer.baseUrl}/console`);
    await signIn(page, customer);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    const signedInAt = Date.now();

    let refreshes = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/api/auth/refresh')) refreshes++;
    });
    await expect.poll(() => Date.now() - signedInAt > 1500, WAIT).toBe(true);
    await page.getByRole('link', { name: 'My orders' }).click();
    await page.getByText('No orders yet.').waitFor(WAIT);
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);

    // The sign-in's refresh tokens are revoked behind the page's back (as theft detection would).
    await app.db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1', [customer.id]);
    const revokedAt = Date.now();
    await expect.poll(() => Date.now() - revokedAt > 1500, WAIT).toBe(true);
    await page.getByRole('link', { name: 'Catalog' }).click();
    await page.getByText('Your session has ended. Please sign in again.').waitFor(WAIT);
    await page.getByRole('heading', { name: 'Sign in to the order console' }).waitFor(WAIT);
    expect(problems).toEqual([]);
  });

  it('when the customer signs out, then the sign-in\'s refresh tokens are revoked and no token is left in the page\'s storage', { timeout: 60_000 }, async () => {
    const page = await (await consoleServer.browser.newContext()).newPage();
    await page.goto(`${consoleServer.baseUrl}/console`);
    await signIn(page, customer);
    await page.getByRole('heading', { name: 'Catalog' }).waitFor(WAIT);
    const stored = await page.evaluate('JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage), document.cookie, location.href])');
    expect(stored).not.toMatch(/ey[A-Za-z0-9_-]{10,}\./);
    expect(JSON.parse(stored as string).slice(0, 3)).toEqual([[], [], '']);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor(WAIT);
    await expect.poll(async () => (await familyRows()).every((row) => row.revoked), WAIT).toBe(true);
  });
});
