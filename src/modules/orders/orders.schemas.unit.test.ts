import { describe, expect, it } from 'vitest';
import { placeOrderBody } from './orders.schemas.js';

const MUG = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

const issuesOf = (items: unknown) => {
  const result = placeOrderBody.safeParse({ items });
  return result.success ? [] : result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
};

describe('placeOrderBody: quantity limits', () => {
  it('when one line asks for more than 1000, then that line gets one message, not a second one about merged lines', () => {
    expect(issuesOf([{ productId: MUG, quantity: 100_000 }])).toEqual([{ path: 'items.0.quantity', message: 'must be between 1 and 1000' }]);
  });

  it('when lines for one product (in any letter case) add up to more than 1000, then the line that crosses the limit is named', () => {
    expect(
      issuesOf([
        { productId: MUG, quantity: 600 },
        { productId: MUG.toUpperCase(), quantity: 600 },
      ]),
    ).toEqual([{ path: 'items.1.quantity', message: 'lines for one product add up to more than 1000' }]);
  });

  it('when a line over the limit follows others of its product, then it gets only its own message', () => {
    expect(
      issuesOf([
        { productId: MUG, quantity: 600 },
        { productId: MUG, quantity: 2000 },
      ]),
    ).toEqual([{ path: 'items.1.quantity', message: 'must be between 1 and 1000' }]);
  });

  it('when lines for one product add up to exactly 1000, then the body is accepted', () => {
    expect(
      issuesOf([
        { productId: MUG, quantity: 400 },
        { productId: MUG, quantity: 600 },
      ]),
    ).toEqual([]);
  });
});
