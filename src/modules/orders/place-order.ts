import { randomUUID } from 'node:crypto';
import { ConflictError, UnprocessableError } from '../../shared/errors.js';
import type { Principal } from '../../shared/principal.js';
import type { Database, Queryable } from '../../platform/db/index.js';
import { asPlaced, mergeLines, priceLines, requestFingerprint, totalOf, type Order, type RequestedLine } from './order.js';
import * as repo from './orders.repository.js';
import { KEY_TAKEN_MEANWHILE, placeOrderAtomically, storeIdempotentOrder, type PlacementKey } from './place-order.repository.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import type { ClaimedEvent, OrderTopic } from './order-events.js';

export interface PlaceOrderDeps {
  db: Database;
  /** Placements per user per minute. */
  placementLimit: RateLimiter;
  currency: string;
  logger: Logger;
  metrics: Pick<Metrics, 'orderPlaced'>;
  /**
   * Called after a commit that wrote outbox events of `topic`: wakes this process's relay at once.
   * `claimed`: events the commit wrote already claimed for this process's relay (see `claimCommittedEvents`).
   */
  onEventsCommitted?: (topic: OrderTopic, claimed?: readonly ClaimedEvent[]) => void;
  /**
   * How long the events a commit writes for jobs (a placement's `order.placed`, a transition's
   * `order.completed`, …) are written claimed for this process's relay, which then publishes them
   * without claiming them first; 0 (the default) writes them unclaimed, for any relay.
   */
  claimCommittedEvents?: () => number;
}

/** A placement's order, and its event when it was written claimed for this process's relay. */
interface Placed {
  order: Order;
  claimed: readonly ClaimedEvent[] | undefined;
}

export interface PlacedOrder {
  order: Order;
  status: number;
  /** True when this answers a repeated Idempotency-Key with the first response. */
  replayed: boolean;
}

/**
 * Placing an order: one statement locks the products in id order, checks and reserves every
 * line and inserts the order with its outbox event, so either every line is reserved and the
 * order exists, or nothing changed (see `placeOrderAtomically`). With a fresh Idempotency-Key,
 * the same statement claims the key and records the order on it; a key that already holds one is
 * answered by a transaction that reads it back.
 */
export function createPlaceOrder(deps: PlaceOrderDeps) {
  const { db, placementLimit, currency, logger } = deps;

  /**
   * Runs the placement statement; throws the contract's error when it changed nothing. With a
   * key, answers undefined whenever nothing was placed and the key is not in flight: the key may
   * hold a response, and `placeIdempotently` tells a replay from a refusal.
   */
  async function place(tx: Queryable, userId: string, lines: readonly RequestedLine[], key?: PlacementKey): Promise<Placed | undefined> {
    const placedAt = new Date().toISOString();
    const draft = { id: randomUUID(), userId, currency, createdAt: placedAt, history: JSON.stringify([{ status: 'pending', at: placedAt }]) };
    const claimSeconds = deps.claimCommittedEvents?.() ?? 0;
    const { placed, products, keyAcquired, keyTaken, eventId } = await placeOrderAtomically(tx, draft, lines, key, claimSeconds);
    // A stored response means the key's first request has committed: a retry replays it (the
    // long way) even while another retry holds the key's lock; only a key without one is in flight.
    if (keyTaken) return undefined;
    // A key whose lock was held is told the long way too (which answers IDEMPOTENCY_KEY_IN_USE
    // while it is still held): a statement that waited for the first request's row locks may try
    // the key's lock in the instant between that request's commit waking it and the same commit
    // releasing the key's lock, and the first request's response must then be replayed.
    if (!keyAcquired) return undefined;
    // A refusal with a key is told the long way: this statement's snapshot predates any row lock it
    // waited for, so it cannot see a response that the request it waited for (the first with this
    // key, which may have taken the last units) stored meanwhile; a retry must replay that one.
    if (!placed && key) return undefined;
    const catalog = new Map(products.map((p) => [p.id, p]));
    if (!placed) {
      const unknown = lines.filter((line) => !catalog.has(line.productId));
      if (unknown.length > 0) {
        throw new UnprocessableError('UNKNOWN_PRODUCT', 'Some ordered products do not exist', unknown.map(({ productId }) => ({ productId })));
      }
      const short = lines
        .map((line) => ({ productId: line.productId, requested: line.quantity, available: catalog.get(line.productId)?.available ?? 0 }))
        .filter((line) => line.available < line.requested);
      throw new ConflictError('OUT_OF_STOCK', 'Not enough stock for some lines', short);
    }
    const order = newOrder(draft.id, userId, priceLines(lines, catalog), currency, placedAt);
    const claimed = claimSeconds > 0 && eventId !== undefined ? [{ id: eventId, topic: 'order.placed' as const, aggregateId: order.id }] : undefined;
    return { order, claimed };
  }

  return async function placeOrder(principal: Principal, requested: readonly RequestedLine[], idempotencyKey?: string): Promise<PlacedOrder> {
    await placementLimit.consume(principal.userId);
    const lines = mergeLines(requested);
    const outcome = idempotencyKey
      ? await placeIdempotently(principal.userId, lines, idempotencyKey)
      : { kind: 'placed' as const, ...(await place(db, principal.userId, lines))! };

    if (outcome.kind === 'replay') return { order: outcome.body, status: outcome.status, replayed: true };
    const { order, claimed } = outcome;
    deps.onEventsCommitted?.('order.placed', claimed);
    deps.metrics.orderPlaced();
    logger.info('order placed', { orderId: order.id, userId: order.userId, totalCents: order.totalCents, lines: lines.length });
    return { order, status: 201, replayed: false };
  };

  async function placeIdempotently(userId: string, lines: readonly RequestedLine[], key: string) {
    const requestHash = requestFingerprint(lines);
    // A fresh key (the common case): one statement places, claims the key and records the order on it.
    const placed = await place(db, userId, lines, { key, requestHash }).catch((error: unknown) => {
      if (error instanceof Error && error.message.includes(KEY_TAKEN_MEANWHILE)) return undefined;
      throw error;
    });
    if (placed) return { kind: 'placed' as const, ...placed };
    // The key holds a response (or got one while the statement ran), or the lines were refused:
    // read the key back under its lock, and place again only if it holds nothing.
    const outcome = await db.transaction(async (tx) => {
      const stored = await repo.claimIdempotencyKey(tx, { userId, key, requestHash });
      if (stored) {
        if (stored.requestHash !== requestHash) return { kind: 'mismatch' as const };
        return { kind: 'replay' as const, status: stored.status, body: stored.body ?? asPlaced(await placedOrder(tx, stored.orderId)) };
      }
      const placed = (await place(tx, userId, lines))!;
      await storeIdempotentOrder(tx, { userId, key }, placed.order.id);
      return { kind: 'placed' as const, ...placed };
    });
    if (outcome.kind === 'mismatch') {
      throw new UnprocessableError('IDEMPOTENCY_KEY_MISMATCH', 'This Idempotency-Key was already used with a different request body');
    }
    return outcome;
  }

  /** The order a stored key refers to; a key exists only with its order, so a missing one is a bug. */
  async function placedOrder(tx: Queryable, orderId: string | null): Promise<Order> {
    const found = orderId === null ? undefined : await repo.findOrder(tx, orderId);
    if (!found) throw new Error(`idempotency key refers to no order (${orderId ?? 'none'})`);
    return found.order;
  }
}

function newOrder(id: string, userId: string, items: Order['items'], currency: string, placedAt: string): Order {
  return {
    id,
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
