import { TransientPaymentError, type PaymentDecision, type PaymentProvider } from './payment-provider.js';

export interface SimulatorOptions {
  /** Decline orders whose total is above this (PAYMENT_DECLINE_ABOVE_CENTS); unset approves everything. */
  declineAboveCents?: number | undefined;
  /** For failure tests: the first N charge attempts of every order fail transiently. */
  transientFailuresPerOrder?: number;
  /** For load and crash tests: how long each charge takes. */
  latencyMs?: number;
}

/** The built-in provider: deterministic decisions, no network. */
export function createPaymentSimulator(options: SimulatorOptions = {}): PaymentProvider {
  const attemptsByOrder = new Map<string, number>();
  return {
    name: 'simulator',
    async charge({ orderId, amountCents }): Promise<PaymentDecision> {
      if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
      const attempts = (attemptsByOrder.get(orderId) ?? 0) + 1;
      attemptsByOrder.set(orderId, attempts);
      if (attempts <= (options.transientFailuresPerOrder ?? 0)) {
        throw new TransientPaymentError(`simulated outage (attempt ${attempts})`);
      }
      attemptsByOrder.delete(orderId);
      if (options.declineAboveCents !== undefined && amountCents > options.declineAboveCents) {
        return { outcome: 'declined', reason: `Payment declined: total exceeds ${options.declineAboveCents} cents` };
      }
      return { outcome: 'approved', reference: `sim-${orderId}` };
    },
  };
}
