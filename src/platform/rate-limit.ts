import type { RedisClient as Redis } from './redis.js';
import { LRUCache } from 'lru-cache';
import { RateLimitedError } from '../shared/errors.js';

/**
 * A counter per key that allows `points` events per window of `windowSeconds`. The window of a
 * key starts at its first event and ends by itself, so every lockout is temporary.
 */
export interface RateLimiter {
  /**
   * Counts one event and throws `RateLimitedError` when that goes over the limit. Counting and
   * checking are one atomic step, so N parallel calls let through at most `points`, never more.
   */
  consume(key: string): Promise<void>;
  /** Takes back one event counted by `consume` (a reservation that turned out not to count). */
  refund(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

export interface RateLimiterOptions {
  name: string;
  points: number;
  windowSeconds: number;
}

/** Milliseconds since the epoch; tests pass their own to move time without waiting. */
export type Clock = () => number;

/** The state of one key after a change: its count and when its window started. */
interface Window {
  count: number;
  startedAt: number;
}

interface Store {
  /** Adds `delta` (1 or -1) to the key's count; a +1 on an ended window starts a new one. */
  add(key: string, delta: 1 | -1, now: number, windowMs: number): Promise<Window>;
  delete(key: string): Promise<void>;
}

function memoryStore(): Store {
  // Bounded: an attacker cycling keys evicts the oldest counters, never exhausts memory. Bounded
  // by size rather than `max`, which allocates every slot up front (~50 ms for 100,000): each
  // limiter of every process would pay that, though in server mode it is only the fallback.
  const windows = new LRUCache<string, Window>({ maxSize: 100_000, sizeCalculation: () => 1 });
  return {
    add(key, delta, now, windowMs) {
      let window = windows.get(key);
      if (!window || now >= window.startedAt + windowMs) {
        if (delta < 0) return Promise.resolve({ count: 0, startedAt: now });
        window = { count: 0, startedAt: now };
        windows.set(key, window);
      }
      window.count = Math.max(0, window.count + delta);
      return Promise.resolve({ ...window });
    },
    delete(key) {
      windows.delete(key);
      return Promise.resolve();
    },
  };
}

/** The same steps as the memory store, in one script: Redis runs it atomically. */
const ADD_SCRIPT = `
local now, windowMs, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local startedAt = tonumber(redis.call('HGET', KEYS[1], 's'))
if not startedAt or now >= startedAt + windowMs then
  if delta < 0 then return {0, now} end
  startedAt = now
  redis.call('HSET', KEYS[1], 's', startedAt, 'n', 0)
end
local count = redis.call('HINCRBY', KEYS[1], 'n', delta)
if count < 0 then count = 0; redis.call('HSET', KEYS[1], 'n', 0) end
redis.call('PEXPIRE', KEYS[1], math.max(1000, startedAt + windowMs - now + 1000))
return {count, startedAt}`;

type ScriptedRedis = Redis & { rateLimitAdd(key: string, now: number, windowMs: number, delta: number): Promise<[number, number]> };

function redisStore(client: Redis, prefix: string): Store {
  const scripted = client as ScriptedRedis;
  // defineCommand sends EVALSHA, falling back to EVAL once per connection.
  if (typeof scripted.rateLimitAdd !== 'function') client.defineCommand('rateLimitAdd', { numberOfKeys: 1, lua: ADD_SCRIPT });
  return {
    async add(key, delta, now, windowMs) {
      const [count, startedAt] = await scripted.rateLimitAdd(`${prefix}:${key}`, now, windowMs, delta);
      return { count: Number(count), startedAt: Number(startedAt) };
    },
    async delete(key) {
      await client.del(`${prefix}:${key}`);
    },
  };
}

/**
 * Counters live in Redis in server mode, shared by every instance. While Redis is unreachable
 * each instance falls back to its own in-memory counters, so limits keep applying per instance
 * rather than failing open or locking everybody out.
 */
function withFallback(client: Redis, shared: Store, local: Store): Store {
  const pick = () => (client.status === 'ready' ? shared : local);
  return {
    add: (key, delta, now, windowMs) => pick().add(key, delta, now, windowMs).catch(() => local.add(key, delta, now, windowMs)),
    delete: (key) => pick().delete(key).catch(() => local.delete(key)),
  };
}

export function createRateLimiter(options: RateLimiterOptions, redis?: { client: Redis; prefix: string }, clock: Clock = Date.now): RateLimiter {
  const windowMs = options.windowSeconds * 1000;
  const local = memoryStore();
  const store = redis ? withFallback(redis.client, redisStore(redis.client, `${redis.prefix}:limit:${options.name}`), local) : local;
  return {
    async consume(key) {
      const now = clock();
      const { count, startedAt } = await store.add(key, 1, now, windowMs);
      if (count > options.points) throw new RateLimitedError(Math.max(1, Math.ceil((startedAt + windowMs - now) / 1000)));
    },
    async refund(key) {
      await store.add(key, -1, clock(), windowMs);
    },
    reset: (key) => store.delete(key),
  };
}
