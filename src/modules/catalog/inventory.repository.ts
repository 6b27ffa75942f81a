import type { Queryable } from '../../platform/db/index.js';

/** The catalog facts an order line is priced and checked against, read under a row lock. */
export interface LockedProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  available: number;
}

export interface StockLine {
  productId: string;
  quantity: number;
}

/**
 * Locks the given products in id order and returns them. Every transaction that reserves
 * several products locks them through here first, in the same order, so two multi-line orders
 * can never wait on each other in a cycle (no deadlocks).
 */
export async function lockProducts(tx: Queryable, productIds: readonly string[]): Promise<LockedProduct[]> {
  const { rows } = await tx.query<LockedProduct>(
    `SELECT id, sku, name, price_cents AS "priceCents", on_hand - reserved AS available
     FROM products WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    [productIds],
  );
  return rows;
}

/**
 * Reserves every line with one conditional UPDATE (`available >= quantity`) and records a
 * `reserve` movement per line. Returns how many lines were reserved: fewer than asked means
 * the caller must roll back.
 */
export async function reserveStock(tx: Queryable, orderId: string, lines: readonly StockLine[]): Promise<number> {
  const { rowCount } = await tx.query(
    `WITH reserved AS (
       UPDATE products p SET reserved = p.reserved + l.quantity, updated_at = now()
       FROM unnest($2::uuid[], $3::int[]) AS l(product_id, quantity)
       WHERE p.id = l.product_id AND p.on_hand - p.reserved >= l.quantity
       RETURNING p.id, l.quantity
     )
     INSERT INTO stock_movements (product_id, kind, quantity, order_id)
     SELECT id, 'reserve', quantity, $1 FROM reserved`,
    [orderId, lines.map((l) => l.productId), lines.map((l) => l.quantity)],
  );
  return rowCount;
}

/**
 * Ends an order's reservation: `release` gives the units back (failed, cancelled); `sale`
 * takes them out of stock (completed). Guarded so reserved can never go below zero; the
 * caller's status transition makes it run at most once per order.
 */
export async function settleReservation(
  tx: Queryable,
  orderId: string,
  lines: readonly StockLine[],
  outcome: 'release' | 'sale',
): Promise<number> {
  const onHandChange = outcome === 'sale' ? 'p.on_hand - l.quantity' : 'p.on_hand';
  const { rowCount } = await tx.query(
    `WITH settled AS (
       UPDATE products p SET reserved = p.reserved - l.quantity, on_hand = ${onHandChange}, updated_at = now()
       FROM unnest($2::uuid[], $3::int[]) AS l(product_id, quantity)
       WHERE p.id = l.product_id AND p.reserved >= l.quantity
       RETURNING p.id, l.quantity
     )
     INSERT INTO stock_movements (product_id, kind, quantity, order_id)
     SELECT id, $4, quantity, $1 FROM settled`,
    [orderId, lines.map((l) => l.productId), lines.map((l) => l.quantity), outcome],
  );
  return rowCount;
}
