import { describe, expect, it } from 'vitest';
import { createPaymentSimulator } from './payment-simulator.js';

const charge = (orderId: string, amountCents = 500) => ({ orderId, amountCents, currency: 'EUR' });

describe('the payment simulator', () => {
  it('keeps an approved charge standing until it is voided, and a void is idempotent', async () => {
    const simulator = createPaymentSimulator();
    await simulator.charge(charge('a'));
    await simulator.charge(charge('b'));
    expect(simulator.standingCharges()).toEqual(['a', 'b']);

    await simulator.void({ orderId: 'a' });
    await simulator.void({ orderId: 'a' });
    expect(simulator.standingCharges()).toEqual(['b']);
    expect(simulator.voidedCharges()).toEqual(['a']);
  });

  it('when nothing was charged under an order id (never charged, or declined), then its void does nothing', async () => {
    const simulator = createPaymentSimulator({ declineAboveCents: 1000 });
    expect(await simulator.charge(charge('big', 5000))).toMatchObject({ outcome: 'declined' });
    await simulator.void({ orderId: 'big' });
    await simulator.void({ orderId: 'never' });
    expect([simulator.standingCharges(), simulator.voidedCharges()]).toEqual([[], []]);
  });

  it('when a voided order is charged again (a late duplicate with the same idempotency key), then no new charge stands', async () => {
    const simulator = createPaymentSimulator();
    await simulator.charge(charge('a'));
    await simulator.void({ orderId: 'a' });
    expect(await simulator.charge(charge('a'))).toEqual({ outcome: 'approved', reference: 'sim-a' });
    expect(simulator.standingCharges()).toEqual([]);
  });
});
