/**
 * A string cache with a TTL on every key. Implementations never throw on read: a cache that
 * cannot answer is a miss. `delete` does throw, because a failed eviction may leave a stale
 * copy behind and the caller must know.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  readonly kind: 'memory' | 'redis';
}
