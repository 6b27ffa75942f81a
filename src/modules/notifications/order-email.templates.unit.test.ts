import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Order } from '../orders/index.js';
import { formatMoney, renderOrderEmail } from './order-email.templates.js';

function order(overrides: Partial<Order> = {}): Order {
  const at = '2026-11-26T12:00:00.000Z';
  return {
    id: randomUUID(),
    userId: randomUUID(),
    status: 'completed',
    items: [
      { productId: randomUUID(), sku: 'MUG-1', name: 'Mug <b>big</b>', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
      { productId: randomUUID(), sku: 'TEA-7', name: 'Tea & biscuits', quantity: 1, unitPriceCents: 99, lineTotalCents: 99 },
    ],
    totalCents: 2599,
    currency: 'USD',
    failureReason: null,
    history: [{ status: 'pending', at }],
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

describe('order emails', () => {
  it('formats amounts in each currency, also when currencies alternate', () => {
    expect([formatMoney(1250, 'USD'), formatMoney(1250, 'EUR'), formatMoney(5, 'USD'), formatMoney(123456, 'EUR')]).toEqual([
      '$12.50',
      '€12.50',
      '$0.05',
      '€1,234.56',
    ]);
  });

  it('formats amounts in the minor unit of their currency: none for JPY, three digits for BHD', () => {
    expect([formatMoney(1250, 'JPY'), formatMoney(1250, 'BHD'), formatMoney(1250, 'USD')]).toEqual(['¥1,250', 'BHD\u00a01.250', '$12.50']);
  });

  it('a confirmation names the order in the subject and lists every line and the total in text and HTML', () => {
    const confirmed = order();
    const email = renderOrderEmail('order_confirmation', confirmed, 'Ada');
    expect(email.subject).toBe(`Order ${confirmed.id} confirmed`);
    expect(email.text).toContain('Hello Ada,');
    expect(email.text).toContain('  2 x Mug <b>big</b> (MUG-1) @ $12.50 = $25.00');
    expect(email.text).toContain('  1 x Tea & biscuits (TEA-7) @ $0.99 = $0.99');
    expect(email.text).toContain('Total: $25.99');
    expect(email.html).toContain('Mug &lt;b&gt;big&lt;/b&gt; <small>(MUG-1)</small>');
    expect(email.html).toContain('Tea &amp; biscuits');
    expect(email.html).toContain('<strong>$25.99</strong>');
    expect(email.html).not.toContain('<b>big</b>');
  });

  it('a failure email gives the reason and says no charge stands', () => {
    const failed = order({ status: 'failed', failureReason: 'Payment declined', currency: 'EUR' });
    const email = renderOrderEmail('order_failure', failed, 'Ada');
    expect(email.subject).toBe(`Order ${failed.id} could not be completed`);
    expect(email.text).toContain('We could not complete your order: Payment declined');
    expect(email.text).toContain('You are not charged for it (any payment taken is refunded)');
    expect(email.text).toContain('Total: €25.99');
  });
});
