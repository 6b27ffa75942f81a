import { eventsSubscriptions } from '../modules/events/index.js';
import { notificationsSubscriptions, type NotificationsJob } from '../modules/notifications/index.js';
import { paymentsSubscriptions, type PaymentsJob } from '../modules/payments/index.js';
import { ordersSubscriptions, type OrdersJob, type OrderSubscriptions, type OrderTopic } from '../modules/orders/index.js';
import type { OutboxEvent } from '../platform/outbox.js';

/** Every background job of the application; `HandlersFor<AppJob>` must name a handler for each. */
export type AppJob = OrdersJob | NotificationsJob | PaymentsJob;

/**
 * Each module's subscriptions to order events (the events module, which feeds SSE and webhooks,
 * takes every topic). A new consumer subscribes by adding its module's entry here; the outbox stays the source of truth for every one of them.
 */
const JOB_SUBSCRIPTIONS: readonly OrderSubscriptions<AppJob>[] = [ordersSubscriptions, notificationsSubscriptions, paymentsSubscriptions];
const SUBSCRIPTIONS: readonly OrderSubscriptions<AppJob>[] = [...JOB_SUBSCRIPTIONS, eventsSubscriptions];

const topicsOf = (subscriptions: readonly OrderSubscriptions<AppJob>[]): ReadonlySet<OrderTopic> =>
  new Set(subscriptions.flatMap((s) => Object.keys(s) as OrderTopic[]));

/** Topics someone subscribes to: only these are written to the outbox. */
export const SUBSCRIBED_TOPICS = topicsOf(SUBSCRIPTIONS);

/**
 * Topics whose events start jobs. The others (`order.processing`) are read only by the order
 * event stream, straight from the outbox: they are written already published, and no relay
 * claims, publishes or marks them.
 */
export const JOB_TOPICS = topicsOf(JOB_SUBSCRIPTIONS);

/** The jobs a relayed batch of events starts: each subscriber gets the orders of its topic together. */
export function jobsFor(events: readonly OutboxEvent[]): { jobs: AppJob[]; unrouted: OutboxEvent[] } {
  const byTopic = new Map<string, string[]>();
  for (const event of events) {
    const ids = byTopic.get(event.topic);
    if (ids) ids.push(event.aggregateId);
    else byTopic.set(event.topic, [event.aggregateId]);
  }
  const jobs: AppJob[] = [];
  const unrouted: OutboxEvent[] = [];
  for (const [topic, orderIds] of byTopic) {
    const routes = SUBSCRIPTIONS.map((s) => s[topic as OrderTopic]).filter((route) => route !== undefined);
    if (routes.length === 0) unrouted.push(...events.filter((event) => event.topic === topic));
    for (const route of routes) jobs.push(...route(orderIds));
  }
  return { jobs, unrouted };
}
