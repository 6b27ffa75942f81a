import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { createTestDatabase, startTestApp, TEST_JWT_SECRET, type TestApp, type TestDatabase } from '../../../test/harness.js';
import { freePort, spawnService, waitUntil, type ChildService } from '../../../test/processes.js';
import { openSse, orderOf, type SseClient } from '../../../test/sse.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';

/** Server mode: PostgreSQL, Redis, API instances and separate worker processes. */
const FAST = { OUTBOX_POLL_MS: '100', JOB_BACKOFF_BASE_MS: '100', JOB_BACKOFF_MAX_MS: '1000' };

describe('order events over SSE in server mode', () => {
  let database: TestDatabase | undefined;
  const apps: TestApp[] = [];
  const children: ChildService[] = [];
  const clients: SseClient[] = [];
  const dataDirs: string[] = [];

  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    for (const child of children.splice(0)) {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
      await child.exited;
    }
    for (const app of apps.splice(0)) await app.close();
    await database?.drop();
    database = undefined;
    dataDirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  async function startApi(env: Record<string, string> = {}): Promise<TestApp> {
    database ??= await createTestDatabase('postgres');
    const prefix = apps[0]?.config.redis.prefix;
    const app = await startTestApp({ storage: 'postgres', database, redis: true, env: { ...FAST, ...(prefix ? { REDIS_PREFIX: prefix } : {}), ...env } });
    apps.push(app);
    return app;
  }

  function processEnv(app: TestApp): Record<string, string> {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-events-'));
    dataDirs.push(dataDir);
    return {
      ...FAST,
      DATABASE_URL: app.database.url!,
      REDIS_URL: app.config.redis.url!,
      REDIS_PREFIX: app.config.redis.prefix,
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      WORKER_METRICS_PORT: '0',
      SSE_POLL_MS: '600000',
    };
  }

  async function startWorker(app: TestApp, env: Record<string, string> = {}): Promise<ChildService> {
    const worker = await spawnService('src/worker.ts', { ...processEnv(app), ...env }, /worker started/);
    children.push(worker);
    return worker;
  }

  async function startApiProcess(app: TestApp): Promise<{ child: ChildService; baseUrl: string }> {
    const port = await freePort();
    const child = await spawnService('src/server.ts', { ...processEnv(app), PORT: String(port), HOST: '127.0.0.1' }, /order service listening/);
    children.push(child);
    return { child, baseUrl: `http://127.0.0.1:${port}` };
  }

  async function setUp(app: TestApp): Promise<{ buyer: TestUser; admin: TestUser; place: () => Promise<string> }> {
    const [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer')]);
    const product = await createProduct(app, admin, { stock: 100 });
    const place = async () => {
      const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    return { buyer, admin, place };
  }

  const sse = async (url: string, user: TestUser, headers: Record<string, string> = {}) => {
    const client = await openSse(url, { ...bearer(user), ...headers });
    clients.push(client);
    return client;
  };

  it('streams one order from placement to completion by a worker process, then ends', async () => {
    const app = await startApi();
    const { buyer, place } = await setUp(app);
    const orderId = await place();
    const stream = await sse(`${app.baseUrl}/api/orders/${orderId}/events`, buyer);
    await stream.waitForMessages(1);
    expect(orderOf(stream.messages[0]!).status).toBe('pending');

    await startWorker(app);
    await stream.ended;
    expect(stream.messages.map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
    const ids = stream.messages.map((m) => Number(m.id));
    expect(ids[0]).toBeLessThan(ids[1]!);
    expect(ids[1]).toBeLessThan(ids[2]!);
  });

  it('with two API instances and a worker making the changes, clients of both instances get every change through Redis (no polling)', async () => {
    const first = await startApi({ SSE_POLL_MS: '600000' });
    const second = await startApi({ SSE_POLL_MS: '600000' });
    const { buyer, admin, place } = await setUp(first);
    const mine = await sse(`${first.baseUrl}/api/orders/events`, buyer);
    const all = await sse(`${second.baseUrl}/api/orders/events?scope=all`, admin);
    const orderId = await place();
    await startWorker(first);
    for (const client of [mine, all]) {
      await client.waitFor((c) => c.messages.some((m) => orderOf(m).status === 'completed'), 20_000, 'completed');
      expect(client.messages.filter((m) => orderOf(m).id === orderId).map((m) => orderOf(m).status)).toEqual(['pending', 'processing', 'completed']);
    }
    expect(all.messages.map((m) => m.id)).toEqual(mine.messages.map((m) => m.id));
  });

  it('resumes with Last-Event-ID across an API restart: every change missed while it was down, none repeated', async () => {
    const app = await startApi();
    const { buyer, place } = await setUp(app);
    let api = await startApiProcess(app);
    const before = await sse(`${api.baseUrl}/api/orders/events`, buyer);
    const orderIds = [await place(), await place(), await place()];
    await startWorker(app, { PAYMENT_SIMULATOR_LATENCY_MS: '300', WORKER_CONCURRENCY: '1' });
    await before.waitForMessages(4);

    api.child.child.kill('SIGTERM');
    expect(await api.child.exited).toBe(0);
    await before.ended;
    const lastSeen = before.lastEventId!;
    await waitUntil(async () => {
      const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM order_events WHERE user_id = $1 AND type = 'order.completed'", [buyer.id]);
      return rows[0]!.n === 3;
    }, 30_000, 'every order completed while the API was down');

    api = await startApiProcess(app);
    const after = await sse(`${api.baseUrl}/api/orders/events`, buyer, { 'Last-Event-ID': lastSeen });
    const { rows: log } = await app.db.query<{ seq: string }>('SELECT seq FROM order_events WHERE user_id = $1 ORDER BY seq', [buyer.id]);
    expect(log).toHaveLength(9);
    await after.waitForMessages(9 - before.messages.length);
    const received = [...before.messages, ...after.messages].map((m) => m.id);
    expect(received).toEqual(log.map((row) => String(row.seq)));
    for (const orderId of orderIds) {
      const statuses = [...before.messages, ...after.messages].filter((m) => orderOf(m).id === orderId).map((m) => orderOf(m).status);
      expect(statuses).toEqual(['pending', 'processing', 'completed']);
    }
  });
});
