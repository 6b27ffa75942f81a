import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.js';

interface Entry {
  version: number;
  value: string;
}

export function createMemoryCache(maxEntries = 10_000): Cache {
  const entries = new LRUCache<string, Entry>({ max: maxEntries });
  return {
    kind: 'memory',
    get: (key) => Promise.resolve(entries.get(key)?.value),
    put(key, version, value, ttlSeconds) {
      const current = entries.get(key);
      if (!current || current.version < version) entries.set(key, { version, value }, { ttl: ttlSeconds * 1000 });
      return Promise.resolve(true);
    },
    delete(key) {
      entries.delete(key);
      return Promise.resolve(true);
    },
  };
}
