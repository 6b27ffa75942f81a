import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/harness.js';
import { capturingLogger } from '../../test/logs.js';
import { startTcpProxy, type TcpProxy } from '../../test/processes.js';
import { settledWithin, waitUntil } from '../../test/wait.js';
import { createPostgresDatabase } from '../platform/db/postgres.js';
import type { Logger } from '../platform/logger.js';
import { createInProcessQueue } from '../platform/queue/index.js';
import { startBackgroundLoops } from './background.js';

const ignore = () => Promise.resolve();
// Only the start and the kick below run rounds.
const settings = { outboxPollMs: 600_000, outboxRelayDelayMs: 0, reconcileIntervalMs: 600_000, reconcileAfterSeconds: 600, eventsRetentionHours: 48 };
const noStalledOrders = { findStalledOrderIds: () => Promise.resolve([]), findUnfinishedOrderIds: () => Promise.resolve([]) };

/** An in-process queue whose jobs do nothing. */
const idleQueue = (logger: Logger) =>
  createInProcessQueue({
    handlers: { 'process-order': { run: ignore }, 'send-order-email': { run: ignore }, 'refresh-order-cache': { run: ignore } },
    concurrency: 1,
    backoff: { baseMs: 1000, maxMs: 1000 },
    logger,
  });

/**
 * A database whose network silently drops packets: nothing is refused or reset, every write
 * (a statement, the Terminate message of a close, its FIN) goes unanswered. A stop must not
 * wait on it past the grace periods (the API's 10 s, a worker's 30 s).
 */
describe('stopping while the database network drops packets', () => {
  let database: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await database?.drop();
  });

  it('when a round and the LISTEN connection wait on the silent network, then the loops stop and the database closes within seconds', async () => {
    database = await createTestDatabase('postgres');
    proxy = await startTcpProxy(Number(new URL(database.url!).port));
    const url = new URL(database.url!);
    url.port = String(proxy.port);
    const db = createPostgresDatabase(url.toString(), 2);
    const { logger, lines } = capturingLogger('warn');
    const queue = idleQueue(logger);
    const background = startBackgroundLoops({ db, queue, orders: noStalledOrders, settings, logger });
    const listening = `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`;
    await waitUntil(async () => (await database!.db.query(listening)).rowCount > 0, 10_000, 'the relay to LISTEN');

    proxy.stall();
    // A commit's kick: the relay's round claims its topic, a statement that gets no answer.
    background.kick('order.placed');
    const started = Date.now();
    const stopped = settledWithin(
      (async () => {
        await background.stop();
        await db.close();
        return true;
      })(),
      12_000,
    );
    expect(await stopped).toBe(true);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(lines.map((line) => line.message)).toContain('background loops still waiting on the database or the queue; closing without them');
  });
});

/**
 * A stop that comes while a reconciler round works off a retention backlog (after downtime: up to
 * 20 batches of 5,000 rows for each of six tables): the round ends after the statement in flight.
 */
describe('stopping in the middle of a reconciler round', () => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.drop();
  });

  it('when the stop comes while the round prunes, then it ends after the batch in flight: no more batches or steps, and no warning that the database did not answer', async () => {
    database = await createTestDatabase('postgres');
    // Three batches of published outbox rows past their retention, and order events past theirs.
    await database.db.query(
      `INSERT INTO outbox_events (topic, aggregate_id, created_at, published_at, sequenced)
       SELECT 'order.placed', gen_random_uuid(), now() - interval '9 days', now() - interval '8 days', true FROM generate_series(1, 12000)`,
    );
    await database.db.query(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
       SELECT -s, gen_random_uuid(), gen_random_uuid(), 'order.placed', '{}'::jsonb, now() - interval '3 days' FROM generate_series(1, 10) AS s`,
    );
    // The first prune statement is held, once it has run, until the stop has begun.
    let reached!: () => void;
    const pruning = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const base = database.db;
    const db = {
      ...base,
      async query(...args: Parameters<typeof base.query>) {
        const result = await base.query(...args);
        if (String(args[0]).includes('DELETE FROM outbox_events')) {
          reached();
          await held;
        }
        return result;
      },
    } as typeof base;
    const { logger, lines } = capturingLogger('warn');
    const queue = idleQueue(logger);
    const background = startBackgroundLoops({ db, queue, orders: noStalledOrders, settings, logger });
    await pruning;
    const stopped = background.stop();
    release();
    await stopped;
    await queue.close();

    const { rows } = await base.query<{ outbox: number; events: number }>(
      'SELECT (SELECT count(*) FROM outbox_events)::int AS outbox, (SELECT count(*) FROM order_events)::int AS events',
    );
    expect(rows[0]).toEqual({ outbox: 12000 - 5000, events: 10 });
    expect(lines.map((line) => line.message)).toEqual([]);
  });
});
