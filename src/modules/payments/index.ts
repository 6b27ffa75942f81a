export { TransientPaymentError, type PaymentDecision, type PaymentProvider } from './payment-provider.js';
export { createPaymentSimulator, type PaymentSimulator, type SimulatorOptions } from './payment-simulator.js';
export { createPaymentVoids, createVoidPayment, voidPaymentJob, voidPaymentJobs, VOID_PAYMENT, type PaymentVoids, type VoidPaymentJob } from './void-payment.js';
export { createPaymentsJobHandlers, paymentsSubscriptions, type PaymentsJob } from './payments.jobs.js';
export { findStalledVoids, pruneVoids, reopenEarlyVoids, type StalledVoidsCursor } from './payment-voids.repository.js';
