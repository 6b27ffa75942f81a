export { TransientPaymentError, type PaymentDecision, type PaymentProvider } from './payment-provider.js';
export { createPaymentSimulator, type SimulatorOptions } from './payment-simulator.js';
