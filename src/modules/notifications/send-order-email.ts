import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { Mailer } from '../../platform/mail.js';
import { PermanentJobError, type JobHandler, type JobSpec } from '../../platform/queue/index.js';
import type { Order } from '../orders/index.js';
import { claimDelivery, markSent, releaseClaim, type EmailKind } from './email-deliveries.repository.js';
import { renderOrderEmail } from './order-email.templates.js';

export const SEND_ORDER_EMAIL = 'send-order-email';

export type SendOrderEmailJob = JobSpec<typeof SEND_ORDER_EMAIL, { orderId: string; kind: EmailKind }>;

export function orderEmailJob(orderId: string, kind: EmailKind): SendOrderEmailJob {
  return { name: SEND_ORDER_EMAIL, id: `email-${kind}-${orderId}`, data: { orderId, kind } };
}

export function messageIdFor(orderId: string, kind: EmailKind, mailFrom: string): string {
  const domain = /@([^>\s]+)/.exec(mailFrom)?.[1] ?? 'order-service.local';
  return `<${kind}.${orderId}@${domain}>`;
}

export interface SendOrderEmailDeps {
  db: Database;
  mailer: Mailer;
  mailFrom: string;
  /** Longer than one SMTP attempt can take (its timeouts add up to 25 s), so a live sender never loses its claim. */
  leaseSeconds: number;
  findOrder: (orderId: string) => Promise<Order | undefined>;
  findRecipient: (userId: string) => Promise<{ email: string; name: string } | undefined>;
  logger: Logger;
  metrics: { emailSent(): void; emailAttemptFailed(): void; emailGaveUp(): void };
}

/**
 * Sends one order email at most once per (order, kind) as far as this side can know: the
 * delivery row is claimed before SMTP and marked sent after. The window SMTP cannot close is
 * a crash after the server accepted the message and before the mark is written: the lease
 * then runs out and the email is sent again (same Message-ID). The design errs towards a
 * rare duplicate rather than a lost email.
 */
export function createSendOrderEmail(deps: SendOrderEmailDeps): JobHandler<SendOrderEmailJob['data']> {
  return {
    attempts: 25,
    async run({ orderId, kind }) {
      const order = await deps.findOrder(orderId);
      if (!order) throw new PermanentJobError(`order ${orderId} not found`);
      const recipient = await deps.findRecipient(order.userId);
      if (!recipient) throw new PermanentJobError(`user of order ${orderId} not found`);

      const messageId = messageIdFor(orderId, kind, deps.mailFrom);
      const claim = await claimDelivery(deps.db, { orderId, kind, messageId, leaseSeconds: deps.leaseSeconds });
      if (claim === 'already-sent') return;
      // Another sender holds the claim right now: check back later, by when it has finished.
      if (claim === 'claimed-elsewhere') throw new Error(`email ${kind} for order ${orderId} is being sent by another worker`);

      try {
        await deps.mailer.send({ to: recipient.email, messageId, ...renderOrderEmail(kind, order, recipient.name) });
      } catch (error) {
        await releaseClaim(deps.db, orderId, kind, (error as Error).message);
        deps.metrics.emailAttemptFailed();
        throw error;
      }
      await markSent(deps.db, orderId, kind);
      deps.metrics.emailSent();
      deps.logger.info('order email sent', { orderId, kind });
    },
    exhausted(data, error) {
      // The reconciler picks unsent emails up again later; this only makes the give-up visible.
      deps.metrics.emailGaveUp();
      deps.logger.error('order email not sent after all attempts; the reconciler will retry', { orderId: data.orderId, kind: data.kind, lastError: error.message });
      return Promise.resolve();
    },
  };
}
