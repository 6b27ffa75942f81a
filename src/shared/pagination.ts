import { z } from 'zod';
import { ValidationError } from './errors.js';
import { isUuid } from './ids.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `?limit=` (1..100, default 20) and an opaque `?cursor=` from a previous page. */
export const pageQuery = z.object({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').default(20),
  cursor: z.string().min(1).max(512).optional(),
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

/**
 * Decodes a `[key, id]` keyset cursor (key a string that `acceptKey` vouches for, id a UUID),
 * or throws a 400 naming `cursor`: a client can only send back what a previous page gave it.
 */
export function decodeKeysetCursor(cursor: string, acceptKey: (key: string) => boolean): { key: string; id: string } {
  const position = decodeCursor(cursor);
  const [key, id] = position ?? [];
  if (position?.length !== 2 || typeof key !== 'string' || typeof id !== 'string' || !acceptKey(key) || !isUuid(id)) {
    throw new ValidationError('Invalid query — cursor: is not a cursor from a previous page', [
      { path: 'cursor', message: 'is not a cursor from a previous page' },
    ]);
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
