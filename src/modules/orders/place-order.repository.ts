import type { Queryable } from '../../platform/db/index.js';
import type { RequestedLine } from './order.js';
import { IDEMPOTENCY_RETENTION_HOURS } from './orders.repository.js';

export interface CatalogSnapshot {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  /** Available before this order, read under the row lock. */
  available: number;
}

export interface PlacementResult {
  placed: boolean;
  /** The requested products that exist, as locked by this statement. */
  products: CatalogSnapshot[];
  /** With an Idempotency-Key: false when another request held the key at that moment. */
  keyAcquired: boolean;
  /** With an Idempotency-Key: the key already holds a live response (a replay); nothing was placed. */
  keyTaken: boolean;
  /** The id of the order's `order.placed` outbox event, when placed. */
  eventId: number | undefined;
}

/** An Idempotency-Key to claim in the placement statement, with the fingerprint of its request. */
export interface PlacementKey {
  key: string;
  requestHash: string;
}

/** The message of the assertion that fires when a concurrent request stored the key first. */
export const KEY_TAKEN_MEANWHILE = 'idempotency key stored meanwhile';

// The key's CTEs: the same advisory lock as `claimIdempotencyKey`, and whether a live response
// is stored (a replay, answered by that path). The statement's snapshot predates the lock, so a
// response committed in between is not seen here; then the INSERT below finds the row, claims
// nothing, and the assertion aborts the whole statement (nothing placed) for the caller to
// answer it the long way.
const KEY_CTES = `key_lock AS (
       SELECT pg_try_advisory_xact_lock(hashtext($4::uuid::text), hashtext($9)) AS acquired
     ), key_state AS (
       SELECT (SELECT acquired FROM key_lock) AS acquired,
              NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.user_id = $4 AND k.key = $9
                            AND k.created_at >= now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})) AS free
     ),`;

// The key refers to the order this statement places; a replay reads the order and answers it as
// it was placed (see asPlaced in order.ts).
const KEY_CLAIM = `, key_claim AS (
       INSERT INTO idempotency_keys (user_id, key, request_hash, response_status, order_id)
       SELECT $4, $9, $10, 201, $1
       WHERE (SELECT ok FROM verdict)
       ON CONFLICT (user_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, created_at = now(),
             response_status = EXCLUDED.response_status, order_id = EXCLUDED.order_id, response_body = NULL
         WHERE idempotency_keys.created_at < now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})
       RETURNING 1
     )`;

/**
 * Places an order in ONE statement (so one round trip, and atomic even without an explicit
 * transaction): lock the products in id order, decide, reserve every line with a conditional
 * UPDATE, record the ledger rows, and insert the order, its lines and its `order.placed`
 * outbox event — or, if any line is unknown or short, change nothing.
 *
 * Why this is safe:
 * - `locked` takes the row locks in id order, and nothing is updated before `verdict` (which
 *   reads all of `locked`) is known, so concurrent multi-line orders cannot deadlock.
 * - The UPDATE is still conditional on availability; `ops_assert` aborts the whole statement
 *   if it reserved fewer lines than the verdict promised, and the table CHECKs back that up.
 * - Prices and names come from the locked catalog rows, never from the request.
 *
 * - With an Idempotency-Key, the same statement takes the key's lock, places only when no live
 *   response is stored, and records the key with its order: one round trip instead of a
 *   transaction of five.
 *
 * This statement writes catalog tables (products, stock_movements) from the orders module on
 * purpose: placing an order is the one place where both must change atomically and fast.
 */
export async function placeOrderAtomically(
  db: Queryable,
  order: { id: string; userId: string; currency: string; createdAt: string; history: string },
  lines: readonly RequestedLine[],
  key?: PlacementKey,
  claimEventSeconds = 0,
): Promise<PlacementResult> {
  const { rows } = await db.query<{ placed: boolean; products: CatalogSnapshot[] | null; key_acquired: boolean | null; key_free: boolean | null; event_id: number | null }>(
    `WITH ${key ? KEY_CTES : ''} lines AS (
       SELECT l.product_id, l.quantity, l.line_no
       FROM unnest($2::uuid[], $3::int[]) WITH ORDINALITY AS l(product_id, quantity, line_no)
     ), locked AS (
       SELECT p.id, p.sku, p.name, p.price_cents, p.on_hand - p.reserved AS available
       FROM products p WHERE p.id = ANY($2::uuid[]) ORDER BY p.id FOR UPDATE
     ), verdict AS (
       SELECT count(k.id) = count(*) AND coalesce(bool_and(k.available >= l.quantity), false) ${key ? 'AND (SELECT acquired AND free FROM key_state)' : ''} AS ok
       FROM lines l LEFT JOIN locked k ON k.id = l.product_id
     ), reserved AS (
       UPDATE products p SET reserved = p.reserved + l.quantity, updated_at = now()
       FROM lines l
       WHERE (SELECT ok FROM verdict) AND p.id = l.product_id AND p.on_hand - p.reserved >= l.quantity
       RETURNING p.id, l.quantity
     ), movements AS (
       INSERT INTO stock_movements (product_id, kind, quantity, order_id)
       SELECT id, 'reserve', quantity, $1 FROM reserved
     ), priced AS (
       SELECT l.line_no, l.product_id, k.sku, k.name, l.quantity, k.price_cents
       FROM lines l JOIN locked k ON k.id = l.product_id
     ), new_order AS (
       INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT $1, $4, 'pending', (SELECT sum(price_cents * quantity) FROM priced), $5, $6::jsonb, $7, $7
       WHERE (SELECT ok FROM verdict)
     ), order_lines AS (
       INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
       SELECT $1, line_no, product_id, sku, name, quantity, price_cents, price_cents * quantity
       FROM priced WHERE (SELECT ok FROM verdict)
     ), event AS (
       INSERT INTO outbox_events (topic, aggregate_id, claimed_until)
       SELECT 'order.placed', $1, CASE WHEN $8::int > 0 THEN now() + make_interval(secs => $8::int) END
       WHERE (SELECT ok FROM verdict)
       RETURNING id
     )${key ? KEY_CLAIM : ''}
     SELECT v.ok AS placed,
            ops_assert(NOT v.ok OR (SELECT count(*) FROM reserved) = cardinality($2::uuid[]), 'order reservation incomplete') AS consistent,
            ${key ? `ops_assert(NOT v.ok OR (SELECT count(*) FROM key_claim) = 1, '${KEY_TAKEN_MEANWHILE}') AS key_claimed, (SELECT acquired FROM key_state) AS key_acquired, (SELECT free FROM key_state) AS key_free,` : ''}
            (SELECT json_agg(json_build_object('id', id, 'sku', sku, 'name', name, 'priceCents', price_cents, 'available', available)) FROM locked) AS products,
            (SELECT id FROM event) AS event_id
     FROM verdict v`,
    [
      order.id,
      lines.map((l) => l.productId),
      lines.map((l) => l.quantity),
      order.userId,
      order.currency,
      order.history,
      order.createdAt,
      claimEventSeconds,
      ...(key ? [key.key, key.requestHash] : []),
    ],
    { name: key ? 'place-order-keyed' : 'place-order' },
  );
  const row = rows[0];
  return {
    placed: row?.placed === true,
    products: row?.products ?? [],
    keyAcquired: row?.key_acquired !== false,
    keyTaken: row?.key_free === false,
    eventId: row?.event_id ?? undefined,
  };
}

/** Records, on the key this request claimed, the order it placed (in the placement's transaction). */
export async function storeIdempotentOrder(tx: Queryable, key: { userId: string; key: string }, orderId: string): Promise<void> {
  await tx.query('UPDATE idempotency_keys SET response_status = 201, order_id = $3, response_body = NULL WHERE user_id = $1 AND key = $2', [
    key.userId,
    key.key,
    orderId,
  ]);
}
