import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { CURSOR_KEYS, decodeCursor, decodeKeysetCursor, encodeCursor, InvalidCursorError, pageQuery, toPage } from './pagination.js';

const ID = '6f1c1f39-4a3c-4d53-9d7e-3c2f1f0b8a11';
const anyKey = () => true;

describe('cursors', () => {
  it('round-trip a keyset position as URL-safe text', () => {
    const cursor = encodeCursor(['MUG-01', ID]);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(['MUG-01', ID]);
    expect(decodeKeysetCursor(cursor, anyKey)).toEqual({ key: 'MUG-01', id: ID });
  });

  it.each([
    ['garbage', 'not a cursor!'],
    ['base64 of invalid JSON', Buffer.from('[oops').toString('base64url')],
    ['base64 of an object', Buffer.from('{"a":1}').toString('base64url')],
  ])('decodeCursor answers undefined for %s', (_label, cursor) => {
    expect(decodeCursor(cursor)).toBeUndefined();
  });

  it.each([
    ['one part', encodeCursor(['A'])],
    ['three parts', encodeCursor(['A', ID, 'x'])],
    ['a number key', encodeCursor([1, ID])],
    ['a malformed id', encodeCursor(['A', 'not-a-uuid'])],
    ['garbage', '!!!'],
    ['nothing at all', ''],
    ['more than 512 characters', encodeCursor(['A'.repeat(400), ID])],
  ])('a keyset cursor with %s is a 400 INVALID_CURSOR naming cursor', (_label, cursor) => {
    let caught: unknown;
    try {
      decodeKeysetCursor(cursor, anyKey);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidCursorError);
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).code).toBe('INVALID_CURSOR');
    expect((caught as ValidationError).errors).toEqual([expect.objectContaining({ path: 'cursor' })]);
  });

  it('refuses a key that the caller does not vouch for', () => {
    const at = '2026-01-01T00:00:00.000Z';
    expect(decodeKeysetCursor(encodeCursor([at, ID]), CURSOR_KEYS.timestamp)).toEqual({ key: at, id: ID });
    expect(() => decodeKeysetCursor(encodeCursor(['2026-01-01', ID]), CURSOR_KEYS.timestamp)).toThrow(InvalidCursorError);
    expect(() => decodeKeysetCursor(encodeCursor(['2026-02-30T00:00:00.000Z', ID]), CURSOR_KEYS.timestamp)).toThrow(InvalidCursorError);
    // JavaScript has a year 0; PostgreSQL does not, and would refuse it as a bad input.
    expect(() => decodeKeysetCursor(encodeCursor(['0000-01-01T00:00:00.000Z', ID]), CURSOR_KEYS.timestamp)).toThrow(InvalidCursorError);
    expect(() => decodeKeysetCursor(encodeCursor(['-MUG', ID]), CURSOR_KEYS.sku)).toThrow(InvalidCursorError);
    expect(decodeKeysetCursor(encodeCursor(['MUG-01', ID]), CURSOR_KEYS.sku).key).toBe('MUG-01');
  });
});

describe('microsecond timestamp keys', () => {
  it.each(['2026-12-06T00:21:25.123456Z', '2024-02-29T23:59:59.999999Z'])('accepts %s', (key) => {
    expect(CURSOR_KEYS.timestampMicros(key)).toBe(true);
  });

  it.each(['2026-12-06T00:21:25.123Z', '2026-02-30T00:00:00.000000Z', '0000-01-01T00:00:00.000000Z', '1', 'March 7', '2026-12-06', '2026-12-06T00:21:25.123456+01:00'])(
    'refuses %s',
    (key) => {
      expect(CURSOR_KEYS.timestampMicros(key)).toBe(false);
    },
  );
});

describe('toPage', () => {
  const rows = [1, 2, 3, 4].map((n) => ({ n, key: `k${n}` }));
  const page = (fetched: typeof rows, limit: number) => toPage(fetched, limit, (row) => row.n, (row) => [row.key, row.n]);

  it('when one row more than the limit was fetched, then shows the limit and points the cursor at the last shown row', () => {
    const result = page(rows, 3);
    expect(result.items).toEqual([1, 2, 3]);
    expect(decodeCursor(result.nextCursor!)).toEqual(['k3', 3]);
  });

  it('when no extra row was fetched, then it is the last page', () => {
    expect(page(rows.slice(0, 3), 3)).toEqual({ items: [1, 2, 3], nextCursor: null });
    expect(page([], 3)).toEqual({ items: [], nextCursor: null });
  });
});

describe('pageQuery', () => {
  it('defaults the limit to 20 and accepts 1..100', () => {
    expect(pageQuery.parse({})).toEqual({ limit: 20 });
    expect(pageQuery.parse({ limit: '1' }).limit).toBe(1);
    expect(pageQuery.parse({ limit: '100', cursor: 'abc' })).toEqual({ limit: 100, cursor: 'abc' });
  });

  it.each(['0', '101', '-1', 'abc', '1.5', '0x10', '1e1', ' 1', '', '+5'])('refuses limit=%j', (limit) => {
    expect(pageQuery.safeParse({ limit }).success).toBe(false);
  });

  it.each([
    ['ten digits', '1000000000'],
    ['twenty digits', '99999999999999999999'],
    ['400 digits (Infinity as a number)', '9'.repeat(400)],
  ])('refuses a limit of %s as out of range, not as "not an integer"', (_label, limit) => {
    const result = pageQuery.safeParse({ limit });
    expect(result.error?.issues.map((issue) => issue.message)).toEqual(['must be between 1 and 100']);
  });

  it('accepts leading zeros however many', () => {
    expect(pageQuery.parse({ limit: '0000000005' }).limit).toBe(5);
  });
});
