import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.js';

export function createMemoryCache(maxEntries = 10_000): Cache {
  const entries = new LRUCache<string, string>({ max: maxEntries, ttlAutopurge: false });
  return {
    kind: 'memory',
    get: (key) => Promise.resolve(entries.get(key)),
    set: (key, value, ttlSeconds) => {
      entries.set(key, value, { ttl: ttlSeconds * 1000 });
      return Promise.resolve();
    },
    delete: (key) => {
      entries.delete(key);
      return Promise.resolve();
    },
  };
}
