import type { AuthService } from '../modules/auth/index.js';
import { createSendOrderEmail, SEND_ORDER_EMAIL } from '../modules/notifications/index.js';
import { createProcessOrder, createRefreshOrderCache, PROCESS_ORDER, REFRESH_ORDER_CACHE, type OrdersService } from '../modules/orders/index.js';
import type { PaymentProvider } from '../modules/payments/index.js';
import type { Database } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import type { Mailer } from '../platform/mail.js';
import type { Metrics } from '../platform/metrics.js';
import type { JobHandlers } from '../platform/queue/index.js';

export interface JobHandlerDeps {
  db: Database;
  orders: OrdersService;
  auth: Pick<AuthService, 'findUser'>;
  payments: PaymentProvider;
  mailer: Mailer;
  mailFrom: string;
  emailLeaseSeconds: number;
  logger: Logger;
  metrics: Pick<Metrics, 'orderFinished' | 'emailSent' | 'emailAttemptFailed' | 'emailGaveUp'>;
}

/** Every job name → its one handler. Start-up fails if a published job name has none. */
export function buildJobHandlers(deps: JobHandlerDeps): JobHandlers {
  const handlers: JobHandlers = {
    [PROCESS_ORDER]: createProcessOrder({
      orders: deps.orders,
      payments: deps.payments,
      logger: deps.logger,
      onFinished: deps.metrics.orderFinished,
    }),
    [REFRESH_ORDER_CACHE]: createRefreshOrderCache(deps.orders),
    [SEND_ORDER_EMAIL]: createSendOrderEmail({
      db: deps.db,
      mailer: deps.mailer,
      mailFrom: deps.mailFrom,
      leaseSeconds: deps.emailLeaseSeconds,
      findOrder: async (orderId) => (await deps.orders.findOrder(orderId))?.order,
      findRecipient: (userId) => deps.auth.findUser(userId),
      logger: deps.logger,
      metrics: deps.metrics,
    }),
  };
  return Object.freeze(handlers);
}

export function assertEveryJobHasAHandler(handlers: JobHandlers, jobNames: readonly string[]): void {
  const missing = jobNames.filter((name) => !handlers[name]);
  if (missing.length > 0) throw new Error(`No handler registered for job(s): ${missing.join(', ')}`);
}
