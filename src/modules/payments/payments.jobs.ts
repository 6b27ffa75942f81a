import type { Logger } from '../../platform/logger.js';
import type { HandlersFor } from '../../platform/queue/index.js';
import { createVoidPayment, voidPaymentJobs, type PaymentVoids, type VoidPaymentJob } from './void-payment.js';

/** Every job the payments module runs in the background. */
export type PaymentsJob = VoidPaymentJob;

/**
 * A failed order's owed void, if any, is carried out. Every failed order gets a job (the
 * `order.failed` event already starts its email, so no event is written for it); only the ones
 * with a void on record (given up, or charged after failing) reach the provider. Typed against
 * the orders module's `OrderSubscriptions` where the worker merges it (outbox-routes.ts): the
 * orders module imports this one, so this one does not import it back.
 */
export const paymentsSubscriptions = {
  'order.failed': (orderIds: readonly string[]): PaymentsJob[] => voidPaymentJobs(orderIds),
};

export function createPaymentsJobHandlers(deps: { voids: Pick<PaymentVoids, 'voidPayments'>; logger: Logger }): HandlersFor<PaymentsJob> {
  return { 'void-payment': createVoidPayment(deps.voids, deps.logger) };
}
