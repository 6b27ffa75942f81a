import { z } from 'zod';

/**
 * A query-string integer as people write one: decimal digits only. `z.coerce.number()` alone
 * also takes "0x10", "1e1", " 1" and "" (as 0); those become NaN here, which `schema` refuses
 * with its own message. The OpenAPI document shows `schema`.
 */
export function queryInteger<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (typeof value === 'string' && !/^[0-9]{1,9}$/.test(value) ? Number.NaN : value), schema);
}
