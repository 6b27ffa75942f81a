import type { Logger } from '../../platform/logger.js';
import type { HandlersFor } from '../../platform/queue/index.js';
import type { PaymentProvider, PaymentVoids } from '../payments/index.js';
import type { OrderSubscriptions } from './order-events.js';
import type { OrdersService } from './orders.service.js';
import { createProcessOrder, processOrderJobs, type ProcessOrderJob } from './process-order.js';
import { createRefreshOrderCache, refreshOrderCacheJob, type RefreshOrderCacheJob } from './refresh-order-cache.js';

/** Every job the orders module runs in the background. */
export type OrdersJob = ProcessOrderJob | RefreshOrderCacheJob;

/**
 * A placed order is processed. Worker-side transitions keep the cache right through their own
 * retries; a cancellation happens in the API, so it gets a cache refresh job.
 */
export const ordersSubscriptions: OrderSubscriptions<OrdersJob> = {
  'order.placed': (orderIds) => processOrderJobs(orderIds),
  'order.cancelled': (orderIds) => orderIds.map((orderId) => refreshOrderCacheJob(orderId, 'cancelled')),
};

export function createOrdersJobHandlers(deps: {
  orders: OrdersService;
  payments: PaymentProvider;
  voids: Pick<PaymentVoids, 'voidSoon'>;
  logger: Logger;
  onFinished?: (status: 'completed' | 'failed', placedAt: string) => void;
  onStage?: (stage: 'placed_to_processing' | 'processing_to_finished', seconds: number) => void;
}): HandlersFor<OrdersJob> {
  return {
    'process-order': createProcessOrder(deps),
    'refresh-order-cache': createRefreshOrderCache(deps.orders),
  };
}
