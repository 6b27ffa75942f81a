import type { Cache } from '../../platform/cache/index.js';
import type { VersionedOrder } from './order.js';

/** Short enough that a copy left behind by a cache outage ages out quickly. */
export const ORDER_CACHE_TTL_SECONDS = 60;

const keyOf = (orderId: string) => `order:${orderId}`;

/** A cached order as stored: its owner, and its JSON exactly as it is sent to clients. */
export interface CachedOrder {
  userId: string;
  json: string;
}

/**
 * Cache-aside copies of orders. Entries carry the order's version and only a newer version
 * replaces them, so a reader that loaded an order just before a status change cannot put the
 * old status back after the change stored the new one. The owner is stored beside the JSON so
 * a hit is checked and served without parsing it.
 */
export function createOrderCache(cache: Cache) {
  return {
    async get(orderId: string): Promise<CachedOrder | undefined> {
      const entry = await cache.get(keyOf(orderId));
      return entry && { userId: entry.owner, json: entry.value };
    },
    /** False when the cache could not be reached (the entry may now be stale until its TTL). */
    put(entry: VersionedOrder, json: string = JSON.stringify(entry.order)): Promise<boolean> {
      return cache.put(keyOf(entry.order.id), entry.version, { value: json, owner: entry.order.userId }, ORDER_CACHE_TTL_SECONDS);
    },
  };
}

export type OrderCache = ReturnType<typeof createOrderCache>;
