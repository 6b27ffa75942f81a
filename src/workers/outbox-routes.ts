import { orderEmailJob } from '../modules/notifications/index.js';
import { processOrderJob, PROCESS_ORDER } from '../modules/orders/index.js';
import { SEND_ORDER_EMAIL } from '../modules/notifications/index.js';
import type { OutboxEvent } from '../platform/outbox.js';
import type { JobSpec } from '../platform/queue/index.js';

/** Which jobs each outbox topic starts. Topics without work (processing, cancelled) map to none. */
const ROUTES: Readonly<Record<string, (orderId: string) => JobSpec[]>> = {
  'order.placed': (orderId) => [processOrderJob(orderId)],
  'order.processing': () => [],
  'order.completed': (orderId) => [orderEmailJob(orderId, 'order_confirmation')],
  'order.failed': (orderId) => [orderEmailJob(orderId, 'order_failure')],
  'order.cancelled': () => [],
};

/** Every job name the outbox can publish; the worker checks each has a handler at start-up. */
export const PUBLISHED_JOB_NAMES = [PROCESS_ORDER, SEND_ORDER_EMAIL] as const;

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
