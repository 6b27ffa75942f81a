import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { createProduct } from './catalog.js';
import { createTestDatabase, startTestApp, TEST_JWT_SECRET, type TestApp, type TestDatabase } from './harness.js';
import { freePort, spawnService, type ChildService } from './processes.js';
import { bearer, registerAdmin, registerUser, type TestUser } from './users.js';

/**
 * Server mode for end-to-end tests: in-process API instances on one PostgreSQL database and one
 * Redis prefix, plus API and worker processes spawned from source. `stop()` ends them all.
 */
export interface ServerStack {
  startApi(env?: Record<string, string>): Promise<TestApp>;
  startWorker(env?: Record<string, string>): Promise<ChildService>;
  startApiProcess(env?: Record<string, string>): Promise<{ child: ChildService; baseUrl: string }>;
  /** An admin, a buyer, a product with stock, and a way to place an order for the buyer. */
  populate(): Promise<{ admin: TestUser; buyer: TestUser; place: () => Promise<string> }>;
  stop(): Promise<void>;
}

export function serverStack(baseEnv: Record<string, string>): ServerStack {
  let database: TestDatabase | undefined;
  const apps: TestApp[] = [];
  const children: ChildService[] = [];
  const dataDirs: string[] = [];

  function processEnv(env: Record<string, string>): Record<string, string> {
    const app = apps[0];
    if (!app) throw new Error('start an API first');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-stack-'));
    dataDirs.push(dataDir);
    return {
      ...baseEnv,
      DATABASE_URL: app.database.url!,
      REDIS_URL: app.config.redis.url!,
      REDIS_PREFIX: app.config.redis.prefix,
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      WORKER_METRICS_PORT: '0',
      ...env,
    };
  }

  return {
    async startApi(env = {}) {
      database ??= await createTestDatabase('postgres');
      const prefix = apps[0]?.config.redis.prefix;
      const app = await startTestApp({ storage: 'postgres', database, redis: true, env: { ...baseEnv, ...(prefix ? { REDIS_PREFIX: prefix } : {}), ...env } });
      apps.push(app);
      return app;
    },
    async startWorker(env = {}) {
      const worker = await spawnService('src/worker.ts', processEnv(env), /worker started/);
      children.push(worker);
      return worker;
    },
    async startApiProcess(env = {}) {
      const port = await freePort();
      const child = await spawnService('src/server.ts', processEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }), /order service listening/);
      children.push(child);
      return { child, baseUrl: `http://127.0.0.1:${port}` };
    },
    async populate() {
      const app = apps[0]!;
      const [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer')]);
      const product = await createProduct(app, admin, { stock: 1000 });
      const place = async () => {
        const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
        expect(res.status).toBe(201);
        return res.body.id as string;
      };
      return { admin, buyer, place };
    },
    async stop() {
      for (const child of children.splice(0)) {
        if (child.child.exitCode === null) child.child.kill('SIGKILL');
        await child.exited;
      }
      for (const app of apps.splice(0)) await app.close();
      await database?.drop();
      database = undefined;
      dataDirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
    },
  };
}
