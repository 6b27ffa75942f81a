import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { errorFields } from '../../platform/logger.js';
import type { JobQueue } from '../../platform/queue/index.js';
import { ConflictError } from '../../shared/errors.js';
import { withTimeout } from '../../shared/timeout.js';
import type { Principal } from '../../shared/principal.js';
import type { OrdersService } from '../orders/index.js';
import { listDeliveries, reopenUndeliverable, type EmailDeliveryView } from './email-deliveries.repository.js';
import { resendEmailJob } from './send-order-email.js';

export interface EmailDeliveriesService {
  listForOrder(principal: Principal, orderId: string): Promise<EmailDeliveryView[]>;
  /** Sends the order's `undeliverable` emails (refused, or failing past their lifetime) again, once their cause is fixed; answers the order's emails. */
  resendRefused(principal: Principal, orderId: string): Promise<EmailDeliveryView[]>;
}

const ENQUEUE_TIMEOUT_MS = 2000;

export function createEmailDeliveriesService(deps: {
  db: Database;
  orders: Pick<OrdersService, 'getOrder'>;
  queue: Pick<JobQueue, 'ensure' | 'ready'>;
  logger: Logger;
}): EmailDeliveriesService {
  return {
    async listForOrder(principal, orderId) {
      // The order's own lookup gives the same 404 (unknown or malformed id) as GET /api/orders/:id.
      await deps.orders.getOrder(principal, orderId);
      return listDeliveries(deps.db, orderId);
    },
    async resendRefused(principal, orderId) {
      await deps.orders.getOrder(principal, orderId);
      const reopened = await reopenUndeliverable(deps.db, orderId);
      const kinds = reopened.map((row) => row.kind);
      if (kinds.length === 0) throw new ConflictError('NOTHING_TO_RESEND', 'This order has no undeliverable email; only those (refused for good, or failing past their retry lifetime) are sent again');
      deps.logger.info('refused order emails reopened for sending', { orderId, kinds });
      for (const { kind, attempts } of reopened) {
        // Pending again, so the reconciler sends it should the queue be out of reach now: the
        // answer never waits on Redis (a producer that never connected waits without bound).
        const enqueued = deps.queue.ready()
          ? withTimeout(deps.queue.ensure(resendEmailJob(orderId, kind, attempts)), ENQUEUE_TIMEOUT_MS, 'enqueuing the email job')
          : Promise.reject(new Error('the queue is not connected'));
        await enqueued.catch((error: unknown) =>
          deps.logger.warn('email job not enqueued; the reconciler will send it', { orderId, kind, ...errorFields(error) }),
        );
      }
      return listDeliveries(deps.db, orderId);
    },
  };
}
