import type { OrderSubscriptions } from '../orders/index.js';
import { ORDER_EVENT_TYPES } from './order-event.js';

/**
 * The order event stream (SSE, webhooks) needs every status change, so it subscribes to every
 * topic: that is what keeps each one written to the outbox. It starts no jobs; the events relay
 * reads the outbox rows itself.
 */
export const eventsSubscriptions: OrderSubscriptions<never> = Object.fromEntries(ORDER_EVENT_TYPES.map((type) => [type, () => []]));
