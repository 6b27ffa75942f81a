import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn, startConsole, WAIT, watchProblems, type ConsoleServer } from '../../test/console-browser.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { capturingLogger } from '../../test/logs.js';
import { registerAdmin } from '../../test/users.js';
import { startBullMqWorker } from '../platform/queue/index.js';

/** The pipeline page over the Redis queue: how many workers are connected and how many fetch jobs. */
describe('the console pipeline page in server mode, in a real browser', () => {
  let app: TestApp;
  let consoleServer: ConsoleServer;
  let standby: ReturnType<typeof startBullMqWorker>;

  beforeAll(async () => {
    // The app's own BullMQ worker leads the pool; a second one waits on standby.
    app = await startTestApp({ storage: 'postgres', redis: true, processing: true, worker: true });
    standby = startBullMqWorker({
      redis: app.config.redis.target!,
      prefix: app.config.redis.prefix,
      handlers: app.handlers,
      concurrency: 5,
      backoff: { baseMs: 100, maxMs: 1000 },
      lockDurationMs: 5000,
      pool: { redis: app.redis!, waiting: () => app.queue.waiting() },
      logger: capturingLogger().logger,
    });
    consoleServer = await startConsole(app);
  }, 120_000);
  afterAll(async () => {
    await standby?.close();
    await consoleServer?.close();
    await app?.close();
  });

  it('says how many workers are connected, how many fetch jobs and how many wait on standby', { timeout: 60_000 }, async () => {
    const admin = await registerAdmin(app);
    const page = await (await consoleServer.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const problems = watchProblems(page, consoleServer.baseUrl);
    await page.goto(`${consoleServer.baseUrl}/console`);
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Pipeline' }).click();
    // The page refreshes itself; the standby's connection may take a moment to show.
    await expect
      .poll(() => page.locator('.queue-workers').textContent(), WAIT)
      .toBe('2 workers connected: 1 fetching jobs, 1 on standby (they join when the active ones fall short). ');
    expect(problems).toEqual([]);
  });
});
