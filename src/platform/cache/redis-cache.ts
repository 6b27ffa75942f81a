import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { Cache } from './cache.js';

// Compare-and-set on the version field, atomically in Redis: an older copy never wins.
const PUT_IF_NEWER = `
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export function createRedisCache(redis: Redis, prefix: string, logger: Logger): Cache {
  const full = (key: string) => `${prefix}:cache:${key}`;
  const warn = (operation: string, key: string, error: unknown) =>
    logger.warn(`cache ${operation} failed`, { key, error: (error as Error).message });
  return {
    kind: 'redis',
    async get(key) {
      try {
        return (await redis.hget(full(key), 'd')) ?? undefined;
      } catch (error) {
        warn('read', key, error);
        return undefined;
      }
    },
    async put(key, version, value, ttlSeconds) {
      try {
        await redis.eval(PUT_IF_NEWER, 1, full(key), version, value, ttlSeconds);
        return true;
      } catch (error) {
        warn('write', key, error);
        return false;
      }
    },
    async delete(key) {
      try {
        await redis.del(full(key));
        return true;
      } catch (error) {
        warn('delete', key, error);
        return false;
      }
    },
  };
}
