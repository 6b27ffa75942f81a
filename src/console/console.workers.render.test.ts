import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, useConsoleApp, WAIT, watchProblems } from '../../test/console-browser.js';
import { capturingLogger } from '../../test/logs.js';
import { registerAdmin } from '../../test/users.js';
import { startBullMqWorker } from '../platform/queue/index.js';

/** The pipeline page over the Redis queue: how many workers are connected and how many fetch jobs. */
describe('the console pipeline page in server mode, in a real browser', () => {
  // The app's own BullMQ worker leads the pool; a second one waits on standby.
  const shop = useConsoleApp({ storage: 'postgres', redis: true, processing: true, worker: true });
  let standby: ReturnType<typeof startBullMqWorker>;
  beforeAll(() => {
    standby = startBullMqWorker({
      redis: shop.app.config.redis.target!,
      prefix: shop.app.config.redis.prefix,
      handlers: shop.app.handlers,
      concurrency: 5,
      backoff: { baseMs: 100, maxMs: 1000 },
      lockDurationMs: 5000,
      pool: { redis: shop.app.redis!, waiting: () => shop.app.queue.waiting() },
      logger: capturingLogger().logger,
    });
  });
  afterAll(async () => {
    await standby?.close();
  });

  it('says how many workers are connected, how many fetch jobs and how many wait on standby', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(shop.app);
    const page = await (await shop.console.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const problems = watchProblems(page, shop.console.baseUrl);
    await page.goto(`${shop.console.baseUrl}/console`);
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Pipeline' }).click();
    // The page refreshes itself; the standby's connection may take a moment to show.
    await expect
      .poll(() => page.locator('.queue-workers').textContent(), WAIT)
      .toBe('2 workers connected: 1 fetching jobs, 1 on standby (they join when the active ones fall short). ');
    expect(problems).toEqual([]);
  });
});
