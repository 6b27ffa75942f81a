import type { Logger } from '../../platform/logger.js';
import { PermanentJobError, type JobHandler, type JobSpec } from '../../platform/queue/index.js';
import type { PaymentProvider } from '../payments/index.js';
import type { OrdersService } from './orders.service.js';

export const PROCESS_ORDER = 'process-order';

export type ProcessOrderJob = JobSpec<typeof PROCESS_ORDER, { orderId: string }>;

export function processOrderJob(orderId: string): ProcessOrderJob {
  return { name: PROCESS_ORDER, id: `process-order-${orderId}`, data: { orderId } };
}

const GAVE_UP_REASON = 'Processing failed after repeated errors; no payment was taken';

/**
 * pending → processing → payment → completed | failed. Each step is a guarded transition, so
 * a redelivered or duplicated job finds the order further along and does only what is left;
 * an order that was cancelled meanwhile is left alone.
 */
export function createProcessOrder(deps: {
  orders: Pick<OrdersService, 'findOrder' | 'transitionOrder' | 'refreshCachedOrder'>;
  payments: PaymentProvider;
  logger: Logger;
  onFinished?: (status: 'completed' | 'failed', placedAt: string) => void;
}): JobHandler<ProcessOrderJob['data']> {
  const { orders, payments, logger } = deps;

  async function statusOf(orderId: string) {
    const found = await orders.findOrder(orderId);
    if (!found) throw new PermanentJobError(`order ${orderId} not found`);
    return found.order;
  }

  return {
    async run({ orderId }) {
      // Nearly every job finds its order pending: move it at once, and read it only when it was not.
      const order = (await orders.transitionOrder(orderId, 'processing'))?.order ?? (await statusOf(orderId));
      if (order.status !== 'processing') {
        // Finished earlier (this is a redelivery) or cancelled: make sure the cache agrees, nothing else.
        await orders.refreshCachedOrder(orderId);
        return;
      }
      // The order id is the payment's idempotency key: a retry after a crash never charges twice.
      const decision = await payments.charge({ orderId, amountCents: order.totalCents, currency: order.currency });
      const to = decision.outcome === 'approved' ? 'completed' : 'failed';
      const moved = await orders.transitionOrder(orderId, to, decision.outcome === 'declined' ? { failureReason: decision.reason } : {});
      // The job is done only once the cache shows the outcome: a failed write (or a transition
      // made elsewhere) is repaired from the database, and if that fails too the job retries.
      if (!moved?.cached) await orders.refreshCachedOrder(orderId);
      if (moved) {
        logger.info(`order ${to}`, { orderId, payment: decision.outcome });
        deps.onFinished?.(to, order.createdAt);
      }
    },

    /** Never leave an order stuck: when retries run out it fails and its stock is released. */
    async exhausted({ orderId }, error) {
      await orders.transitionOrder(orderId, 'processing');
      const failed = await orders.transitionOrder(orderId, 'failed', { failureReason: GAVE_UP_REASON });
      if (failed) {
        logger.error('order failed after exhausting retries', { orderId, lastError: error.message });
        deps.onFinished?.('failed', failed.order.createdAt);
      }
    },
  };
}
