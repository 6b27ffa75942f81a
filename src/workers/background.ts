import type { OrdersService } from '../modules/orders/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import { OUTBOX_CHANNEL, relayOutboxBatch, startLoop } from '../platform/outbox.js';
import type { JobQueue } from '../platform/queue/index.js';
import { jobsFor } from './outbox-routes.js';
import { reconcileOnce, resumeUnfinishedWork } from './reconciler.js';

export interface BackgroundSettings {
  outboxPollMs: number;
  /** Events are relayed no sooner than this after their commit (a cancellation window). */
  outboxRelayDelayMs: number;
  reconcileIntervalMs: number;
  reconcileAfterSeconds: number;
}

/** A relay's claim on a batch; publishing takes milliseconds, so this only matters after a crash. */
const RELAY_LEASE_SECONDS = 10;
const RELAY_BATCH_SIZE = 500;

/**
 * The two loops every API and worker process runs: the outbox relay (publishes committed
 * events as jobs; kicked by this process's own commits, woken by a NOTIFY from a process that
 * cannot publish, and a slow sweep as the safety net) and the
 * reconciler (re-enqueues work the queue may have lost). In the embedded default, where the
 * queue lives in this process, unfinished work left by the last run is resumed first.
 */
export function startBackgroundLoops(deps: {
  db: Database;
  queue: JobQueue;
  orders: Pick<OrdersService, 'findStalledOrderIds'>;
  settings: BackgroundSettings;
  logger: Logger;
  onRelayed?: (events: number) => void;
}): { kick(): void; stop(): Promise<void> } {
  const { db, queue, orders, settings, logger } = deps;
  let handOff = false;
  const relay = startLoop(
    'outbox relay',
    async () => {
      // A process that cannot reach the queue claims nothing; it hands what it committed to the
      // processes that can (they LISTEN), and the sweep of every process is the safety net.
      if (!queue.ready()) {
        if (handOff) {
          handOff = false;
          await db.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']);
        }
        return 0;
      }
      const relayed = await relayOutboxBatch(
        db,
        async (events) => {
          const { jobs, unrouted } = jobsFor(events);
          if (unrouted.length > 0) logger.error('outbox events with no subscriber', { topics: unrouted.map((e) => e.topic) });
          await queue.add(jobs);
        },
        { batchSize: RELAY_BATCH_SIZE, leaseSeconds: RELAY_LEASE_SECONDS, minAgeMs: settings.outboxRelayDelayMs },
      );
      if (relayed > 0) deps.onRelayed?.(relayed);
      return relayed;
    },
    { intervalMs: settings.outboxPollMs, logger },
  );
  const listening = db.listen(OUTBOX_CHANNEL, () => relay.wake()).catch((error: unknown) => {
    logger.warn('cannot listen for outbox events; relaying on the sweep only', { error: (error as Error).message });
    return () => Promise.resolve();
  });

  const resumed = queue.kind === 'in-process' ? resumeUnfinishedWork({ db, orders, queue, logger }) : Promise.resolve();
  const reconciler = startLoop(
    'reconciler',
    async () => {
      await resumed;
      return reconcileOnce({ db, orders, queue, olderThanSeconds: settings.reconcileAfterSeconds, logger });
    },
    { intervalMs: settings.reconcileIntervalMs, logger },
  );
  return {
    /** This process committed outbox events: relay them now. */
    kick() {
      handOff = true;
      if (settings.outboxRelayDelayMs === 0) relay.wake();
      else setTimeout(() => relay.wake(), settings.outboxRelayDelayMs).unref();
    },
    async stop() {
      await (await listening)();
      await Promise.all([relay.stop(), reconciler.stop()]);
    },
  };
}
