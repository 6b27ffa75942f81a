import { z } from 'zod';
import { ValidationError } from './errors.js';
import { isUuid } from './ids.js';
import { queryInteger } from './query.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Longer than any cursor this service writes (a 64-character SKU or a timestamp, and a UUID). */
const MAX_CURSOR_LENGTH = 512;

/**
 * `?limit=` (1..100, default 20) and an opaque `?cursor=` from a previous page; what a cursor may
 * be (the empty string and overlong ones included) is `decodeKeysetCursor`'s to say, so that
 * every malformed cursor answers `INVALID_CURSOR`; the document states the length it allows.
 */
export const pageQuery = z.object({
  limit: queryInteger(z.coerce.number('must be an integer').int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100')).default(20),
  cursor: z.string().meta({ minLength: 1, maxLength: MAX_CURSOR_LENGTH }).optional(),
});

/** Cursors are opaque to clients: base64url of the keyset position (a small JSON array). */
export function encodeCursor(position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** Returns the keyset position, or `undefined` if the cursor was not one of ours. */
export function decodeCursor(cursor: string): unknown[] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** What a keyset cursor's key may be: checked strictly, so nothing the database would reject gets through. */
export const CURSOR_KEYS = {
  /** A product SKU, as the catalog allows them. */
  sku: (key: string) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(key),
  /** An ISO 8601 UTC timestamp exactly as `Date.prototype.toISOString` writes it, of a real date. */
  timestamp: (key: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(key) && isRealUtcTime(key),
  /** The same with microseconds, as `isoUtcMicros` writes it. */
  timestampMicros: (key: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(key) && isRealUtcTime(`${key.slice(0, 23)}Z`),
} as const;

/** A real date and time, as JavaScript writes it back, in a year PostgreSQL has (it has no year 0). */
function isRealUtcTime(iso: string): boolean {
  const time = new Date(iso);
  return !iso.startsWith('0000') && !Number.isNaN(time.getTime()) && time.toISOString() === iso;
}

export class InvalidCursorError extends ValidationError {
  constructor() {
    super('Invalid query — cursor: is not a cursor from a previous page', [{ path: 'cursor', message: 'is not a cursor from a previous page' }], 'INVALID_CURSOR');
  }
}

/**
 * Decodes a `[key, id]` keyset cursor (key a string that `acceptKey` vouches for, id a UUID),
 * or throws 400 `INVALID_CURSOR`: a client can only send back what a previous page gave it.
 */
export function decodeKeysetCursor(cursor: string, acceptKey: (key: string) => boolean): { key: string; id: string } {
  const position = cursor.length > 0 && cursor.length <= MAX_CURSOR_LENGTH ? decodeCursor(cursor) : undefined;
  const [key, id] = position ?? [];
  if (position?.length !== 2 || typeof key !== 'string' || typeof id !== 'string' || !acceptKey(key) || !isUuid(id)) {
    throw new InvalidCursorError();
  }
  return { key, id };
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says whether more exist. */
export function toPage<Row, T>(rows: Row[], limit: number, map: (row: Row) => T, position: (row: Row) => (string | number)[]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}
