import type { JobHandler, JobSpec } from '../../platform/queue/index.js';
import type { OrdersService } from './orders.service.js';

export const REFRESH_ORDER_CACHE = 'refresh-order-cache';

/**
 * A change made by the API (a cancellation) writes the cache before answering, but if Redis
 * was unreachable at that moment an older copy may still sit there when it returns. The
 * change's outbox event is published only once Redis is back, and this job then writes the
 * database's copy over it (versioned, so it never regresses a newer one).
 */
export type RefreshOrderCacheJob = JobSpec<typeof REFRESH_ORDER_CACHE, { orderId: string }>;

export function refreshOrderCacheJob(orderId: string, after: string): RefreshOrderCacheJob {
  return { name: REFRESH_ORDER_CACHE, id: `refresh-order-cache-${after}-${orderId}`, data: { orderId } };
}

export function createRefreshOrderCache(orders: Pick<OrdersService, 'refreshCachedOrder'>): JobHandler<RefreshOrderCacheJob['data']> {
  return {
    run: ({ orderId }) => orders.refreshCachedOrder(orderId),
  };
}
