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

/** The status each event type records (the events relay builds each event's order as of it). */
export const STATUS_BY_TYPE: Readonly<Record<OrderEventType, OrderStatus>> = {
  'order.placed': 'pending',
  'order.processing': 'processing',
  'order.completed': 'completed',
  'order.failed': 'failed',
  'order.cancelled': 'cancelled',
};
