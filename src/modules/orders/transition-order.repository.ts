import type { Queryable } from '../../platform/db/index.js';
import type { VersionedOrder } from './order.js';
import type { OrderStatus } from './order-status.js';
import { ORDER_COLUMNS, ORDER_ITEMS_JSON, toVersioned, type OrderRow } from './orders.repository.js';

export interface OrderTransition {
  orderId: string;
  /** The statuses the order may be in for the move to happen. */
  from: readonly OrderStatus[];
  to: OrderStatus;
  /** What entering `to` does to the order's reserved stock, if anything. */
  stockEffect: 'release' | 'sale' | undefined;
  failureReason?: string;
  /** Only this user's order moves, when given. */
  ownerId?: string;
  /** Whether to write the `order.<to>` outbox event (only when someone subscribes to it). */
  publish: boolean;
}

/**
 * Moves an order in ONE statement (one round trip, atomic without an explicit transaction):
 * a guarded UPDATE of the order (status in `from`, owner when given) that appends to its history
 * and bumps its version; if it moved and the new status has a stock effect, lock its products
 * in id order and settle the reservation of every line (`release` gives the units back, `sale`
 * takes them out of stock), with one ledger row each; and its `order.<to>` outbox event when
 * that topic has subscribers.
 * Returns the order as it now is, or undefined when the guard did not match (the order is
 * elsewhere in its lifecycle, or not the owner's): then nothing changed.
 *
 * Why this is safe:
 * - A concurrent change of the same order waits on the order's row lock, then finds the status
 *   no longer allowed and changes nothing, so a transition's effects happen at most once.
 * - `locked` takes the product locks in id order, as placement does, and no product is updated
 *   before all of them are held (the UPDATE waits on `locked` as a one-time filter), so a
 *   settlement and a placement cannot deadlock.
 * - Settling is guarded (`reserved >= quantity`), and `ops_assert` aborts the whole statement
 *   if fewer lines were settled than the order has.
 *
 * Like placement, this statement writes catalog tables (products, stock_movements) from the
 * orders module on purpose: the status and the stock must change atomically and fast.
 */
export async function transitionAtomically(db: Queryable, change: OrderTransition): Promise<VersionedOrder | undefined> {
  const { rows } = await db.query<OrderRow>(
    `WITH moved AS (
       UPDATE orders
       SET status = $2,
           failure_reason = COALESCE($4, failure_reason),
           history = history || jsonb_build_array(jsonb_build_object(
             'status', $2::text, 'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
           version = version + 1,
           updated_at = clock_timestamp()
       WHERE id = $1 AND status = ANY($3::text[]) AND ($5::uuid IS NULL OR user_id = $5)
       RETURNING *
     ), lines AS (
       SELECT i.product_id, i.quantity FROM order_items i
       WHERE $6::text IS NOT NULL AND i.order_id = $1 AND EXISTS (SELECT 1 FROM moved)
     ), locked AS (
       SELECT p.id FROM products p WHERE p.id IN (SELECT product_id FROM lines) ORDER BY p.id FOR UPDATE
     ), settled AS (
       UPDATE products p
       SET reserved = p.reserved - l.quantity,
           on_hand = CASE WHEN $6::text = 'sale' THEN p.on_hand - l.quantity ELSE p.on_hand END,
           updated_at = now()
       FROM lines l
       WHERE (SELECT count(*) FROM locked) IS NOT NULL AND p.id = l.product_id AND p.reserved >= l.quantity
       RETURNING p.id, l.quantity
     ), movements AS (
       INSERT INTO stock_movements (product_id, kind, quantity, order_id) SELECT id, $6::text, quantity, $1 FROM settled
     ), event AS (
       INSERT INTO outbox_events (topic, aggregate_id) SELECT 'order.' || $2::text, id FROM moved WHERE $7::boolean
     )
     SELECT ${ORDER_COLUMNS}, ${ORDER_ITEMS_JSON}
     FROM moved o
     WHERE ops_assert((SELECT count(*) FROM settled) = (SELECT count(*) FROM lines), 'order reservation does not match its lines')`,
    [change.orderId, change.to, change.from, change.failureReason ?? null, change.ownerId ?? null, change.stockEffect ?? null, change.publish],
    { name: 'transition-order' },
  );
  return rows[0] && toVersioned(rows[0]);
}
