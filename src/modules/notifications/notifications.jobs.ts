import type { HandlersFor } from '../../platform/queue/index.js';
import type { OrderSubscriptions } from '../orders/index.js';
import { createSendOrderEmail, orderEmailJobs, type SendOrderEmailDeps, type SendOrderEmailJob } from './send-order-email.js';

/** Every job the notifications module runs in the background. */
export type NotificationsJob = SendOrderEmailJob;

/** One email per outcome. */
export const notificationsSubscriptions: OrderSubscriptions<NotificationsJob> = {
  'order.completed': (orderIds) => orderEmailJobs(orderIds, 'order_confirmation'),
  'order.failed': (orderIds) => orderEmailJobs(orderIds, 'order_failure'),
};

export function createNotificationsJobHandlers(deps: SendOrderEmailDeps): HandlersFor<NotificationsJob> {
  return { 'send-order-email': createSendOrderEmail(deps) };
}
