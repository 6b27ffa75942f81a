import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { createTestDatabase, seedEmbeddedDataDir, testRedisPrefix, waitUntilReady, type TestApp } from '../../test/harness.js';
import { freePort, spawnService, startRedisServer, waitUntil } from '../../test/processes.js';
import { placeOrders, startStack, startWorker, statuses, stopAll } from '../../test/processing-stack.js';
import { startSmtp } from '../../test/smtp.js';
import { createRedis, queuePrefix } from '../platform/redis.js';

/** Outbox rows of these orders not yet published to the queue. */
async function unpublishedEvents(app: TestApp, ids: string[]): Promise<number> {
  const { rows } = await app.db.query<{ count: number }>('SELECT count(*)::int AS count FROM outbox_events WHERE aggregate_id = ANY($1::uuid[]) AND published_at IS NULL', [ids]);
  return rows[0]!.count;
}

describe('worker process lifecycle', () => {
  it('on SIGTERM stops taking jobs, finishes the active ones and exits 0', async () => {
    const smtp = await startSmtp();
    const stack = await startStack({ smtp, env: { PAYMENT_SIMULATOR_LATENCY_MS: '2500' } });
    try {
      const product = await createProduct(stack.app, stack.admin, { stock: 50 });
      const worker = await startWorker({ ...stack.workerEnv, WORKER_CONCURRENCY: '2' });
      const ids = await placeOrders(stack, product.id, 2);
      await waitUntil(async () => [...(await statuses(stack.app, ids)).values()].includes('processing'), 15_000, 'a job in flight');
      worker.child.kill('SIGTERM');
      // Once it has begun shutting down. Before that a job published meanwhile may still be taken: on
      // a loaded machine the signal can wait behind a queue reply that started a fetch (seen once in
      // a full CI run), and no process can refuse work before it knows of its signal.
      await waitUntil(() => /worker shutting down/.test(worker.output()), 10_000, 'the worker to begin shutting down');
      // Orders queued while it finishes its active ones (a payment takes 2.5 s). Which of the first
      // orders were started depends on how the relay batched them into jobs; these never are.
      const late = await placeOrders(stack, product.id, 3);
      await waitUntil(async () => (await unpublishedEvents(stack.app, late)) === 0, 15_000, 'the late orders queued');
      expect(worker.child.exitCode).toBeNull();
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toMatch(/worker stopped/);
      const after = [...(await statuses(stack.app, ids)).values()];
      // Whatever it had started it finished; it took nothing new after the signal.
      expect(after).not.toContain('processing');
      expect(after.filter((s) => s === 'completed').length).toBeGreaterThan(0);
      expect([...(await statuses(stack.app, late)).values()]).toEqual(['pending', 'pending', 'pending']);
    } finally {
      await stopAll();
      await smtp.stop();
    }
  });

  it('warns loudly when Redis may evict keys (maxmemory-policy is not noeviction)', async () => {
    const port = await freePort();
    const redis = await startRedisServer(port, ['--maxmemory-policy', 'allkeys-lru']);
    const database = await createTestDatabase('postgres');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-worker-'));
    try {
      const worker = await startWorker({
        DATABASE_URL: database.url!,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
      });
      // Checked once Redis has answered, which may be just after the worker says it started.
      await waitUntil(() => /maxmemory-policy is allkeys-lru; it must be noeviction/.test(worker.output()), 10_000, 'the eviction-policy warning');
    } finally {
      await stopAll();
      redis.kill('SIGKILL');
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('when Redis is down at start-up, then the worker starts at once, alive but not ready (naming redis), and checks the eviction policy once Redis answers', async () => {
    const redisPort = await freePort();
    const metricsPort = await freePort();
    const database = await createTestDatabase('postgres');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-worker-'));
    let redis: ChildProcess | undefined;
    try {
      const worker = await startWorker({
        DATABASE_URL: database.url!,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        DATA_DIR: dataDir,
        WORKER_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'info',
      });
      // From the worker's own log: it started soon after finding Redis down (reading the event
      // positions mark gives up after 1 s), not after a 5 s wait on the eviction-policy check.
      const lines = worker.output().split('\n').filter((line) => line.startsWith('{') && line.endsWith('}')).map((line) => JSON.parse(line) as { message: string; timestamp: string });
      const at = (pattern: RegExp) => Date.parse(lines.find((line) => pattern.test(line.message))!.timestamp);
      expect(at(/^worker started/) - at(/is unreachable/)).toBeLessThan(4000);
      const base = `http://127.0.0.1:${metricsPort}`;
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ code: 'NOT_READY', errors: [{ dependency: 'redis' }] });

      redis = await startRedisServer(redisPort, ['--maxmemory-policy', 'allkeys-lru']);
      await waitUntil(() => /maxmemory-policy is allkeys-lru; it must be noeviction/.test(worker.output()), 15_000, 'the eviction-policy warning once Redis answers');
      await waitUntil(async () => (await fetch(`${base}/health/ready`)).status === 200, 15_000, 'the worker ready');
    } finally {
      await stopAll();
      redis?.kill('SIGKILL');
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('with an embedded database and Redis, the API consumes its own queue (no worker can open its data)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-embedded-redis-'));
    seedEmbeddedDataDir(dataDir);
    const port = await freePort();
    const prefix = testRedisPrefix();
    const api = await spawnService(
      'src/server.ts',
      { PORT: String(port), DATA_DIR: dataDir, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: prefix, ADMIN_EMAIL: 'boss@example.com', ADMIN_PASSWORD: 'boss-password', OUTBOX_POLL_MS: '100', LOG_LEVEL: 'info' },
      /listening on/,
      60_000,
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      const call = async (method: string, route: string, body?: unknown, token?: string) => {
        const res = await fetch(`${base}${route}`, {
          method,
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const boss = await call('POST', '/api/auth/login', { email: 'boss@example.com', password: 'boss-password' });
      const product = await call('POST', '/api/products', { sku: 'EMB-1', name: 'Embedded', priceCents: 100, stock: 3 }, boss.body.accessToken as string);
      expect(product.status).toBe(201);
      const order = await call('POST', '/api/orders', { items: [{ productId: product.body.id, quantity: 1 }] }, boss.body.accessToken as string);
      expect(order.status).toBe(201);
      await waitUntil(
        async () => (await call('GET', `/api/orders/${order.body.id as string}`, undefined, boss.body.accessToken as string)).body.status === 'completed',
        20_000,
        'the order to complete',
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${api.output()}`);
      });
      api.child.kill('SIGTERM');
      expect(await api.exited).toBe(0);
    } finally {
      api.child.kill('SIGKILL');
      await api.exited;
      rmSync(dataDir, { recursive: true, force: true });
      const redis = createRedis('redis://127.0.0.1:6379', 'request');
      await waitUntilReady(redis);
      const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`${queuePrefix(prefix)}:*`))];
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }, 120_000);

  it('refuses to start without Redis, with one clear line', async () => {
    await expect(spawnService('src/worker.ts', { LOG_LEVEL: 'info' }, /worker started/, 15_000)).rejects.toThrow(/needs REDIS_URL/);
  });
});
