import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/harness.js';
import { capturingLogger } from '../../test/logs.js';
import { startTcpProxy, type TcpProxy } from '../../test/processes.js';
import { settledWithin, waitUntil } from '../../test/wait.js';
import { createPostgresDatabase } from '../platform/db/postgres.js';
import { createInProcessQueue } from '../platform/queue/index.js';
import { startBackgroundLoops } from './background.js';

const ignore = () => Promise.resolve();
// Only the start and the kick below run rounds.
const settings = { outboxPollMs: 600_000, outboxRelayDelayMs: 0, reconcileIntervalMs: 600_000, reconcileAfterSeconds: 600, eventsRetentionHours: 48 };
const noStalledOrders = { findStalledOrderIds: () => Promise.resolve([]), findUnfinishedOrderIds: () => Promise.resolve([]) };

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
    const queue = createInProcessQueue({
      handlers: { 'process-order': { run: ignore }, 'send-order-email': { run: ignore }, 'refresh-order-cache': { run: ignore } },
      concurrency: 1,
      backoff: { baseMs: 1000, maxMs: 1000 },
      logger,
    });
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
