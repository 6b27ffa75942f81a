import { describe, expect, it } from 'vitest';
import { canTransition, ORDER_STATUSES, ORDER_TRANSITIONS, sourcesOf, STOCK_EFFECT_ON_ENTRY, type OrderStatus } from './order-status.js';

const TERMINAL: OrderStatus[] = ['completed', 'failed', 'cancelled'];

describe('order status machine', () => {
  it('moves pending → processing → completed or failed, and pending → cancelled; nothing else', () => {
    const allowed = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`));
    expect(allowed.sort()).toEqual(['pending→cancelled', 'pending→processing', 'processing→completed', 'processing→failed']);
  });

  it('never leaves a terminal status and never stays in place', () => {
    for (const from of TERMINAL) expect(ORDER_TRANSITIONS[from]).toEqual([]);
    for (const status of ORDER_STATUSES) expect(canTransition(status, status)).toBe(false);
  });

  it('when processing has started, then the order can no longer be cancelled', () => {
    expect(canTransition('processing', 'cancelled')).toBe(false);
    expect(sourcesOf('cancelled')).toEqual(['pending']);
  });

  it('names, for each target, exactly the statuses a guarded UPDATE may move from', () => {
    expect(sourcesOf('processing')).toEqual(['pending']);
    expect(sourcesOf('completed')).toEqual(['processing']);
    expect(sourcesOf('failed')).toEqual(['processing']);
    expect(sourcesOf('pending')).toEqual([]);
  });

  it('settles reserved stock on entering each terminal status: sold when completed, released otherwise', () => {
    expect(STOCK_EFFECT_ON_ENTRY).toEqual({ completed: 'sale', failed: 'release', cancelled: 'release' });
    for (const status of TERMINAL) expect(STOCK_EFFECT_ON_ENTRY[status]).toBeDefined();
    for (const status of ORDER_STATUSES.filter((s) => !TERMINAL.includes(s))) expect(STOCK_EFFECT_ON_ENTRY[status]).toBeUndefined();
  });
});
