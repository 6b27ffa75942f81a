import type { Order, OrderStatus } from '../orders/index.js';

export const ORDER_EVENT_TYPES = ['order.placed', 'order.processing', 'order.completed', 'order.failed', 'order.cancelled'] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

/** One status change with its stream position (`seq`: the SSE id and the webhook id). */
export interface OrderEvent {
  seq: number;
  orderId: string;
  userId: string;
  type: OrderEventType;
  /** The order right after this change. */
  order: Order;
  createdAt: string;
}

const STATUS_BY_TYPE: Readonly<Record<OrderEventType, OrderStatus>> = {
  'order.placed': 'pending',
  'order.processing': 'processing',
  'order.completed': 'completed',
  'order.failed': 'failed',
  'order.cancelled': 'cancelled',
};

export function isOrderEventType(topic: string): topic is OrderEventType {
  return (ORDER_EVENT_TYPES as readonly string[]).includes(topic);
}

export function statusOf(type: OrderEventType): OrderStatus {
  return STATUS_BY_TYPE[type];
}

/**
 * The order as it was right after the change `type`, rebuilt from the order as it is now: the
 * relay may copy an event after later changes were made (a `processing` event read once the
 * order completed), and a client must see each step, not the latest state twice. Statuses never
 * repeat in the lifecycle, so the history up to that status's entry is the history then.
 */
export function orderAsOf(current: Order, type: OrderEventType): Order {
  const status = statusOf(type);
  const index = current.history.findIndex((change) => change.status === status);
  if (index < 0) return current;
  const history = current.history.slice(0, index + 1);
  return {
    ...current,
    status,
    history,
    failureReason: status === 'failed' ? current.failureReason : null,
    updatedAt: index === current.history.length - 1 ? current.updatedAt : (history[index]?.at ?? current.updatedAt),
  };
}
