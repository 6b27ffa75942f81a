import { z } from 'zod';

/**
 * A query-string integer as people write one: decimal digits only. `z.coerce.number()` alone
 * also takes "0x10", "1e1", " 1" and "" (as 0); those become NaN here, which `schema` refuses
 * with its own message. Digits beyond what a number holds exactly (400 nines is Infinity) become
 * the largest exact integer, so `schema` calls them out of range rather than "not an integer".
 * The OpenAPI document shows `schema`.
 */
export function queryInteger<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== 'string') return value;
    return /^[0-9]+$/.test(value) ? Math.min(Number(value), Number.MAX_SAFE_INTEGER) : Number.NaN;
  }, schema);
}
