import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../test/catalog.js';
import { createTestDatabase, startTestApp, waitUntilReady, type TestApp, type TestDatabase } from '../../test/harness.js';
import { freePort, spawnService, startRedisServer, waitUntil, type ChildService } from '../../test/processes.js';
import { startSmtp, type TestSmtp } from '../../test/smtp.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';
import { auditStock } from '../modules/catalog/index.js';
import { processOrderJob } from '../modules/orders/index.js';
import { createBullMqQueue } from '../platform/queue/index.js';
import { createRedis, queuePrefix } from '../platform/redis.js';

/**
 * Settings that make retries and reconciliation happen within a test's patience. Crash
 * recovery and the relay's wake-up are tested with the defaults (`defaults: true`).
 */
const FAST = {
  JOB_BACKOFF_BASE_MS: '100',
  JOB_BACKOFF_MAX_MS: '1000',
  RECONCILE_INTERVAL_MS: '1000',
  RECONCILE_AFTER_SECONDS: '2',
  EMAIL_CLAIM_LEASE_SECONDS: '3',
};

interface Stack {
  app: TestApp;
  admin: TestUser;
  buyer: TestUser;
  workerEnv: Record<string, string>;
}

const workers: ChildService[] = [];

async function startWorker(env: Record<string, string>): Promise<ChildService> {
  const worker = await spawnService('src/worker.ts', env, /worker started/);
  workers.push(worker);
  return worker;
}

async function stopWorkers(): Promise<void> {
  for (const worker of workers.splice(0)) {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
}

/** The production defaults for what this file tunes (the harness speeds some of them up). */
const DEFAULTS = { OUTBOX_POLL_MS: '1000', JOB_BACKOFF_BASE_MS: '1000', JOB_BACKOFF_MAX_MS: '60000' };

async function startStack(options: {
  database: TestDatabase;
  smtp: TestSmtp;
  redisUrl?: string;
  env?: Record<string, string>;
  defaults?: boolean;
}): Promise<Stack> {
  const env = { ...(options.defaults ? DEFAULTS : FAST), SMTP_URL: options.smtp.url, ...options.env };
  const app = await startTestApp({ storage: 'postgres', database: options.database, redis: options.redisUrl ?? true, processing: true, env });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-worker-'));
  const workerEnv = {
    ...env,
    DATABASE_URL: options.database.url!,
    REDIS_URL: app.config.redis.url!,
    REDIS_PREFIX: app.config.redis.prefix,
    DATA_DIR: dataDir,
    JWT_SECRET: 'worker-secret-that-is-long-enough-for-hs256-000000',
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '5',
    WORKER_METRICS_PORT: '0',
  };
  const [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer')]);
  return { app, admin, buyer, workerEnv };
}

async function placeOrders(stack: Stack, productId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await stack.app.http.post('/api/orders').set(bearer(stack.buyer)).send({ items: [{ productId, quantity: 1 }] });
    expect(res.status).toBe(201);
    ids.push(res.body.id as string);
  }
  return ids;
}

async function statuses(app: TestApp, ids: string[]): Promise<Map<string, string>> {
  const { rows } = await app.db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE id = ANY($1::uuid[])', [ids]);
  return new Map(rows.map((row) => [row.id, row.status]));
}

async function waitForStatus(app: TestApp, ids: string[], status: string, timeoutMs: number): Promise<void> {
  await waitUntil(async () => [...(await statuses(app, ids)).values()].filter((s) => s === status).length === ids.length, timeoutMs, `${ids.length} orders ${status}`);
}

/**
 * Waits until every email of `ids` is marked sent and the queue has nothing left to run: from
 * then on no job exists that could send another, so counting messages is final.
 */
async function waitForSettled(app: TestApp, ids: string[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => {
      const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND status = 'sent'", [ids]);
      if (rows[0]?.n !== ids.length) return false;
      const counts = await app.queue.counts();
      return counts.waiting + counts.active + counts.delayed === 0;
    },
    timeoutMs,
    `the emails of ${ids.length} orders to be sent and the queue to drain`,
  );
}

function emailsPerOrder(smtp: TestSmtp, ids: string[]): number[] {
  return ids.map((id) => smtp.messages.filter((m) => m.subject?.includes(id)).length);
}

async function expectConserved(app: TestApp): Promise<void> {
  for (const row of await auditStock(app.db)) {
    expect(row.onHand).toBe(row.ledgerOnHand);
    expect(row.reserved).toBe(row.ledgerReserved);
  }
}

// Each case starts worker processes, which alone can take ~10 s on a busy machine.
describe('processing in server mode: API + separate worker processes, PostgreSQL, Redis, SMTP', { timeout: 90_000 }, () => {
  let smtp: TestSmtp;
  let database: TestDatabase;
  let stack: Stack | undefined;

  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await smtp.stop();
  });
  afterEach(async () => {
    await stopWorkers();
    if (stack) rmSync(stack.workerEnv.DATA_DIR!, { recursive: true, force: true });
    await stack?.app.close();
    await database?.drop();
    stack = undefined;
    smtp.messages.length = 0;
  });

  it('takes an order from placed to completed with history in order, stock sold and exactly one confirmation email', async () => {
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp });
    const metricsPort = await freePort();
    await startWorker({ ...stack.workerEnv, WORKER_METRICS_PORT: String(metricsPort) });
    const product = await createProduct(stack.app, stack.admin, { stock: 10, priceCents: 1999 });

    const [orderId] = await placeOrders(stack, product.id, 1);
    // One source of truth: what the API answers (the cached copy is written after the row, so
    // waiting on the row and then reading through the cache could see the step before).
    const order = await waitUntil(
      async () => {
        const res = await stack!.app.http.get(`/api/orders/${orderId}`).set(bearer(stack!.buyer));
        return res.body.status === 'completed' ? (res.body as { history: { status: string }[] }) : undefined;
      },
      20_000,
      'the API to show the order completed',
    );
    expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
    expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 9, reserved: 0 });
    await waitForSettled(stack.app, [orderId!]);
    const [mail] = smtp.messages;
    expect(emailsPerOrder(smtp, [orderId!])).toEqual([1]);
    expect(mail!.subject).toBe(`Order ${orderId} confirmed`);
    expect(mail!.to).toMatchObject({ text: stack.buyer.email });
    expect(mail!.text).toContain('$19.99');
    expect(mail!.html).toContain('$19.99');
    expect(mail!.messageId).toContain(orderId);
    await expectConserved(stack.app);

    const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(workerMetrics).toMatch(/^orders_total\{.*event="completed".*\} 1$/m);
    expect(workerMetrics).toMatch(/^emails_total\{.*event="sent".*\} 1$/m);
    expect(workerMetrics).toMatch(/^queue_jobs\{.*state="failed".*\} 0$/m);
    expect(workerMetrics).toMatch(/role="worker"/);
    const apiMetrics = await stack.app.http.get('/metrics');
    expect(apiMetrics.text).toMatch(/^orders_total\{.*event="placed".*\} 1$/m);
  });

  it('declines above PAYMENT_DECLINE_ABOVE_CENTS: failed with a reason, stock released, one failure email', async () => {
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp });
    await startWorker({ ...stack.workerEnv, PAYMENT_DECLINE_ABOVE_CENTS: '5000' });
    const product = await createProduct(stack.app, stack.admin, { stock: 10, priceCents: 9000 });

    const [orderId] = await placeOrders(stack, product.id, 1);
    const order = await waitUntil(
      async () => {
        const res = await stack!.app.http.get(`/api/orders/${orderId}`).set(bearer(stack!.buyer));
        return res.body.status === 'failed' ? (res.body as { failureReason: string }) : undefined;
      },
      20_000,
      'the API to show the order failed',
    );
    expect(order.failureReason).toMatch(/declined/i);
    expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 10, reserved: 0 });
    await waitForSettled(stack.app, [orderId!]);
    expect(emailsPerOrder(smtp, [orderId!])).toEqual([1]);
    expect(smtp.messages[0]!.subject).toBe(`Order ${orderId} could not be completed`);
  });

  /** Starts a worker that takes 30 jobs at once and never finishes a payment, and waits until it holds all 30. */
  async function workerHolding30(current: Stack, productId: string): Promise<{ doomed: ChildService; ids: string[] }> {
    const doomed = await startWorker({ ...current.workerEnv, WORKER_CONCURRENCY: '30', PAYMENT_SIMULATOR_LATENCY_MS: '60000' });
    const ids = await placeOrders(current, productId, 30);
    await waitForStatus(current.app, ids, 'processing', 30_000);
    return { doomed, ids };
  }

  async function expectEachCompletedOnceWithOneEmail(current: Stack, ids: string[], productId: string, stock: number): Promise<void> {
    await waitForSettled(current.app, ids);
    expect(emailsPerOrder(smtp, ids)).toEqual(ids.map(() => 1));
    expect(await stockOf(current.app, productId)).toEqual({ onHand: stock - ids.length, reserved: 0 });
    const { rows } = await current.app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE product_id = $1 AND kind = 'sale'", [productId]);
    expect(rows[0]?.n).toBe(ids.length);
    const { rows: histories } = await current.app.db.query<{ history: { status: string }[] }>('SELECT history FROM orders WHERE id = ANY($1::uuid[])', [ids]);
    for (const row of histories) expect(row.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
    await expectConserved(current.app);
  }

  it('when a worker holding 30 jobs is killed with SIGKILL, then with default settings a replacement finishes all 30 within 15 s of starting, once each', async () => {
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp, defaults: true });
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
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp, defaults: true });
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
    database = await createTestDatabase('postgres');
    // A sweep far too slow to matter: only a commit's NOTIFY can wake the relays in time.
    const slowSweep = { OUTBOX_POLL_MS: '600000' };
    stack = await startStack({ database, smtp, defaults: true, env: slowSweep });
    const deadPort = await freePort();
    const broken = await startTestApp({
      storage: 'postgres',
      database,
      redis: `redis://127.0.0.1:${deadPort}`,
      processing: true,
      captureLogs: true,
      env: { ...DEFAULTS, ...slowSweep, SMTP_URL: smtp.url },
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
      expect(emailsPerOrder(smtp, ids)).toEqual(ids.map(() => 1));
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 35, reserved: 0 });
      const outage = broken.logs.filter((line) => String(line.message).includes(`Redis at 127.0.0.1:${deadPort} is unreachable`));
      expect(outage).toHaveLength(1);
    } finally {
      await broken.close();
    }
  }, 60_000);

  it('when the same order is enqueued twice and two workers race, then it is processed once and emailed once', async () => {
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp, env: { PAYMENT_SIMULATOR_LATENCY_MS: '50' } });
    const product = await createProduct(stack.app, stack.admin, { stock: 50 });
    await Promise.all([startWorker(stack.workerEnv), startWorker(stack.workerEnv)]);
    const producer = createBullMqQueue({ redis: stack.app.config.redis.target!, prefix: stack.app.config.redis.prefix, handlers: stack.app.handlers });
    try {
      const ids = await placeOrders(stack, product.id, 10);
      // Duplicates under other job ids, so BullMQ's own de-duplication cannot hide a double run.
      for (const id of ids) {
        const job = processOrderJob([id]);
        await producer.add([job, { ...job, id: `${job.id}-dup1` }, { ...job, id: `${job.id}-dup2` }]);
      }
      await waitForStatus(stack.app, ids, 'completed', 30_000);
      await waitForSettled(stack.app, ids);
      expect(emailsPerOrder(smtp, ids)).toEqual(ids.map(() => 1));
      const { rows } = await stack.app.db.query<{ history: { status: string }[] }>('SELECT history FROM orders WHERE id = ANY($1::uuid[])', [ids]);
      for (const row of rows) expect(row.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 40, reserved: 0 });
    } finally {
      await producer.close();
    }
  });

  it('when SMTP is down while orders complete, then each order gets exactly one email after it returns', async () => {
    database = await createTestDatabase('postgres');
    stack = await startStack({ database, smtp });
    await startWorker(stack.workerEnv);
    const product = await createProduct(stack.app, stack.admin, { stock: 20 });
    await smtp.stop();
    try {
      const ids = await placeOrders(stack, product.id, 5);
      await waitForStatus(stack.app, ids, 'completed', 20_000);
      // Every email has been tried and failed (its claim given back) while SMTP was down.
      await waitUntil(
        async () => {
          const { rows } = await stack!.app.db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND last_error IS NOT NULL',
            [ids],
          );
          return rows[0]?.n === ids.length;
        },
        20_000,
        'a failed attempt for every email',
      );
      expect(smtp.messages).toHaveLength(0);
      const { rows } = await stack.app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM email_deliveries WHERE status = 'sent'");
      expect(rows[0]?.n).toBe(0);

      await smtp.start();
      await waitForSettled(stack.app, ids);
      expect(emailsPerOrder(smtp, ids)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await smtp.start();
    }
  });
});

describe('worker process lifecycle', () => {
  it('on SIGTERM stops taking jobs, finishes the active ones and exits 0', async () => {
    const smtp = await startSmtp();
    const database = await createTestDatabase('postgres');
    const stack = await startStack({ database, smtp, env: { PAYMENT_SIMULATOR_LATENCY_MS: '1500' } });
    try {
      const product = await createProduct(stack.app, stack.admin, { stock: 50 });
      const worker = await startWorker({ ...stack.workerEnv, WORKER_CONCURRENCY: '2' });
      const ids = await placeOrders(stack, product.id, 6);
      await waitUntil(async () => [...(await statuses(stack.app, ids)).values()].includes('processing'), 15_000, 'a job in flight');
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toMatch(/worker stopped/);
      const after = [...(await statuses(stack.app, ids)).values()];
      // Whatever it had started it finished; it took nothing new after the signal.
      expect(after).not.toContain('processing');
      expect(after.filter((s) => s === 'completed').length).toBeGreaterThan(0);
      expect(after.filter((s) => s === 'pending').length).toBeGreaterThan(0);
    } finally {
      await stopWorkers();
      await stack.app.close();
      await database.drop();
      await smtp.stop();
      rmSync(stack.workerEnv.DATA_DIR!, { recursive: true, force: true });
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
      expect(worker.output()).toMatch(/maxmemory-policy is allkeys-lru; it must be noeviction/);
    } finally {
      await stopWorkers();
      redis.kill('SIGKILL');
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('with an embedded database and Redis, the API consumes its own queue (no worker can open its data)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-embedded-redis-'));
    const port = await freePort();
    const prefix = `ops-test-embedded-${port}`;
    const api = await spawnService(
      'src/server.ts',
      { PORT: String(port), DATA_DIR: dataDir, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: prefix, ADMIN_EMAIL: 'boss@example.com', ADMIN_PASSWORD: 'boss-password', OUTBOX_POLL_MS: '100', LOG_LEVEL: 'info' },
      /listening on/,
      60_000,
    );
    workers.push(api);
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
      await stopWorkers();
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

describe('processing when Redis goes down', () => {
  it('keeps accepting orders fast into the outbox, reports not ready, and completes every accepted order after Redis returns', async () => {
    const smtp = await startSmtp();
    const port = await freePort();
    let redis = await startRedisServer(port);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const database = await createTestDatabase('postgres');
    const stack = await startStack({ database, smtp, redisUrl });
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
      expect(emailsPerOrder(smtp, [...before, ...during])).toEqual(Array.from({ length: 13 }, () => 1));
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 37, reserved: 0 });
    } finally {
      await stopWorkers();
      await stack.app.close();
      await database.drop();
      redis.kill('SIGKILL');
      await smtp.stop();
      rmSync(stack.workerEnv.DATA_DIR!, { recursive: true, force: true });
    }
  });
});
