import { randomUUID } from 'node:crypto';
import { ConflictError, UnprocessableError } from '../../shared/errors.js';
import type { Principal } from '../../shared/principal.js';
import { lockProducts, reserveStock } from '../catalog/index.js';
import { mergeLines, priceLines, requestFingerprint, totalOf, type Order, type RequestedLine } from './order.js';
import * as repo from './orders.repository.js';
import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { RateLimiter } from '../../platform/rate-limit.js';

export interface PlaceOrderDeps {
  db: Database;
  /** Placements per user per minute. */
  placementLimit: RateLimiter;
  currency: string;
  logger: Logger;
  metrics: Pick<Metrics, 'orderPlaced' | 'orderCancelled' | 'cacheLookup'>;
}

export interface PlacedOrder {
  order: Order;
  status: number;
  /** True when this answers a repeated Idempotency-Key with the first response. */
  replayed: boolean;
}

/**
 * Placing an order: claim the idempotency key, lock the products in id order, check and
 * reserve every line, insert the order with its outbox event — all in one transaction, so
 * either every line is reserved and the order exists, or nothing changed.
 */
export function createPlaceOrder(deps: PlaceOrderDeps) {
  const { db, placementLimit, currency, logger } = deps;

  return async function placeOrder(principal: Principal, requested: readonly RequestedLine[], idempotencyKey?: string): Promise<PlacedOrder> {
    await placementLimit.consume(principal.userId);
    const lines = mergeLines(requested);
    const requestHash = requestFingerprint(lines);

    const outcome = await db.transaction(async (tx) => {
      if (idempotencyKey) {
        const stored = await repo.claimIdempotencyKey(tx, { userId: principal.userId, key: idempotencyKey, requestHash });
        if (stored) return { kind: 'replay' as const, stored };
      }
      const products = new Map((await lockProducts(tx, lines.map((line) => line.productId))).map((p) => [p.id, p]));

      const unknown = lines.filter((line) => !products.has(line.productId));
      if (unknown.length > 0) {
        throw new UnprocessableError('UNKNOWN_PRODUCT', 'Some ordered products do not exist', unknown.map(({ productId }) => ({ productId })));
      }
      const short = lines
        .map((line) => ({ productId: line.productId, requested: line.quantity, available: products.get(line.productId)?.available ?? 0 }))
        .filter((line) => line.available < line.requested);
      if (short.length > 0) throw new ConflictError('OUT_OF_STOCK', 'Not enough stock for some lines', short);

      const order = newOrder(principal.userId, priceLines(lines, products), currency);
      // Conditional on availability and checked by row count; the locks make a shortfall here impossible, the check makes it harmless.
      const reserved = await reserveStock(tx, order.id, lines);
      if (reserved !== lines.length) throw new ConflictError('OUT_OF_STOCK', 'Not enough stock for some lines');
      await repo.insertOrder(tx, order, idempotencyKey ? { key: idempotencyKey, responseStatus: 201 } : undefined);
      return { kind: 'placed' as const, order };
    });

    if (outcome.kind === 'replay') {
      const { stored } = outcome;
      if (stored.requestHash !== requestHash) {
        throw new UnprocessableError('IDEMPOTENCY_KEY_MISMATCH', 'This Idempotency-Key was already used with a different request body');
      }
      return { order: stored.body, status: stored.status, replayed: true };
    }
    const { order } = outcome;
    deps.metrics.orderPlaced();
    logger.info('order placed', { orderId: order.id, totalCents: order.totalCents, lines: lines.length });
    return { order, status: 201, replayed: false };
  };
}

function newOrder(userId: string, items: Order['items'], currency: string): Order {
  const placedAt = new Date().toISOString();
  return {
    id: randomUUID(),
    userId,
    status: 'pending',
    items,
    totalCents: totalOf(items),
    currency,
    failureReason: null,
    history: [{ status: 'pending', at: placedAt }],
    createdAt: placedAt,
    updatedAt: placedAt,
  };
}
