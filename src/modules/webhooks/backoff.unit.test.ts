import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff.js';

describe('retryDelayMs', () => {
  it('grows ×4 per attempt from the base', () => {
    const middle = () => 0.5;
    expect([1, 2, 3].map((attempt) => retryDelayMs(attempt, 15_000, middle))).toEqual([15_000, 60_000, 240_000]);
  });

  it('jitters within ±25 %', () => {
    expect(retryDelayMs(2, 1000, () => 0)).toBe(3000);
    expect(retryDelayMs(2, 1000, () => 1)).toBe(5000);
  });

  it('spreads the default 8 attempts over about a day', () => {
    const total = [1, 2, 3, 4, 5, 6, 7].reduce((sum, attempt) => sum + retryDelayMs(attempt, 15_000, () => 0.5), 0);
    expect(total / 3_600_000).toBeGreaterThan(20);
    expect(total / 3_600_000).toBeLessThan(30);
  });

  it('waits at most a day (before jitter), however many attempts are allowed', () => {
    expect(retryDelayMs(50, 15_000, () => 0.5)).toBe(24 * 3_600_000);
    expect(retryDelayMs(7, 15_000, () => 0.5)).toBe(15_000 * 4 ** 6);
  });
});
