import { TransientPaymentError, type PaymentDecision, type PaymentProvider } from './payment-provider.js';

export interface SimulatorOptions {
  /** Decline orders whose total is above this (PAYMENT_DECLINE_ABOVE_CENTS); unset approves everything. */
  declineAboveCents?: number | undefined;
  /** For failure tests: the first N charge attempts of every order fail transiently. */
  transientFailuresPerOrder?: number;
  /** For load and crash tests: how long each charge takes. */
  latencyMs?: number;
}

const KEPT_CHARGES = 100_000;

/** The simulator, with what a test needs to see: the charges it holds that were never voided. */
export interface PaymentSimulator extends PaymentProvider {
  /** Order ids whose approved charge stands (not voided), in the order they were charged. */
  standingCharges(): string[];
  /** Order ids whose charge was voided. */
  voidedCharges(): string[];
}

/**
 * The built-in provider: deterministic decisions, no network, no money. It remembers the newest
 * 100,000 approved charges only (a long-running process would otherwise grow without bound):
 * voiding an older one does nothing, and charging it again counts as a new standing charge. That
 * is harmless, since nothing was taken and only `standingCharges`/`voidedCharges` (read by tests,
 * which charge far fewer) can tell; a real provider keeps its charges, and `void` must act on any.
 */
export function createPaymentSimulator(options: SimulatorOptions = {}): PaymentSimulator {
  const attemptsByOrder = new Map<string, number>();
  // Approved charges by order id (true once voided), as a provider keeps them: a repeated charge
  // (same idempotency key) charges nothing more, even once voided. The newest KEPT_CHARGES only.
  const charges = new Map<string, boolean>();
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
      if (!charges.has(orderId)) {
        charges.set(orderId, false);
        if (charges.size > KEPT_CHARGES) charges.delete(charges.keys().next().value!);
      }
      return { outcome: 'approved', reference: `sim-${orderId}` };
    },
    void({ orderId }): Promise<void> {
      if (charges.has(orderId)) charges.set(orderId, true);
      return Promise.resolve();
    },
    standingCharges: () => [...charges].filter(([, voided]) => !voided).map(([orderId]) => orderId),
    voidedCharges: () => [...charges].filter(([, voided]) => voided).map(([orderId]) => orderId),
  };
}
