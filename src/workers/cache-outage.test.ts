import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { startTestApp, waitUntilReady, type TestApp } from '../../test/harness.js';
import { freePort, startRedisServer, startTcpProxy, waitUntil, type TcpProxy } from '../../test/processes.js';
import { bearer, registerAdmin, registerUser } from '../../test/users.js';
import type { ChildProcess } from 'node:child_process';
import type { Queue } from 'bullmq';

describe('order cache across a Redis stall', () => {
  let redisServer: ChildProcess;
  let proxy: TcpProxy;
  let app: TestApp;

  beforeAll(async () => {
    const port = await freePort();
    redisServer = await startRedisServer(port);
    // The app reaches Redis through a proxy the test can cut: Redis stays up and keeps its data.
    proxy = await startTcpProxy(port);
    app = await startTestApp({ storage: 'postgres', redis: `redis://127.0.0.1:${proxy.port}`, processing: true });
    if (app.redis) await waitUntilReady(app.redis);
  });
  afterAll(async () => {
    await app.close();
    await proxy.close();
    redisServer.kill('SIGKILL');
  });

  it('when a cancellation cannot reach Redis, then the stale cached copy is replaced once Redis answers again', async () => {
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app);
    const product = await createProduct(app, admin, { stock: 5 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    expect(placed.status).toBe(201);
    await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer)).expect(200);
    const warm = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
    expect(warm.headers['x-cache']).toBe('HIT');

    // No consumer runs yet, so the order stays pending; drop its processing job so that only
    // the cancellation's own follow-up can touch the cache later.
    const queue = (app.queue as unknown as { queue: Queue }).queue;
    await waitUntil(async () => (await queue.getJob(`process-order-${placed.body.id}`)) !== undefined, 10_000, 'the processing job');
    await queue.remove(`process-order-${placed.body.id}`);

    await proxy.cut();
    const cancelled = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(buyer));
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await proxy.restore();
    await waitUntilReady(app.redis!);

    // Redis still holds the copy from before the cancellation...
    const stale = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
    expect(stale.headers['x-cache']).toBe('HIT');
    expect(stale.body.status).toBe('pending');
    // ...until the cancellation's outbox event is published and its follow-up job runs.
    const consumer = app.startConsumer();
    try {
      await waitUntil(
        async () => {
          const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
          return res.headers['x-cache'] === 'HIT' && res.body.status === 'cancelled';
        },
        15_000,
        'the cached copy to show the cancellation',
      );
    } finally {
      await consumer.close();
    }
  });
});
