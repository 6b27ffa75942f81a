import { whenReady, type RedisClient } from './redis.js';
import { withTimeout } from '../shared/timeout.js';

/**
 * A number that only goes up, kept in Redis: the highest id a database sequence has handed out,
 * remembered outside that database. `raise` is fire-and-forget and sends at most one command per
 * `everyMs` (ZADD … GT: Redis keeps the larger value, so processes never lower it); what it did
 * not send yet is at most `everyMs` of ids, which the reader's margin covers.
 */
export interface HighWaterMark {
  raise(value: number): void;
  /** The mark, or undefined when none is kept; fails after `timeoutMs` rather than waiting on an unreachable Redis. */
  read(timeoutMs?: number): Promise<number | undefined>;
}

const MEMBER = 'mark';

export function createHighWaterMark(redis: RedisClient, key: string, options: { everyMs?: number; now?: () => number } = {}): HighWaterMark {
  const everyMs = options.everyMs ?? 1000;
  const now = options.now ?? Date.now;
  let sentAt = -Infinity;
  let highest = 0;
  return {
    raise(value) {
      highest = Math.max(highest, value);
      if (now() - sentAt < everyMs || redis.status !== 'ready') return;
      sentAt = now();
      redis.zadd(key, 'GT', highest, MEMBER).catch(() => undefined);
    },
    async read(timeoutMs = 1000) {
      // A process reads it right after connecting (start-up): the connection may still be opening.
      if (!(await whenReady(redis, timeoutMs))) throw new Error(`Redis was not reachable within ${timeoutMs} ms`);
      const score = await withTimeout(redis.zscore(key, MEMBER), timeoutMs, `reading ${key}`);
      return score === null ? undefined : Number(score);
    },
  };
}
