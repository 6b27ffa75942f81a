import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { MailRejectedError, type Mailer } from '../../platform/mail.js';
import { batchJobId, jobsInBatches, PermanentJobError, type JobHandler, type JobSpec } from '../../platform/queue/index.js';
import type { Order } from '../orders/index.js';
import { claimDeliveries, extendClaims, giveBackClaims, markSent, markUndeliverable, releaseClaims, type EmailKind } from './email-deliveries.repository.js';
import { renderOrderEmail } from './order-email.templates.js';

export const SEND_ORDER_EMAIL = 'send-order-email';

export type SendOrderEmailJob = JobSpec<typeof SEND_ORDER_EMAIL, { orderIds: readonly string[]; kind: EmailKind }>;

/** Emails per job: one claim and one mark statement for all of them, sent over pooled connections. */
export const EMAIL_BATCH = 50;

/** Deterministic ids: a batch of one is `email-<kind>-<orderId>` (what the reconciler enqueues too). */
export function orderEmailJob(orderIds: readonly string[], kind: EmailKind): SendOrderEmailJob {
  return { name: SEND_ORDER_EMAIL, id: batchJobId(`email-${kind}`, orderIds), data: { orderIds, kind } };
}

/**
 * A resend's job (POST /api/orders/:id/emails/resend): an id of its own per resend, told apart
 * by the reopened email's attempts so far (it becomes undeliverable again only through a claim
 * after the resend, which counts one more). Under
 * the usual id it was a no-op whenever the job that refused the email was still active (its
 * last instant): the id was taken, and the email waited for the reconciler.
 */
export function resendEmailJob(orderId: string, kind: EmailKind, attempts: number): SendOrderEmailJob {
  return { ...orderEmailJob([orderId], kind), id: `email-${kind}-${orderId}-resend-${attempts}` };
}

type ReopenedEmail = { orderId: string; kind: EmailKind; attempts: number };

/**
 * One resend job for reopened emails of one kind. A lone one keeps `resendEmailJob`'s id; a
 * batch's is `email-<kind>-resend-batch-<digest of its orderId:attempts>`, so the same email
 * resent later gets another job.
 */
function resendBatchJob(batch: readonly ReopenedEmail[], kind: EmailKind): SendOrderEmailJob {
  if (batch.length === 1) return resendEmailJob(batch[0]!.orderId, kind, batch[0]!.attempts);
  const id = batchJobId(`email-${kind}-resend`, batch.map((email) => `${email.orderId}:${email.attempts}`));
  return { ...orderEmailJob(batch.map((email) => email.orderId), kind), id };
}

/** The jobs that send reopened emails (a resend, one order's or many), EMAIL_BATCH of one kind each. */
export function resendEmailJobs(reopened: readonly ReopenedEmail[]): SendOrderEmailJob[] {
  return [...new Set(reopened.map((email) => email.kind))].flatMap((kind) =>
    jobsInBatches(reopened.filter((email) => email.kind === kind), EMAIL_BATCH, (batch) => resendBatchJob(batch, kind)),
  );
}

/** The jobs for the `kind` emails of `orderIds`, EMAIL_BATCH at a time. */
export function orderEmailJobs(orderIds: readonly string[], kind: EmailKind): SendOrderEmailJob[] {
  return jobsInBatches(orderIds, EMAIL_BATCH, (batch) => orderEmailJob(batch, kind));
}

export function messageIdFor(orderId: string, kind: EmailKind, mailFrom: string): string {
  const domain = /@([^>\s]+)/.exec(mailFrom)?.[1] ?? 'order-service.local';
  return `<${kind}.${orderId}@${domain}>`;
}

export interface SendOrderEmailDeps {
  db: Database;
  mailer: Mailer;
  mailFrom: string;
  /**
   * Longer than one SMTP attempt can take (its timeouts add up to 25 s). A sender renews its
   * claims every half lease while messages are still out, so a batch may take longer than one.
   */
  leaseSeconds: number;
  /** An email still failing this long after its first failure is given up (`undeliverable`): an MTA's queue lifetime. */
  maxRetryHours: number;
  /** While a batch is out, what has gone out is marked sent this often (default 1 s): a crash resends at most what the server accepted since. */
  markEveryMs?: number;
  findOrders: (orderIds: readonly string[]) => Promise<Order[]>;
  /** The users among `userIds` that still exist (one read for a batch). */
  findRecipients: (userIds: readonly string[]) => Promise<readonly { id: string; email: string; name: string }[]>;
  logger: Logger;
  metrics: { emailSent(): void; emailAttemptFailed(): void; emailGaveUp(): void; emailRejected(): void; orderStage?(stage: 'finished_to_email_sent', seconds: number): void };
}

/** Emails that are not tried again (`undeliverable`): one error line each, counted as rejected. */
function reportUndeliverable(
  deps: SendOrderEmailDeps,
  kind: EmailKind,
  emails: readonly { orderId: string; error: Error }[],
  message: string,
  fields: Record<string, unknown> = {},
): void {
  for (const { orderId, error } of emails) {
    deps.metrics.emailRejected();
    deps.logger.error(message, { orderId, kind, reason: error.message, ...fields });
  }
}

/**
 * Sends the `kind` email of each order of a batch at most once per (order, kind) as far as this
 * side can know: the deliveries are claimed before SMTP and marked sent after. The window SMTP
 * cannot close is a crash after the server accepted a message and before the mark is written:
 * the lease then runs out and the email is sent again (same Message-ID). Messages are marked as
 * they go out, every `markEveryMs` while the batch is out and once at its end, so that window is
 * at most `markEveryMs` of a slow server's sends, while a batch a fast server takes at once still
 * costs one statement. The design errs
 * towards a rare duplicate rather than a lost email. Emails that could not be sent now (SMTP
 * failed, or another sender holds the claim) make the job retry; the ones sent are then
 * found already sent. A message the server refused for good (MailRejectedError) is marked
 * undeliverable instead: it would be refused on every retry. So is one whose send failed
 * `maxRetryHours` after its first failure (a mailbox full for days): it is not retried for ever.
 */
export function createSendOrderEmail(deps: SendOrderEmailDeps): JobHandler<SendOrderEmailJob['data']> {
  return {
    attempts: 25,
    async run({ orderIds, kind }, { signal }) {
      const orders = await deps.findOrders(orderIds);
      const missing = orderIds.filter((id) => !orders.some((order) => order.id === id));
      if (missing.length === orderIds.length) throw new PermanentJobError(`order(s) ${missing.join(', ')} not found`);
      if (missing.length > 0) deps.logger.error('emails for unknown orders skipped', { orderIds: missing, kind });
      const recipients = new Map((await deps.findRecipients([...new Set(orders.map((order) => order.userId))])).map((user) => [user.id, user]));
      const sendable = orders.filter((order) => recipients.get(order.userId) !== undefined);
      if (sendable.length < orders.length) deps.logger.error('emails for orders whose user is gone skipped', { kind, orders: orders.length - sendable.length });

      const deliveries = sendable.map((order) => ({ orderId: order.id, messageId: messageIdFor(order.id, kind, deps.mailFrom) }));
      const claims = await claimDeliveries(deps.db, { kind, deliveries, leaseSeconds: deps.leaseSeconds });
      const claimed = new Set(claims.claimed);
      const toSend = sendable.filter((order) => claimed.has(order.id));
      // A batch queues on the mailer's few connections, and its last messages are marked sent once
      // all of it has settled, possibly after the lease that claimed it ran out: renewing the claims
      // until then keeps another sender from claiming (and sending again) what this one sent or is
      // sending.
      const renewal = setInterval(() => {
        extendClaims(deps.db, claims.token, claims.claimed, kind, deps.leaseSeconds).catch((error: unknown) =>
          deps.logger.warn('email claims not renewed', { kind, error: error instanceof Error ? error.message : String(error) }),
        );
      }, (deps.leaseSeconds * 1000) / 2);
      const unmarked: string[] = [];
      let marks = Promise.resolve();
      const markSentSoFar = () => {
        const ids = unmarked.splice(0);
        if (ids.length === 0) return;
        marks = marks
          .then(() => markSent(deps.db, ids, kind))
          .catch((error: unknown) => {
            // The last mark, below, tries them again.
            unmarked.push(...ids);
            deps.logger.warn('sent emails not marked yet', { kind, error: error instanceof Error ? error.message : String(error) });
          });
      };
      const marking = setInterval(markSentSoFar, deps.markEveryMs ?? 1000);
      let results: PromiseSettledResult<void>[];
      try {
        results = await Promise.allSettled(
          toSend.map((order) => {
            const recipient = recipients.get(order.userId)!;
            const message = { to: recipient.email, messageId: messageIdFor(order.id, kind, deps.mailFrom), ...renderOrderEmail(kind, order, recipient.name) };
            return deps.mailer.send(message, signal ? { signal } : {}).then(() => void unmarked.push(order.id));
          }),
        );
      } finally {
        clearInterval(renewal);
        clearInterval(marking);
      }
      const sent = toSend.filter((_, i) => results[i]!.status === 'fulfilled').map((order) => order.id);
      const errors = results.flatMap((result, i) => (result.status === 'rejected' ? [{ orderId: toSend[i]!.id, error: result.reason as Error }] : []));
      const refused = errors.filter(({ error }) => error instanceof MailRejectedError);
      const unsent = errors.filter(({ error }) => !(error instanceof MailRejectedError));
      // Cut off by a stop (the queue's signal), not failed: given back untried, and the next start sends them at once.
      const cutOff = signal?.aborted ? unsent.map(({ orderId }) => orderId) : [];
      const failures = signal?.aborted ? [] : unsent;
      await marks;
      await markSent(deps.db, unmarked.splice(0), kind);
      await markUndeliverable(deps.db, claims.token, refused.map(({ orderId, error }) => ({ orderId, error: error.message })), kind);
      await giveBackClaims(deps.db, claims.token, cutOff, kind);
      reportUndeliverable(deps, kind, refused, 'order email refused by the mail server; it will not be retried');
      const finishedAt = new Map(toSend.map((order) => [order.id, Date.parse(order.updatedAt)]));
      for (const orderId of sent) {
        deps.metrics.orderStage?.('finished_to_email_sent', (Date.now() - (finishedAt.get(orderId) ?? Date.now())) / 1000);
        deps.metrics.emailSent();
        deps.logger.info('order email sent', { orderId, kind });
      }
      if (failures.length > 0) {
        const released = await releaseClaims(deps.db, claims.token, failures.map(({ orderId, error }) => ({ orderId, error: error.message })), kind, deps.maxRetryHours);
        const expired = new Set(released.givenUp);
        reportUndeliverable(deps, kind, failures.filter(({ orderId }) => expired.has(orderId)), 'order email still failing after its retry lifetime; it will not be retried', {
          maxRetryHours: deps.maxRetryHours,
        });
        const retried = failures.filter(({ orderId }) => !expired.has(orderId));
        for (const _ of retried) deps.metrics.emailAttemptFailed();
        if (retried.length > 0) throw retried[0]!.error;
      }
      if (cutOff.length > 0) throw new Error(`${cutOff.length} ${kind} email(s) cut off by the shutdown; the next start sends them`);
      // Another sender holds the claim right now: check back later, by when it has finished.
      if (claims.claimedElsewhere.length > 0) throw new Error(`${claims.claimedElsewhere.length} ${kind} email(s) are being sent by another worker`);
    },
    exhausted({ orderIds, kind }, error) {
      // The reconciler picks unsent emails up again later; this only makes the give-up visible.
      deps.metrics.emailGaveUp();
      deps.logger.error('order emails not sent after all attempts; the reconciler will retry', { orderIds, kind, lastError: error.message });
      return Promise.resolve();
    },
  };
}
