import { isoUtc, type Queryable } from '../../platform/db/index.js';
import type { VersionedOrder } from './order.js';
import { topicOf, type ClaimedEvent } from './order-events.js';
import { EMAIL_OWED_ON_ENTRY, type OrderStatus } from './order-status.js';
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
  /**
   * Whether the event starts jobs, so a relay must publish it. When not (only the order event
   * stream reads it) it is written already published.
   */
  startsJobs: boolean;
  /**
   * When > 0, an event that starts jobs is written claimed for this process's relay for that many
   * seconds and answered as `claimed`, so the relay publishes it without a claim statement.
   */
  claimEventSeconds?: number;
  /**
   * Records, with the move, that the moved orders' charges must be voided (a `payment_voids` row,
   * the payments module's): a give-up may fail an order whose charge was approved.
   */
  voidPayments?: boolean;
}

/**
 * Moves an order in ONE statement (`transitionManyAtomically` with one order; one round trip,
 * atomic without an explicit transaction):
 * a guarded UPDATE of the order (status in `from`, owner when given) that appends to its history
 * and bumps its version; if it moved and the new status has a stock effect, lock its products
 * in id order and settle the reservation of every line (`release` gives the units back, `sale`
 * takes them out of stock), with one ledger row each; and its `order.<to>` outbox event when
 * that topic has subscribers (already published when none of them is a job); and the email the
 * new status owes, as an unsent `email_deliveries` row, so a finished order and its owed email
 * are on record together (the reconciler then needs only the pending rows); and, when asked
 * (`voidPayments`), the void the move owes, likewise.
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
 *   if fewer products were settled than the moved orders' lines name.
 *
 * Like placement, this statement writes catalog tables (products, stock_movements) from the
 * orders module on purpose: the status and the stock must change atomically and fast. The
 * email row (the notifications module's table) likewise: "one email per outcome" is an order
 * rule, and recording it in the same statement costs no round trip. So is the void row (the
 * payments module's): a give-up that committed without it could leave a charge standing.
 */
export async function transitionAtomically(db: Queryable, change: OrderTransition): Promise<(VersionedOrder & { claimed: ClaimedEvent[] }) | undefined> {
  const { orderId, failureReason, ...rest } = change;
  const { moved, claimed } = await transitionManyAtomically(db, { ...rest, orderIds: [orderId], failureReasons: [failureReason ?? null] });
  return moved[0] && { ...moved[0], claimed };
}

export interface OrdersTransition extends Omit<OrderTransition, 'orderId' | 'failureReason'> {
  orderIds: readonly string[];
  /** Per order (same positions as `orderIds`), or none. */
  failureReasons?: readonly (string | null)[];
}

/**
 * `transitionAtomically` for many orders in ONE statement, which is what lets processing keep
 * up with placement: the orders are locked in id order, then moved (each still guarded by its
 * status), then their products are locked in id order and settled with one UPDATE per product
 * for all their lines together, with one ledger row per line and one outbox event per order.
 * Orders whose status does not allow the move are skipped; the others move, all at one moment
 * (one clock reading, after the locks: each one's history entry and `updatedAt` are that time, so
 * an event's order reads the same whenever it is built), or the order's previous `updatedAt` when
 * that is later: placement is timed by the API host's clock, which may run ahead of the
 * database's, and an order's times never go backwards. Locking orders
 * before products, each in id order, is the order every other statement follows, so batches,
 * cancellations and placements cannot deadlock. `claimed`: the events written claimed for this
 * process's relay (`claimEventSeconds`).
 */
// Only in the statement of a give-up: a CTE that writes a table is run on every execution, and
// every status change of the pipeline would pay for a void that only give-ups owe.
const VOIDS_CTE = `, voids AS (
       INSERT INTO payment_voids (order_id) SELECT id FROM moved
       ON CONFLICT (order_id) DO NOTHING
     )`;

export async function transitionManyAtomically(db: Queryable, change: OrdersTransition): Promise<{ moved: VersionedOrder[]; claimed: ClaimedEvent[] }> {
  if (change.orderIds.length === 0) return { moved: [], claimed: [] };
  const claimSeconds = change.startsJobs ? (change.claimEventSeconds ?? 0) : 0;
  const { rows } = await db.query<OrderRow & { claimedEventId: string | null }>(
    `WITH target AS (
       SELECT o.id FROM orders o
       WHERE o.id = ANY($1::uuid[]) AND o.status = ANY($3::text[]) AND ($7::uuid IS NULL OR o.user_id = $7)
       ORDER BY o.id FOR UPDATE
     ), moment AS MATERIALIZED (
       -- Read once the orders are locked (counting target takes every lock first): a change that
       -- waited for another's lock is timed after it.
       SELECT clock_timestamp() AS at FROM (SELECT count(*) FROM target) AS locked
     ), moved AS (
       UPDATE orders o
       SET status = $2,
           failure_reason = COALESCE(c.reason, o.failure_reason),
           history = o.history || jsonb_build_array(jsonb_build_object(
             'status', $2::text, 'at', ${isoUtc('GREATEST(o.updated_at, m.at)')})),
           version = o.version + 1,
           updated_at = GREATEST(o.updated_at, m.at)
       FROM unnest($1::uuid[], $4::text[]) AS c(id, reason), moment m
       WHERE o.id = c.id AND o.id IN (SELECT id FROM target) AND o.status = ANY($3::text[])
       RETURNING o.*
     ), lines AS (
       SELECT i.order_id, i.product_id, i.quantity FROM order_items i
       WHERE $5::text IS NOT NULL AND i.order_id IN (SELECT id FROM moved)
     ), per_product AS (
       SELECT product_id, sum(quantity)::int AS quantity FROM lines GROUP BY product_id
     ), locked AS (
       SELECT p.id FROM products p WHERE p.id IN (SELECT product_id FROM per_product) ORDER BY p.id FOR UPDATE
     ), settled AS (
       UPDATE products p
       SET reserved = p.reserved - t.quantity,
           on_hand = CASE WHEN $5::text = 'sale' THEN p.on_hand - t.quantity ELSE p.on_hand END,
           updated_at = now()
       FROM per_product t
       WHERE (SELECT count(*) FROM locked) IS NOT NULL AND p.id = t.product_id AND p.reserved >= t.quantity
       RETURNING p.id
     ), movements AS (
       INSERT INTO stock_movements (product_id, kind, quantity, order_id) SELECT product_id, $5::text, quantity, order_id FROM lines
     ), event AS (
       INSERT INTO outbox_events (topic, aggregate_id, published_at, claimed_until)
       SELECT 'order.' || $2::text, id, CASE WHEN $8::boolean THEN NULL ELSE now() END,
              CASE WHEN $9::int > 0 THEN now() + make_interval(secs => $9::int) END
       FROM moved WHERE $6::boolean
       RETURNING id, aggregate_id
     ), owed AS (
       INSERT INTO email_deliveries (order_id, kind, created_at)
       SELECT o.id, $10::text, m.at FROM moved o, moment m WHERE $10::text IS NOT NULL
       ON CONFLICT (order_id, kind) DO NOTHING
     )${change.voidPayments ? VOIDS_CTE : ''}
     SELECT ${ORDER_COLUMNS}, ${ORDER_ITEMS_JSON}, CASE WHEN $9::int > 0 THEN e.id END AS "claimedEventId"
     FROM moved o LEFT JOIN event e ON e.aggregate_id = o.id
     WHERE ops_assert((SELECT count(*) FROM settled) = (SELECT count(*) FROM per_product), 'order reservations do not match their lines')`,
    [
      change.orderIds,
      change.to,
      change.from,
      change.failureReasons ?? change.orderIds.map(() => null),
      change.stockEffect ?? null,
      change.publish,
      change.ownerId ?? null,
      change.startsJobs,
      claimSeconds,
      // Not left to callers: a finish that forgot it would owe an email nobody records.
      EMAIL_OWED_ON_ENTRY[change.to] ?? null,
    ],
    { name: change.voidPayments ? 'transition-orders-voiding' : 'transition-orders' },
  );
  const topic = topicOf(change.to);
  return {
    moved: rows.map(({ claimedEventId: _, ...row }) => toVersioned(row)),
    claimed: rows.flatMap((row) => (row.claimedEventId === null ? [] : [{ id: Number(row.claimedEventId), topic, aggregateId: row.id }])),
  };
}
