const MAX_DELAY_MS = 24 * 3_600_000;

/**
 * Delay before the attempt after `attempt` (1-based): exponential from `baseMs` (×4 each time)
 * with ±25 % jitter, so endpoints that failed together do not retry together. With the default
 * 15 s base, 8 attempts span about a day: 15 s, 1 min, 4 min, 16 min, 64 min, 4.3 h, 17 h.
 */
export function retryDelayMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  // At most a day (before jitter; the default schedule stays below it): WEBHOOK_MAX_ATTEMPTS
  // allows 50, and from the 21st attempt ×4 each time is past the dates PostgreSQL stores, so the
  // attempt was never recorded and the delivery was sent again every lease, never failing.
  const exponential = Math.min(baseMs * 4 ** Math.max(0, attempt - 1), MAX_DELAY_MS);
  return Math.round(exponential * (0.75 + random() * 0.5));
}
