import { z } from 'zod';
import { pageQuery } from '../../shared/pagination.js';
import { ORDER_STATUSES } from './order-status.js';

export const MAX_LINES = 50;
export const MAX_QUANTITY = 1000;

const orderLine = z.object({
  productId: z.uuid('must be a product id (UUID)'),
  quantity: z.number('must be a number').int('must be a whole number').min(1, `must be between 1 and ${MAX_QUANTITY}`).max(MAX_QUANTITY, `must be between 1 and ${MAX_QUANTITY}`),
});

/** Only the lines: prices, totals, status, owner or ids in the body are stripped, never applied. */
export const placeOrderBody = z
  .object({
    items: z.array(orderLine, 'must be a list of {productId, quantity}').min(1, 'must have at least one line').max(MAX_LINES, `must have at most ${MAX_LINES} lines`),
  })
  .superRefine((body, ctx) => {
    // Lines for one product are merged, and the merged line obeys the same limit. (This runs
    // even when a line failed its own checks: such a line already has its message, and is not
    // counted, so it gets no second one.)
    const totals = new Map<string, number>();
    body.items.forEach((line, index) => {
      if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_QUANTITY || typeof line.productId !== 'string') return;
      const id = line.productId.toLowerCase();
      const total = (totals.get(id) ?? 0) + line.quantity;
      totals.set(id, total);
      if (total > MAX_QUANTITY) {
        ctx.addIssue({ code: 'custom', path: ['items', index, 'quantity'], message: `lines for one product add up to more than ${MAX_QUANTITY}` });
      }
    });
  });

export const idempotencyKeyHeader = z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters');

export const listOrdersQuery = pageQuery.extend({
  status: z.enum(ORDER_STATUSES).optional(),
  scope: z.enum(['mine', 'all']).default('mine'),
});

export type PlaceOrderBody = z.infer<typeof placeOrderBody>;
