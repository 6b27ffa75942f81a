/**
 * Stock consistency after a load: for every product, `reserved <= on_hand`, `reserved` equals
 * the units of its open (pending/processing) orders, and `on_hand` equals the initial stock
 * minus the units of its completed orders. Works on any SQL runner (pg or PGlite).
 */
export type Sql = <Row>(text: string, params?: unknown[]) => Promise<Row[]>;

export interface StockCheck {
  products: number;
  orders: number;
  /** Orders per status. */
  byStatus: Record<string, number>;
  /** Products with reserved > on_hand. */
  overReserved: number;
  /** Products whose reserved / on_hand do not match the orders. */
  mismatched: number;
  /** overReserved + mismatched: must be 0. */
  oversell: number;
}

export async function checkStock(sql: Sql, initialStock: number): Promise<StockCheck> {
  const rows = await sql<{ products: number | string; over_reserved: number | string; mismatched: number | string }>(
    `WITH q AS (
       SELECT i.product_id,
              coalesce(sum(i.quantity) FILTER (WHERE o.status IN ('pending', 'processing')), 0) AS held,
              coalesce(sum(i.quantity) FILTER (WHERE o.status = 'completed'), 0) AS sold
       FROM order_items i JOIN orders o ON o.id = i.order_id
       GROUP BY i.product_id)
     SELECT count(*) AS products,
            count(*) FILTER (WHERE p.reserved > p.on_hand) AS over_reserved,
            count(*) FILTER (WHERE p.reserved <> coalesce(q.held, 0) OR p.on_hand <> $1 - coalesce(q.sold, 0)) AS mismatched
     FROM products p LEFT JOIN q ON q.product_id = p.id`,
    [initialStock],
  );
  const statuses = await sql<{ status: string; n: number | string }>('SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY status');
  const byStatus = Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)]));
  const row = rows[0];
  if (!row) throw new Error('stock check returned nothing');
  const overReserved = Number(row.over_reserved);
  const mismatched = Number(row.mismatched);
  return {
    products: Number(row.products),
    orders: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    overReserved,
    mismatched,
    oversell: overReserved + mismatched,
  };
}
