import { describe, expect, it } from 'vitest';
import { asPlaced, mergeLines, priceLines, requestFingerprint, totalOf, type Order } from './order.js';

const A = '6f1c1f39-4a3c-4d53-9d7e-3c2f1f0b8a11';
const B = '0b7c2a1e-1111-4d53-9d7e-3c2f1f0b8a22';

describe('mergeLines', () => {
  it('adds up lines for the same product, keeping the position of its first line', () => {
    expect(
      mergeLines([
        { productId: B, quantity: 1 },
        { productId: A, quantity: 2 },
        { productId: B, quantity: 3 },
      ]),
    ).toEqual([
      { productId: B, quantity: 4 },
      { productId: A, quantity: 2 },
    ]);
  });

  it('treats ids that differ only in letter case as one product, in lower case', () => {
    expect(mergeLines([{ productId: A.toUpperCase(), quantity: 1 }, { productId: A, quantity: 1 }])).toEqual([{ productId: A, quantity: 2 }]);
  });

  it('leaves distinct lines and an empty request as they are', () => {
    expect(mergeLines([])).toEqual([]);
    expect(mergeLines([{ productId: A, quantity: 1 }, { productId: B, quantity: 2 }])).toHaveLength(2);
  });
});

describe('priceLines and totalOf', () => {
  const catalog = new Map([
    [A, { sku: 'MUG', name: 'Mug', priceCents: 1250 }],
    [B, { sku: 'PEN', name: 'Pen', priceCents: 199 }],
  ]);

  it('prices every line from the catalog and totals the line totals', () => {
    const items = priceLines([{ productId: A, quantity: 2 }, { productId: B, quantity: 3 }], catalog);
    expect(items).toEqual([
      { productId: A, sku: 'MUG', name: 'Mug', quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 },
      { productId: B, sku: 'PEN', name: 'Pen', quantity: 3, unitPriceCents: 199, lineTotalCents: 597 },
    ]);
    expect(totalOf(items)).toBe(3097);
    expect(totalOf([])).toBe(0);
  });

  it('refuses a line the catalog does not price, rather than pricing it at zero', () => {
    expect(() => priceLines([{ productId: '00000000-0000-4000-8000-000000000000', quantity: 1 }], catalog)).toThrow(/unpriced line/);
  });
});

describe('requestFingerprint', () => {
  it('is the same for the same lines in any order', () => {
    const one = requestFingerprint([{ productId: A, quantity: 1 }, { productId: B, quantity: 2 }]);
    expect(requestFingerprint([{ productId: B, quantity: 2 }, { productId: A, quantity: 1 }])).toBe(one);
    expect(one).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for a request whose lines merge to the same order', () => {
    const merged = requestFingerprint(mergeLines([{ productId: A, quantity: 1 }, { productId: A, quantity: 1 }]));
    expect(merged).toBe(requestFingerprint([{ productId: A, quantity: 2 }]));
  });

  it('differs when a quantity or a product differs', () => {
    const base = requestFingerprint([{ productId: A, quantity: 1 }]);
    expect(requestFingerprint([{ productId: A, quantity: 2 }])).not.toBe(base);
    expect(requestFingerprint([{ productId: B, quantity: 1 }])).not.toBe(base);
    expect(requestFingerprint([{ productId: A, quantity: 1 }, { productId: B, quantity: 1 }])).not.toBe(base);
  });
});

describe('asPlaced', () => {
  it('answers the order as its placement did: pending, the first change of its history, updated when created', () => {
    const placedAt = '2026-12-04T10:00:00.000Z';
    const order: Order = {
      id: A,
      userId: B,
      status: 'failed',
      items: [{ productId: A, sku: 'MUG', name: 'Mug', quantity: 2, unitPriceCents: 500, lineTotalCents: 1000 }],
      totalCents: 1000,
      currency: 'USD',
      failureReason: 'card declined',
      history: [
        { status: 'pending', at: placedAt },
        { status: 'processing', at: '2026-12-04T10:00:00.050Z' },
        { status: 'failed', at: '2026-12-04T10:00:00.090Z' },
      ],
      createdAt: placedAt,
      updatedAt: '2026-12-04T10:00:00.090Z',
    };
    expect(asPlaced(order)).toEqual({ ...order, status: 'pending', failureReason: null, history: [{ status: 'pending', at: placedAt }], updatedAt: placedAt });
    expect(order.status).toBe('failed');
  });
});
