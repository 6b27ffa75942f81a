import type { JobSpec } from '../../platform/queue/index.js';
import type { OrderStatus } from './order-status.js';

/**
 * The outbox topic of an order entering a status, written by the same statement that moves it.
 * Entering `pending` is being placed, and has always been published as `order.placed`.
 */
export type OrderTopic = `order.${Exclude<OrderStatus, 'pending'>}` | 'order.placed';

/** An outbox event a commit wrote already claimed for this process's relay. */
export interface ClaimedEvent {
  id: number;
  topic: OrderTopic;
  aggregateId: string;
}

export const topicOf = (status: OrderStatus): OrderTopic => (status === 'pending' ? 'order.placed' : `order.${status}`);

/**
 * What a module does when order events are committed: the jobs it starts, per topic, for the
 * orders of a relayed batch of events (so it may start one job for many). Each module exports
 * its own; the worker merges them, and only topics someone subscribes to are written to the
 * outbox at all.
 */
export type OrderSubscriptions<Job extends JobSpec> = Partial<Readonly<Record<OrderTopic, (orderIds: readonly string[]) => Job[]>>>;
