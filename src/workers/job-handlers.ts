import type { AuthService } from '../modules/auth/index.js';
import { createNotificationsJobHandlers } from '../modules/notifications/index.js';
import { createOrdersJobHandlers, type OrdersService } from '../modules/orders/index.js';
import { createPaymentsJobHandlers, createPaymentVoids, type PaymentProvider } from '../modules/payments/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import type { Mailer } from '../platform/mail.js';
import type { Metrics } from '../platform/metrics.js';
import type { HandlersFor } from '../platform/queue/index.js';
import type { AppJob } from './outbox-routes.js';

export interface JobHandlerDeps {
  db: Database;
  orders: OrdersService;
  auth: Pick<AuthService, 'findUsers'>;
  payments: PaymentProvider;
  mailer: Mailer;
  mailFrom: string;
  emailLeaseSeconds: number;
  emailMaxRetryHours: number;
  logger: Logger;
  metrics: Pick<Metrics, 'orderFinished' | 'orderStage' | 'emailSent' | 'emailAttemptFailed' | 'emailGaveUp' | 'emailRejected'>;
}

/** Every job → its one handler, merged from the modules; the type makes a missing one a compile error. */
export function buildJobHandlers(deps: JobHandlerDeps): HandlersFor<AppJob> {
  const voids = createPaymentVoids({ db: deps.db, payments: deps.payments, logger: deps.logger });
  return Object.freeze({
    ...createOrdersJobHandlers({
      orders: deps.orders,
      payments: deps.payments,
      voids,
      logger: deps.logger,
      onFinished: deps.metrics.orderFinished,
      onStage: deps.metrics.orderStage,
    }),
    ...createNotificationsJobHandlers({
      db: deps.db,
      mailer: deps.mailer,
      mailFrom: deps.mailFrom,
      leaseSeconds: deps.emailLeaseSeconds,
      maxRetryHours: deps.emailMaxRetryHours,
      findOrders: async (orderIds) => (await deps.orders.findOrders(orderIds)).map((entry) => entry.order),
      findRecipients: (userIds) => deps.auth.findUsers(userIds),
      logger: deps.logger,
      metrics: deps.metrics,
    }),
    ...createPaymentsJobHandlers({ voids, logger: deps.logger }),
  });
}
