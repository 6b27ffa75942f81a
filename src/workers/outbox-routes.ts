import { orderEmailJob, SEND_ORDER_EMAIL } from '../modules/notifications/index.js';
import { processOrderJob, PROCESS_ORDER, REFRESH_ORDER_CACHE, refreshOrderCacheJob } from '../modules/orders/index.js';
import type { OutboxEvent } from '../platform/outbox.js';
import type { JobSpec } from '../platform/queue/index.js';

/**
 * Which jobs each outbox topic starts. Worker-side transitions keep the cache right through
 * their own retries; a cancellation happens in the API, so it gets a cache refresh job.
 */
const ROUTES: Readonly<Record<string, (orderId: string) => JobSpec[]>> = {
  'order.placed': (orderId) => [processOrderJob(orderId)],
  'order.processing': () => [],
  'order.completed': (orderId) => [orderEmailJob(orderId, 'order_confirmation')],
  'order.failed': (orderId) => [orderEmailJob(orderId, 'order_failure')],
  'order.cancelled': (orderId) => [refreshOrderCacheJob(orderId, 'cancelled')],
};

/** Every job name the outbox can publish; the worker checks each has a handler at start-up. */
export const PUBLISHED_JOB_NAMES = [PROCESS_ORDER, SEND_ORDER_EMAIL, REFRESH_ORDER_CACHE] as const;

export function jobsFor(events: readonly OutboxEvent[]): { jobs: JobSpec[]; unrouted: OutboxEvent[] } {
  const jobs: JobSpec[] = [];
  const unrouted: OutboxEvent[] = [];
  for (const event of events) {
    const route = ROUTES[event.topic];
    if (route) jobs.push(...route(event.aggregateId));
    else unrouted.push(event);
  }
  return { jobs, unrouted };
}
