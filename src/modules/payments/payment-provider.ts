/** What the order pipeline needs from a payment service. Implementations must treat `orderId` as an idempotency key. */
export interface PaymentProvider {
  readonly name: string;
  /** Resolves with the decision; throws `TransientPaymentError` when the provider could not decide (retry later). */
  charge(request: { orderId: string; amountCents: number; currency: string }): Promise<PaymentDecision>;
  /**
   * Cancels or refunds whatever charge was made under `orderId`; resolves (doing nothing) when
   * there is none or it is already voided, so it may be called any number of times. Throws
   * `TransientPaymentError` when the provider could not do it (retry later).
   */
  void(request: { orderId: string }): Promise<void>;
}

export type PaymentDecision = { outcome: 'approved'; reference: string } | { outcome: 'declined'; reason: string };

/** The provider was unreachable or answered 5xx: the charge (or void) may be retried. */
export class TransientPaymentError extends Error {}
