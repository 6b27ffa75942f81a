import { deleteKeysMatching, type RedisClient } from '../redis.js';
import type { Logger } from '../logger.js';
import type { Cache } from './cache.js';

interface CacheCommands {
  /** PUT_IF_NEWER, sent by SHA after the first call (ioredis `defineCommand`). */
  opsPutIfNewer(key: string, version: number, value: string, ttlSeconds: number, owner: string): Promise<number>;
}

// Compare-and-set on the version field, atomically in Redis: an older copy never wins.
const PUT_IF_NEWER = `
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2], 'o', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export function createRedisCache(redis: RedisClient, prefix: string, logger: Logger): Cache {
  redis.defineCommand('opsPutIfNewer', { numberOfKeys: 1, lua: PUT_IF_NEWER });
  const commands = redis as unknown as CacheCommands;
  const full = (key: string) => `${prefix}:cache:${key}`;
  const warn = (operation: string, key: string, error: unknown) =>
    logger.warn(`cache ${operation} failed`, { key, error: (error as Error).message });
  return {
    kind: 'redis',
    async get(key) {
      try {
        const [value, owner] = await redis.hmget(full(key), 'd', 'o');
        return value && owner ? { value, owner } : undefined;
      } catch (error) {
        warn('read', key, error);
        return undefined;
      }
    },
    async put(key, version, entry, ttlSeconds) {
      try {
        await commands.opsPutIfNewer(full(key), version, entry.value, ttlSeconds, entry.owner);
        return true;
      } catch (error) {
        warn('write', key, error);
        return false;
      }
    },
    clear: () => deleteKeysMatching(redis, full('*')),
  };
}
