import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { errorFields } from '../../platform/logger.js';
import type { JobQueue } from '../../platform/queue/index.js';
import { ConflictError } from '../../shared/errors.js';
import { withTimeout } from '../../shared/timeout.js';
import type { Principal } from '../../shared/principal.js';
import type { OrdersService } from '../orders/index.js';
import {
  listDeliveries,
  reopenUndeliverable,
  reopenUndeliverablePage,
  type EmailDeliveryView,
  type ReopenCursor,
  type ReopenedEmail,
} from './email-deliveries.repository.js';
import { resendEmailJobs } from './send-order-email.js';

/** Which refused emails a bulk resend reopens: those owed (their order finished) at or after `since` and before `until`. */
export interface ResendWindow {
  since?: string | undefined;
  until?: string | undefined;
}

export interface EmailDeliveriesService {
  listForOrder(principal: Principal, orderId: string): Promise<EmailDeliveryView[]>;
  /** Sends the order's `undeliverable` emails (refused, or failing past their lifetime) again, once their cause is fixed; answers the order's emails. */
  resendRefused(principal: Principal, orderId: string): Promise<EmailDeliveryView[]>;
  /** Sends every `undeliverable` email of the window again (after an outage of the shop's mail server); answers how many. */
  resendAllRefused(window: ResendWindow): Promise<{ reopened: number }>;
}

const ENQUEUE_TIMEOUT_MS = 2000;
/** Emails reopened per statement: each page commits on its own, so none holds many rows' locks for long. */
export const RESEND_PAGE = 500;

const NOTHING_TO_RESEND = 'NOTHING_TO_RESEND';

export function createEmailDeliveriesService(deps: {
  db: Database;
  orders: Pick<OrdersService, 'getOrder'>;
  queue: Pick<JobQueue, 'ensure' | 'ready'>;
  logger: Logger;
  /** Emails a bulk resend reopens per statement (default RESEND_PAGE). */
  resendPageSize?: number;
}): EmailDeliveriesService {
  const pageSize = deps.resendPageSize ?? RESEND_PAGE;
  /**
   * Enqueues the jobs that send reopened emails; false when the queue is out of reach. They are
   * pending again, so the reconciler sends them should the queue be out of reach now: the answer
   * never waits on Redis (a producer that never connected waits without bound).
   */
  async function enqueueResends(reopened: readonly ReopenedEmail[]): Promise<boolean> {
    const jobs = resendEmailJobs(reopened);
    const enqueued = deps.queue.ready()
      ? withTimeout(Promise.all(jobs.map((job) => deps.queue.ensure(job))), ENQUEUE_TIMEOUT_MS, 'enqueuing the email jobs')
      : Promise.reject(new Error('the queue is not connected'));
    return enqueued.then(
      () => true,
      (error: unknown) => {
        deps.logger.warn('email jobs not enqueued; the reconciler will send them', { emails: reopened.length, jobs: jobs.map((job) => job.id), ...errorFields(error) });
        return false;
      },
    );
  }

  return {
    async listForOrder(principal, orderId) {
      // The order's own lookup gives the same 404 (unknown or malformed id) as GET /api/orders/:id.
      await deps.orders.getOrder(principal, orderId);
      return listDeliveries(deps.db, orderId);
    },
    async resendRefused(principal, orderId) {
      await deps.orders.getOrder(principal, orderId);
      const reopened = await reopenUndeliverable(deps.db, orderId);
      const kinds = reopened.map((row) => row.kind);
      if (kinds.length === 0) throw new ConflictError(NOTHING_TO_RESEND, 'This order has no undeliverable email; only those (refused for good, or failing past their retry lifetime) are sent again');
      deps.logger.info('refused order emails reopened for sending', { orderId, kinds });
      await enqueueResends(reopened);
      return listDeliveries(deps.db, orderId);
    },
    async resendAllRefused(window) {
      let reopened = 0;
      let queueReachable = true;
      let after: ReopenCursor | undefined;
      do {
        const page = await reopenUndeliverablePage(deps.db, window, { limit: pageSize, after });
        reopened += page.emails.length;
        // Once the queue failed, the rest is left to the reconciler too: one wait, not one a page.
        if (page.emails.length > 0 && queueReachable) queueReachable = await enqueueResends(page.emails);
        after = page.next;
      } while (after);
      if (reopened === 0) throw new ConflictError(NOTHING_TO_RESEND, 'No email in the window is undeliverable; only those (refused for good, or failing past their retry lifetime) are sent again');
      deps.logger.info('refused emails reopened for sending in bulk', { reopened, since: window.since ?? null, until: window.until ?? null });
      return { reopened };
    },
  };
}
