import type { RedisClient } from './redis.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { RateLimitedError } from '../shared/errors.js';

/** A counter per key that allows `points` events per fixed window of `windowSeconds`. */
export interface RateLimiter {
  /** Throws `RateLimitedError` when `key` has already used up its window. Consumes nothing. */
  assertNotExceeded(key: string): Promise<void>;
  /** Counts one event; throws `RateLimitedError` when that goes over the limit. */
  consume(key: string): Promise<void>;
  /** Counts one event without throwing (e.g. a failed login that was already answered). */
  penalize(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

export interface RateLimiterOptions {
  name: string;
  points: number;
  windowSeconds: number;
}

function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

function wrap(limiter: RateLimiterAbstract, points: number): RateLimiter {
  const rejectIfOver = (error: unknown): never => {
    if (error instanceof RateLimiterRes) throw new RateLimitedError(retryAfterSeconds(error.msBeforeNext));
    throw error;
  };
  return {
    async assertNotExceeded(key) {
      const state = await limiter.get(key);
      if (state && state.consumedPoints >= points) throw new RateLimitedError(retryAfterSeconds(state.msBeforeNext));
    },
    async consume(key) {
      await limiter.consume(key).catch(rejectIfOver);
    },
    async penalize(key) {
      await limiter.penalty(key);
    },
    async reset(key) {
      await limiter.delete(key);
    },
  };
}

/**
 * In server mode counters live in Redis, shared by every instance. While Redis is unreachable
 * each instance falls back to its own in-memory counters (the "insurance" limiter), so limits
 * keep applying per instance rather than failing open or locking everybody out.
 */
export function createRateLimiter(options: RateLimiterOptions, redis?: { client: RedisClient; prefix: string }): RateLimiter {
  const common = { points: options.points, duration: options.windowSeconds };
  const memory = new RateLimiterMemory({ ...common, keyPrefix: options.name });
  if (!redis) return wrap(memory, options.points);
  const shared = new RateLimiterRedis({
    ...common,
    storeClient: redis.client,
    keyPrefix: `${redis.prefix}:rl:${options.name}`,
    rejectIfRedisNotReady: true,
    insuranceLimiter: memory,
  });
  return wrap(shared, options.points);
}
