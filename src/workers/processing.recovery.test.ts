import { describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../test/catalog.js';
import { startTestApp } from '../../test/harness.js';
import { freePort, startRedisServer, waitUntil, type ChildService } from '../../test/processes.js';
import {
  DEFAULTS,
  emailsPerOrder,
  expectConserved,
  placeOrders,
  startStack,
  startWorker,
  stacksPerCase,
  waitForSettled,
  waitForStatus,
  type Stack,
} from '../../test/processing-stack.js';
import { bearer } from '../../test/users.js';

// Crash recovery with the default settings: a worker killed with SIGKILL, an API instance that
// cannot reach Redis, Redis itself going away. Each case starts worker processes.
describe('processing recovers from crashes and outages (server mode)', { timeout: 90_000 }, () => {
  const mail = stacksPerCase();

  /** Starts a worker that takes 30 jobs at once and never finishes a payment, and waits until it holds all 30. */
  async function workerHolding30(current: Stack, productId: string): Promise<{ doomed: ChildService; ids: string[] }> {
    const doomed = await startWorker({ ...current.workerEnv, WORKER_CONCURRENCY: '30', PAYMENT_SIMULATOR_LATENCY_MS: '60000' });
    const ids = await placeOrders(current, productId, 30);
    await waitForStatus(current.app, ids, 'processing', 30_000);
    return { doomed, ids };
  }

  async function expectEachCompletedOnceWithOneEmail(current: Stack, ids: string[], productId: string, stock: number): Promise<void> {
    await waitForSettled(current.app, ids);
    expect(emailsPerOrder(mail.smtp, ids)).toEqual(ids.map(() => 1));
    expect(await stockOf(current.app, productId)).toEqual({ onHand: stock - ids.length, reserved: 0 });
    const { rows } = await current.app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE product_id = $1 AND kind = 'sale'", [productId]);
    expect(rows[0]?.n).toBe(ids.length);
    const { rows: histories } = await current.app.db.query<{ history: { status: string }[] }>('SELECT history FROM orders WHERE id = ANY($1::uuid[])', [ids]);
    for (const row of histories) expect(row.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
    await expectConserved(current.app);
  }

  it('when a worker holding 30 jobs is killed with SIGKILL, then with default settings a replacement finishes all 30 within 15 s of starting, once each', async () => {
    const stack = await startStack({ smtp: mail.smtp, defaults: true });
    const product = await createProduct(stack.app, stack.admin, { stock: 100 });
    const { doomed, ids } = await workerHolding30(stack, product.id);

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await startWorker(stack.workerEnv);
    await waitForStatus(stack.app, ids, 'completed', 15_000);
    await expectEachCompletedOnceWithOneEmail(stack, ids, product.id, 100);
    // Starting worker processes takes most of the time on a busy machine; the bound that
    // matters is the 15 s above.
  }, 120_000);

  it('when a worker holding 30 jobs is killed with SIGKILL, then with default settings another running worker finishes all 30 within 15 s, once each', async () => {
    const stack = await startStack({ smtp: mail.smtp, defaults: true });
    const product = await createProduct(stack.app, stack.admin, { stock: 100 });
    const { doomed, ids } = await workerHolding30(stack, product.id);
    await startWorker(stack.workerEnv);

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await waitForStatus(stack.app, ids, 'completed', 15_000);
    await expectEachCompletedOnceWithOneEmail(stack, ids, product.id, 100);
    // Starting worker processes takes most of the time on a busy machine; the bound that
    // matters is the 15 s above.
  }, 120_000);

  it('when an API instance sharing the database cannot reach Redis, then orders placed through either complete within 2 s, woken by commits, and it says once which Redis it cannot reach', async () => {
    // A sweep far too slow to matter: only a commit's NOTIFY can wake the relays in time.
    const slowSweep = { OUTBOX_POLL_MS: '600000' };
    const stack = await startStack({ smtp: mail.smtp, defaults: true, env: slowSweep });
    const deadPort = await freePort();
    const broken = await startTestApp({
      storage: 'postgres',
      database: stack.database,
      redis: `redis://127.0.0.1:${deadPort}`,
      processing: true,
      captureLogs: true,
      env: { ...DEFAULTS, ...slowSweep, SMTP_URL: mail.smtp.url },
    });
    try {
      await startWorker(stack.workerEnv);
      const product = await createProduct(stack.app, stack.admin, { stock: 50 });
      // Through the broken instance too: its relay cannot publish, so it hands its events over.
      const viaBroken = await placeOrders({ ...stack, app: broken }, product.id, 5);
      const ids = [...viaBroken, ...(await placeOrders(stack, product.id, 10))];
      await waitForStatus(stack.app, ids, 'completed', 20_000);
      // From the orders' own history: placed → completed, each within 2 s.
      const { rows } = await stack.app.db.query<{ ms: number }>(
        `SELECT extract(epoch FROM ((history -> -1 ->> 'at')::timestamptz - (history -> 0 ->> 'at')::timestamptz)) * 1000 AS ms
         FROM orders WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      for (const row of rows) expect(Number(row.ms)).toBeLessThan(2000);
      await waitForSettled(stack.app, ids);
      expect(emailsPerOrder(mail.smtp, ids)).toEqual(ids.map(() => 1));
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 35, reserved: 0 });
      const outage = broken.logs.filter((line) => String(line.message).includes(`Redis at 127.0.0.1:${deadPort} is unreachable`));
      expect(outage).toHaveLength(1);
    } finally {
      await broken.close();
    }
  }, 60_000);

  it('keeps accepting orders fast into the outbox, reports not ready, and completes every accepted order after Redis returns', async () => {
    const port = await freePort();
    let redis = await startRedisServer(port);
    const stack = await startStack({ smtp: mail.smtp, redisUrl: `redis://127.0.0.1:${port}` });
    try {
      await startWorker(stack.workerEnv);
      const product = await createProduct(stack.app, stack.admin, { stock: 50 });
      const before = await placeOrders(stack, product.id, 3);
      await waitForStatus(stack.app, before, 'completed', 20_000);

      redis.kill('SIGKILL');
      await new Promise((r) => redis.once('exit', r));

      const started = Date.now();
      const during = await placeOrders(stack, product.id, 10);
      expect(Date.now() - started).toBeLessThan(10 * 1000);
      const ready = await stack.app.http.get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.detail).toMatch(/redis/);
      const read = await stack.app.http.get(`/api/orders/${during[0]}`).set(bearer(stack.buyer));
      expect(read.status).toBe(200);
      expect(read.body.status).toBe('pending');

      // A fresh, empty Redis on the same port: like a restart that lost everything queued.
      redis = await startRedisServer(port);
      await waitForStatus(stack.app, [...before, ...during], 'completed', 60_000);
      await waitUntil(async () => (await stack.app.http.get('/health/ready')).status === 200, 10_000, 'ready again');
      await waitForSettled(stack.app, [...before, ...during]);
      expect(emailsPerOrder(mail.smtp, [...before, ...during])).toEqual(Array.from({ length: 13 }, () => 1));
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 37, reserved: 0 });
    } finally {
      redis.kill('SIGKILL');
    }
  });
});
