import type { OrdersService } from '../modules/orders/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import { relayOutboxBatch, startLoop } from '../platform/outbox.js';
import type { JobQueue } from '../platform/queue/index.js';
import { jobsFor } from './outbox-routes.js';
import { reconcileOnce } from './reconciler.js';

export interface BackgroundSettings {
  outboxPollMs: number;
  reconcileIntervalMs: number;
  reconcileAfterSeconds: number;
}

/**
 * The two loops every API and worker process runs: the outbox relay (publishes committed
 * events as jobs) and the reconciler (re-enqueues work the queue may have lost).
 */
export function startBackgroundLoops(deps: {
  db: Database;
  queue: JobQueue;
  orders: Pick<OrdersService, 'findStalledOrderIds'>;
  settings: BackgroundSettings;
  logger: Logger;
}): { stop(): Promise<void> } {
  const { db, queue, orders, settings, logger } = deps;
  const loops = [
    startLoop(
      'outbox relay',
      () =>
        relayOutboxBatch(db, async (events) => {
          const { jobs, unrouted } = jobsFor(events);
          if (unrouted.length > 0) logger.error('outbox events with no route', { topics: unrouted.map((e) => e.topic) });
          await queue.add(jobs);
        }),
      { intervalMs: settings.outboxPollMs, logger },
    ),
    startLoop('reconciler', () => reconcileOnce({ db, orders, queue, olderThanSeconds: settings.reconcileAfterSeconds, logger }), {
      intervalMs: settings.reconcileIntervalMs,
      logger,
    }),
  ];
  return { stop: async () => void (await Promise.all(loops.map((loop) => loop.stop()))) };
}
