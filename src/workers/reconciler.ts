import { findMissingEmails, orderEmailJob } from '../modules/notifications/index.js';
import { processOrderJob, type OrdersService } from '../modules/orders/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import type { JobQueue } from '../platform/queue/index.js';

/**
 * Re-enqueues work the database says is unfinished but the queue may have lost (a Redis
 * flush, an outage during publishing, jobs that used up their retries on an SMTP outage):
 * orders still pending/processing, and finished orders whose email is not marked sent.
 * Everything it enqueues is idempotent, so running it too often only costs a little work.
 */
export async function reconcileOnce(deps: {
  db: Database;
  orders: Pick<OrdersService, 'findStalledOrderIds'>;
  queue: JobQueue;
  olderThanSeconds: number;
  logger?: Logger;
}): Promise<number> {
  const stalled = await deps.orders.findStalledOrderIds(deps.olderThanSeconds);
  const emails = await findMissingEmails(deps.db, deps.olderThanSeconds);
  for (const orderId of stalled) await deps.queue.ensure(processOrderJob(orderId));
  for (const { orderId, kind } of emails) await deps.queue.ensure(orderEmailJob(orderId, kind));
  if (stalled.length + emails.length > 0) {
    // Recovery should be visible: counts at info, the ids at debug.
    deps.logger?.info('reconciler picked up unfinished work', { orders: stalled.length, emails: emails.length });
    deps.logger?.debug('reconciler picked up unfinished work: ids', { orderIds: stalled, emails: emails.map(({ orderId, kind }) => `${kind}:${orderId}`) });
  }
  await deps.db.query("DELETE FROM outbox_events WHERE published_at < now() - interval '7 days'");
  await deps.db.query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '48 hours'");
  return 0;
}
