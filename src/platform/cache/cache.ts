/**
 * A cache of versioned entries with a TTL on every key. `put` only replaces an entry with a
 * newer version, so a reader that loaded an old copy can never overwrite a newer one written
 * by a status change. Reads never throw (a cache that cannot answer is a miss); `put` reports
 * whether the entry was stored, so a caller that must not leave a stale copy can retry.
 * Each entry has an `owner` tag, so access can be checked without parsing the value.
 */
export interface CacheEntry {
  value: string;
  owner: string;
}

export interface Cache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores the entry unless one with the same or a newer version is there. False if the cache could not be reached. */
  put(key: string, version: number, entry: CacheEntry, ttlSeconds: number): Promise<boolean>;
  /** Drops every entry (after a restore, when entries may be newer than the database); answers how many. */
  clear(): Promise<number>;
}
