import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Cache } from './cache.js';

export function createRedisCache(redis: Redis, prefix: string, logger: Logger): Cache {
  const full = (key: string) => `${prefix}:cache:${key}`;
  return {
    kind: 'redis',
    async get(key) {
      try {
        return (await redis.get(full(key))) ?? undefined;
      } catch (error) {
        logger.warn('cache read failed; serving from the database', { key, error: (error as Error).message });
        return undefined;
      }
    },
    async set(key, value, ttlSeconds) {
      try {
        await redis.set(full(key), value, 'EX', ttlSeconds);
      } catch (error) {
        logger.warn('cache write failed', { key, error: (error as Error).message });
      }
    },
    async delete(key) {
      await redis.del(full(key));
    },
  };
}
