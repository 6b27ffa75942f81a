import type { Cache } from '../../platform/cache/index.js';
import type { Order, VersionedOrder } from './order.js';

/** Short enough that a copy left behind by a cache outage ages out quickly. */
export const ORDER_CACHE_TTL_SECONDS = 60;

const keyOf = (orderId: string) => `order:${orderId}`;

/**
 * Cache-aside copies of orders. Entries carry the order's version and only a newer version
 * replaces them, so a reader that loaded an order just before a status change cannot put the
 * old status back after the change stored the new one.
 */
export function createOrderCache(cache: Cache) {
  return {
    async get(orderId: string): Promise<Order | undefined> {
      const raw = await cache.get(keyOf(orderId));
      return raw ? (JSON.parse(raw) as Order) : undefined;
    },
    /** False when the cache could not be reached (the entry may now be stale until its TTL). */
    put(entry: VersionedOrder): Promise<boolean> {
      return cache.put(keyOf(entry.order.id), entry.version, JSON.stringify(entry.order), ORDER_CACHE_TTL_SECONDS);
    },
  };
}

export type OrderCache = ReturnType<typeof createOrderCache>;
