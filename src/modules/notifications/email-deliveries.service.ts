import type { Database } from '../../platform/db/index.js';
import type { Principal } from '../../shared/principal.js';
import type { OrdersService } from '../orders/index.js';
import { listDeliveries, type EmailDeliveryView } from './email-deliveries.repository.js';

export interface EmailDeliveriesService {
  listForOrder(principal: Principal, orderId: string): Promise<EmailDeliveryView[]>;
}

export function createEmailDeliveriesService(deps: { db: Database; orders: Pick<OrdersService, 'getOrder'> }): EmailDeliveriesService {
  return {
    async listForOrder(principal, orderId) {
      // The order's own lookup gives the same 404 (unknown or malformed id) as GET /api/orders/:id.
      await deps.orders.getOrder(principal, orderId);
      return listDeliveries(deps.db, orderId);
    },
  };
}
