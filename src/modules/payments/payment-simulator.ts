import { TransientPaymentError, type PaymentDecision, type PaymentProvider } from './payment-provider.js';

export interface SimulatorOptions {
  /** Decline orders whose total is above this (PAYMENT_DECLINE_ABOVE_CENTS); unset approves everything. */
  declineAboveCents?: number | undefined;
  /** For failure tests: the first N charge attempts of every order fail transiently. */
  transientFailuresPerOrder?: number;
}

/** The built-in provider: deterministic decisions, no network. */
export function createPaymentSimulator(options: SimulatorOptions = {}): PaymentProvider {
  const attemptsByOrder = new Map<string, number>();
  return {
    name: 'simulator',
    charge({ orderId, amountCents }): Promise<PaymentDecision> {
      const attempts = (attemptsByOrder.get(orderId) ?? 0) + 1;
      attemptsByOrder.set(orderId, attempts);
      if (attempts <= (options.transientFailuresPerOrder ?? 0)) {
        return Promise.reject(new TransientPaymentError(`simulated outage (attempt ${attempts})`));
      }
      attemptsByOrder.delete(orderId);
      if (options.declineAboveCents !== undefined && amountCents > options.declineAboveCents) {
        return Promise.resolve({ outcome: 'declined', reason: `Payment declined: total exceeds ${options.declineAboveCents} cents` });
      }
      return Promise.resolve({ outcome: 'approved', reference: `sim-${orderId}` });
    },
  };
}
