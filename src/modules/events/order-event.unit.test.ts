import { describe, expect, it } from 'vitest';
import type { Order } from '../orders/index.js';
import { orderAsOf } from './order-event.js';

const failed: Order = {
  id: 'o1',
  userId: 'u1',
  status: 'failed',
  items: [],
  totalCents: 100,
  currency: 'USD',
  failureReason: 'Payment declined',
  history: [
    { status: 'pending', at: '2026-12-02T10:00:00.000Z' },
    { status: 'processing', at: '2026-12-02T10:00:01.000Z' },
    { status: 'failed', at: '2026-12-02T10:00:02.000Z' },
  ],
  createdAt: '2026-12-02T10:00:00.000Z',
  updatedAt: '2026-12-02T10:00:02.123Z',
};

describe('orderAsOf', () => {
  it('rebuilds an earlier step from the order as it is now: status, history up to it, its time, no failure reason yet', () => {
    expect(orderAsOf(failed, 'order.processing')).toEqual({
      ...failed,
      status: 'processing',
      failureReason: null,
      history: failed.history.slice(0, 2),
      updatedAt: '2026-12-02T10:00:01.000Z',
    });
  });

  it('leaves the latest step as it is', () => {
    expect(orderAsOf(failed, 'order.failed')).toEqual(failed);
  });

  it('answers the order as it is when the step is not in its history', () => {
    expect(orderAsOf(failed, 'order.cancelled')).toBe(failed);
  });
});
