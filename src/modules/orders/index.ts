export { ordersRoutes } from './orders.routes.js';
export { createOrdersService, type OrdersService } from './orders.service.js';
export { createOrderCache, type OrderCache } from './order-cache.js';
export { ORDER_STATUSES, ORDER_TRANSITIONS, type OrderStatus } from './order-status.js';
export type { Order, OrderItem } from './order.js';
export { createProcessOrder, processOrderJob, PROCESS_ORDER } from './process-order.js';
export { idempotencyKeyHeader, listOrdersQuery, placeOrderBody } from './orders.schemas.js';
export { createRefreshOrderCache, refreshOrderCacheJob, REFRESH_ORDER_CACHE } from './refresh-order-cache.js';
