import type { Database } from '../../platform/db/index.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import { batchJobId, jobsInBatches, type JobHandler, type JobSpec } from '../../platform/queue/index.js';
import type { PaymentProvider } from './payment-provider.js';
import { findPendingVoids, markVoided, recordVoidErrors, requestVoids, requestVoidsAgain } from './payment-voids.repository.js';

export const VOID_PAYMENT = 'void-payment';

export type VoidPaymentJob = JobSpec<typeof VOID_PAYMENT, { orderIds: readonly string[] }>;

/** Orders per job, as for processing and emails. */
export const VOID_BATCH = 50;

/** Deterministic ids: a batch of one is `void-payment-<orderId>` (what the reconciler enqueues too). */
export function voidPaymentJob(orderIds: readonly string[]): VoidPaymentJob {
  return { name: VOID_PAYMENT, id: batchJobId(VOID_PAYMENT, orderIds), data: { orderIds } };
}

/** The jobs for `orderIds`, VOID_BATCH at a time. */
export function voidPaymentJobs(orderIds: readonly string[]): VoidPaymentJob[] {
  return jobsInBatches(orderIds, VOID_BATCH, voidPaymentJob);
}

export type PaymentVoids = ReturnType<typeof createPaymentVoids>;

/**
 * Voiding charges that must not stand. A void owed is a row (`payment_voids`) written before
 * anything is asked of the provider, so a crash or a provider outage loses none: the
 * `void-payment` job retries it, and the reconciler enqueues it again while it is pending.
 */
export function createPaymentVoids(deps: { db: Database; payments: PaymentProvider; logger: Logger }) {
  const { db, payments, logger } = deps;

  /**
   * Asks the provider to void the owed charges of these orders and marks each one done; throws
   * when any could not be voided (those stay owed).
   */
  async function voidPayments(orderIds: readonly string[]): Promise<void> {
    const pending = await findPendingVoids(db, orderIds);
    if (pending.length === 0) return;
    const outcomes = await Promise.allSettled(pending.map(({ orderId }) => payments.void({ orderId })));
    await markVoided(db, pending.filter((_, i) => outcomes[i]!.status === 'fulfilled'));
    const errors = pending.flatMap(({ orderId }, i) => {
      const outcome = outcomes[i]!;
      return outcome.status === 'rejected' ? [{ orderId, error: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason) }] : [];
    });
    for (const { orderId } of pending.filter((_, i) => outcomes[i]!.status === 'fulfilled')) logger.info('payment voided', { orderId });
    if (errors.length === 0) return;
    await recordVoidErrors(db, errors);
    throw new Error(`${errors.length} of ${pending.length} payment voids failed: ${errors[0]!.error}`);
  }

  /**
   * Records the voids (durably), then tries them at once. One that fails now is not this
   * caller's failure: it stays owed, for the reconciler's `void-payment` job.
   */
  async function voidSoon(orderIds: readonly string[], options: { onlyGivenUp?: boolean } = {}): Promise<void> {
    const requested = options.onlyGivenUp ? await requestVoidsAgain(db, orderIds) : await requestVoids(db, orderIds);
    if (requested.length === 0) return;
    logger.warn('charges of orders that cannot complete are voided', { orderIds: requested });
    await voidPayments(requested).catch((error: unknown) => logger.warn('payment void failed; it stays owed and is retried', errorFields(error)));
  }

  return { voidPayments, voidSoon };
}

/** The `void-payment` job: voids what is still owed among its orders, with the queue's retries. */
export function createVoidPayment(voids: Pick<PaymentVoids, 'voidPayments'>, logger: Logger): JobHandler<VoidPaymentJob['data']> {
  return {
    // A provider outage may last a while: ~20 minutes of retries (backoff capped at a minute),
    // then the reconciler enqueues the job again while the void is owed.
    attempts: 25,
    run: ({ orderIds }) => voids.voidPayments(orderIds),
    exhausted({ orderIds }, error) {
      logger.error('payment void still failing after its retries; the reconciler will enqueue it again', { orders: orderIds.length, lastError: error.message });
      return Promise.resolve();
    },
  };
}
