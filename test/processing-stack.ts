import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { auditStock } from '../src/modules/catalog/index.js';
import { createTestDatabase, startTestApp, type TestApp, type TestDatabase } from './harness.js';
import { spawnService, waitUntil, type ChildService } from './processes.js';
import { startSmtp, type TestSmtp } from './smtp.js';
import { bearer, registerAdmin, registerUser, type TestUser } from './users.js';

// Processing end to end: an in-process API plus worker processes on PostgreSQL, Redis and SMTP
// (src/workers/processing.*.test.ts).

/**
 * Settings that make retries and reconciliation happen within a test's patience. Crash
 * recovery and the relay's wake-up are tested with the defaults (`defaults: true`).
 */
export const FAST = {
  JOB_BACKOFF_BASE_MS: '100',
  JOB_BACKOFF_MAX_MS: '1000',
  RECONCILE_INTERVAL_MS: '1000',
  RECONCILE_AFTER_SECONDS: '2',
  EMAIL_CLAIM_LEASE_SECONDS: '3',
};

export interface Stack {
  app: TestApp;
  database: TestDatabase;
  admin: TestUser;
  buyer: TestUser;
  workerEnv: Record<string, string>;
}

const workers: ChildService[] = [];

export async function startWorker(env: Record<string, string>): Promise<ChildService> {
  const worker = await spawnService('src/worker.ts', env, /worker started/);
  workers.push(worker);
  return worker;
}

/** The stacks started since the last `stopAll`, with whether each made its own database. */
const stacks: { stack: Stack; ownsDatabase: boolean }[] = [];

/** Kills every worker and closes every stack (app, worker data folder, database it made) started so far. */
export async function stopAll(): Promise<void> {
  for (const worker of workers.splice(0)) {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await worker.exited;
  }
  for (const { stack, ownsDatabase } of stacks.splice(0)) {
    await stack.app.close();
    rmSync(stack.workerEnv.DATA_DIR!, { recursive: true, force: true });
    if (ownsDatabase) await stack.database.drop();
  }
}

/** The production defaults for what these tests tune (the harness speeds some of them up). */
export const DEFAULTS = { OUTBOX_POLL_MS: '1000', JOB_BACKOFF_BASE_MS: '1000', JOB_BACKOFF_MAX_MS: '60000' };

/**
 * An in-process API on PostgreSQL (its own database unless one is given) and Redis, with an
 * admin and a buyer, and the environment for worker processes that share them.
 */
export async function startStack(options: {
  database?: TestDatabase;
  smtp: TestSmtp;
  redisUrl?: string;
  env?: Record<string, string>;
  defaults?: boolean;
}): Promise<Stack> {
  const env = { ...(options.defaults ? DEFAULTS : FAST), SMTP_URL: options.smtp.url, ...options.env };
  const database = options.database ?? (await createTestDatabase('postgres'));
  const app = await startTestApp({ storage: 'postgres', database, redis: options.redisUrl ?? true, processing: true, env });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-worker-'));
  const workerEnv = {
    ...env,
    DATABASE_URL: database.url!,
    REDIS_URL: app.config.redis.url!,
    REDIS_PREFIX: app.config.redis.prefix,
    DATA_DIR: dataDir,
    JWT_SECRET: 'worker-secret-that-is-long-enough-for-hs256-000000',
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '5',
    WORKER_METRICS_PORT: '0',
  };
  const [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer')]);
  const stack = { app, database, admin, buyer, workerEnv };
  stacks.push({ stack, ownsDatabase: !options.database });
  return stack;
}

export async function placeOrders(stack: Stack, productId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await stack.app.http.post('/api/orders').set(bearer(stack.buyer)).send({ items: [{ productId, quantity: 1 }] });
    expect(res.status).toBe(201);
    ids.push(res.body.id as string);
  }
  return ids;
}

export async function statuses(app: TestApp, ids: string[]): Promise<Map<string, string>> {
  const { rows } = await app.db.query<{ id: string; status: string }>('SELECT id, status FROM orders WHERE id = ANY($1::uuid[])', [ids]);
  return new Map(rows.map((row) => [row.id, row.status]));
}

export async function waitForStatus(app: TestApp, ids: string[], status: string, timeoutMs: number): Promise<void> {
  await waitUntil(async () => [...(await statuses(app, ids)).values()].filter((s) => s === status).length === ids.length, timeoutMs, `${ids.length} orders ${status}`);
}

/**
 * Waits until every email of `ids` is marked sent and the queue has nothing left to run: from
 * then on no job exists that could send another, so counting messages is final.
 */
export async function waitForSettled(app: TestApp, ids: string[], timeoutMs = 30_000): Promise<void> {
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

export function emailsPerOrder(smtp: TestSmtp, ids: string[]): number[] {
  return ids.map((id) => smtp.messages.filter((m) => m.subject?.includes(id)).length);
}

export async function expectConserved(app: TestApp): Promise<void> {
  for (const row of await auditStock(app.db)) {
    expect(row.onHand).toBe(row.ledgerOnHand);
    expect(row.reserved).toBe(row.ledgerReserved);
  }
}


/**
 * Registers the hooks of a describe whose cases each start their own stacks: one SMTP server
 * for the describe (its inbox emptied between cases), every stack and worker stopped after each.
 */
export function stacksPerCase(): { readonly smtp: TestSmtp } {
  const shared = {} as { smtp: TestSmtp };
  beforeAll(async () => {
    shared.smtp = await startSmtp();
  });
  afterAll(async () => {
    await shared.smtp.stop();
  });
  afterEach(async () => {
    await stopAll();
    shared.smtp.messages.length = 0;
  });
  return shared;
}
