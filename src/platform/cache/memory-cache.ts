import { LRUCache } from 'lru-cache';
import type { Cache, CacheEntry } from './cache.js';

interface Versioned extends CacheEntry {
  version: number;
}

export function createMemoryCache(maxEntries = 10_000): Cache {
  // maxSize rather than max, which allocates every slot up front: the cache grows with use.
  const entries = new LRUCache<string, Versioned>({ maxSize: maxEntries, sizeCalculation: () => 1 });
  return {
    kind: 'memory',
    get(key) {
      const found = entries.get(key);
      return Promise.resolve(found && { value: found.value, owner: found.owner });
    },
    put(key, version, entry, ttlSeconds) {
      const current = entries.get(key);
      if (!current || current.version < version) entries.set(key, { ...entry, version }, { ttl: ttlSeconds * 1000 });
      return Promise.resolve(true);
    },
    clear() {
      const count = entries.size;
      entries.clear();
      return Promise.resolve(count);
    },
  };
}
