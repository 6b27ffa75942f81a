import { z } from 'zod';
import { MAX_PRICE_CENTS } from '../../shared/money.js';
import { MULTI_LINE_TEXT, NO_CONTROL_CHARACTERS } from '../../shared/text.js';

export const MAX_STOCK = 1_000_000;

// PostgreSQL text cannot hold NUL; rejecting it here keeps such input a 400 instead of a 500.
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters');

const name = text(200)
  .refine((value) => value.length > 0, 'must not be empty')
  .refine((value) => NO_CONTROL_CHARACTERS.test(value), 'must be printable text on one line (no control or invisible characters)');
const description = text(2000).refine((value) => MULTI_LINE_TEXT.test(value), 'must not contain control characters other than line breaks');
const priceCents = z
  .number()
  .int('must be an integer number of cents')
  .min(0, 'must not be negative')
  .max(MAX_PRICE_CENTS, `must be at most ${MAX_PRICE_CENTS}`);

export const createProductBody = z.object({
  sku: z
    .string()
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"'),
  name,
  description: description.optional(),
  priceCents,
  stock: z.number().int('must be an integer').min(0, 'must not be negative').max(MAX_STOCK, `must be at most ${MAX_STOCK}`),
});

// Stock, currency and ids are not listed, so zod strips them: they can never be patched.
export const updateProductBody = z
  .object({ name: name.optional(), description: description.optional(), priceCents: priceCents.optional() })
  .refine((body) => body.name !== undefined || body.description !== undefined || body.priceCents !== undefined, {
    message: 'send at least one of name, description, priceCents',
  });

export const adjustStockBody = z.object({
  adjustment: z
    .number()
    .int('must be an integer')
    .min(-MAX_STOCK, `must be between -${MAX_STOCK} and ${MAX_STOCK}`)
    .max(MAX_STOCK, `must be between -${MAX_STOCK} and ${MAX_STOCK}`)
    .refine((value) => value !== 0, 'must not be zero'),
});

/** Any syntactically valid UUID; anything else cannot name a product (and would make PostgreSQL throw). */
export const productId = z.guid();

export type CreateProductBody = z.infer<typeof createProductBody>;
export type UpdateProductBody = z.infer<typeof updateProductBody>;
export type AdjustStockBody = z.infer<typeof adjustStockBody>;
