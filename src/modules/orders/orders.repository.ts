import { isoUtc, WITH_SYNC_STANDBY_BARRIER, type Queryable } from '../../platform/db/index.js';
import { ConflictError } from '../../shared/errors.js';
import type { Order, VersionedOrder } from './order.js';
import type { OrderStatus } from './order-status.js';

/** An order's items as the JSON array clients see, for a row `o` of orders (null when it has none). */
const ORDER_ITEMS = `
  (SELECT json_agg(json_build_object(
            'productId', i.product_id, 'sku', i.sku, 'name', i.name, 'quantity', i.quantity,
            'unitPriceCents', i.unit_price_cents, 'lineTotalCents', i.line_total_cents)
          ORDER BY i.line_no)
     FROM order_items i WHERE i.order_id = o.id)`;

export const ORDER_ITEMS_JSON = `${ORDER_ITEMS} AS items`;

/**
 * SQL for the order in row `o` of orders as it was right after it entered `status` (an SQL
 * expression), as the JSON clients see (`Order`), for a statement that copies orders without a
 * round trip through the process: the events relay stores it with each event, and may copy an
 * event after later changes were made (a `processing` event copied once the order completed),
 * so each step is rebuilt from the order as it is now. Statuses never repeat in the lifecycle,
 * so the history up to that status's entry is the history then; a status the order never had
 * gives the order as it is. For the order's own status it equals a read (`toVersioned`):
 * `order-json.component.test.ts` holds the two to the same output on both databases.
 */
export function orderJsonAsOf(status: string): string {
  return `(SELECT jsonb_build_object(
       'id', o.id, 'userId', o.user_id,
       'status', CASE WHEN a.n IS NULL THEN o.status ELSE s.status END,
       'items', COALESCE(${ORDER_ITEMS}, '[]'::json),
       'totalCents', o.total_cents, 'currency', o.currency,
       'failureReason', CASE WHEN a.n IS NULL OR s.status = 'failed' THEN o.failure_reason END,
       'history', CASE WHEN a.n IS NULL THEN o.history
                       ELSE (SELECT jsonb_agg(h.e ORDER BY h.n) FROM jsonb_array_elements(o.history) WITH ORDINALITY AS h(e, n) WHERE h.n <= a.n) END,
       'createdAt', ${isoUtc('o.created_at')},
       'updatedAt', CASE WHEN a.n IS NULL OR a.n = jsonb_array_length(o.history) THEN ${isoUtc('o.updated_at')}
                         ELSE o.history -> (a.n::int - 1) ->> 'at' END)
     FROM (SELECT (${status})::text AS status) AS s,
     LATERAL (SELECT min(h.n) AS n FROM jsonb_array_elements(o.history) WITH ORDINALITY AS h(e, n) WHERE h.e ->> 'status' = s.status) AS a)`;
}

/** An order's columns under the names of `OrderRow`, for a row `o` of orders. */
export const ORDER_COLUMNS = `
  o.id, o.user_id AS "userId", o.status, o.total_cents AS "totalCents", o.currency,
  o.failure_reason AS "failureReason", o.history, o.version,
  o.created_at AS "createdAt", o.updated_at AS "updatedAt"`;

// One row per order with its items aggregated, so reading an order is one query.
const ORDER_SELECT = `SELECT ${ORDER_COLUMNS}, ${ORDER_ITEMS_JSON} FROM orders o`;
// The same read answered only once a synchronous standby holds what it saw (WITH_SYNC_STANDBY_BARRIER).
const DURABLE_ORDER_SELECT = `${WITH_SYNC_STANDBY_BARRIER} SELECT ${ORDER_COLUMNS}, ${ORDER_ITEMS_JSON} FROM durable, orders o`;

/**
 * `durable`: for a read whose answer must outlive a failover: one that fills the order cache, or
 * one a refusal rests on. A primary killed with kill -9 shows its other sessions, for a moment,
 * commits its synchronous standby never got; cached, such a state would be served after the
 * failover, and its version would keep the new primary's own changes out of the cache (only a
 * newer version replaces a copy). Nothing is written or waited for without a synchronous standby.
 */
export interface ReadOptions {
  durable?: boolean;
}

export interface OrderRow extends Omit<Order, 'createdAt' | 'updatedAt'> {
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export function toVersioned(row: OrderRow): VersionedOrder {
  const { version, createdAt, updatedAt, ...rest } = row;
  return {
    version,
    order: { ...rest, items: rest.items ?? [], createdAt: createdAt.toISOString(), updatedAt: updatedAt.toISOString() },
  };
}

/** Several orders by id in one query (order of the result is unspecified). */
export async function findOrders(db: Queryable, orderIds: readonly string[], options: ReadOptions = {}): Promise<VersionedOrder[]> {
  if (orderIds.length === 0) return [];
  const { rows } = await db.query<OrderRow>(
    `${options.durable ? DURABLE_ORDER_SELECT : ORDER_SELECT} WHERE o.id = ANY($1::uuid[])`,
    [orderIds],
    { name: options.durable ? 'find-orders-durable' : 'find-orders' },
  );
  return rows.map(toVersioned);
}

export async function findOrder(db: Queryable, orderId: string, options: ReadOptions = {}): Promise<VersionedOrder | undefined> {
  const { rows } = await db.query<OrderRow>(`${options.durable ? DURABLE_ORDER_SELECT : ORDER_SELECT} WHERE o.id = $1`, [orderId], {
    name: options.durable ? 'find-order-durable' : 'find-order',
  });
  return rows[0] && toVersioned(rows[0]);
}

/** What a claimed key holds: the order its request placed (rows written before 2026-12-04 hold the response itself). */
export interface StoredResponse {
  requestHash: string;
  status: number;
  orderId: string | null;
  body: Order | null;
}

export const IDEMPOTENCY_RETENTION_HOURS = 24;

/** Another request holds the key's lock and nothing is stored for the key yet. */
export const keyInUse = () => new ConflictError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly');

/**
 * Claims `key` for this user, or returns the response stored for it. A transaction-scoped
 * advisory lock on (user, key) marks the key as in flight: a concurrent request with the same
 * key is told so at once (409) instead of waiting, and once the first has committed the key
 * row answers with its stored response, whoever holds the lock then. A first attempt that
 * rolled back leaves no row, so the key can be retried. Keys older than the retention period
 * are taken over.
 */
export async function claimIdempotencyKey(
  tx: Queryable,
  claim: { userId: string; key: string; requestHash: string },
): Promise<StoredResponse | undefined> {
  // The lock and the insert go in one statement (one round trip); the insert runs only if the
  // lock was acquired.
  const { rows: claimed } = await tx.query<{ acquired: boolean; inserted: boolean }>(
    `WITH lock AS (
       SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS acquired
     ), inserted AS (
       INSERT INTO idempotency_keys (user_id, key, request_hash)
       SELECT $1::uuid, $2, $3 FROM lock WHERE acquired
       ON CONFLICT (user_id, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, created_at = now(), response_status = NULL, order_id = NULL, response_body = NULL
         WHERE idempotency_keys.created_at < now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})
       RETURNING 1
     )
     SELECT acquired, EXISTS (SELECT 1 FROM inserted) AS inserted FROM lock`,
    [claim.userId, claim.key, claim.requestHash],
    { name: 'claim-idempotency-key' },
  );
  if (claimed[0]?.inserted) return undefined;
  // A statement of its own: the stored row may have been committed after the one above began,
  // and only a new statement's snapshot is sure to see it. Without the lock, only a live row
  // counts: its first request has committed, and whoever holds the lock (a concurrent retry)
  // only reads it; a missing or expired one is still being placed or taken over (in flight).
  const stored = await readStoredResponse(tx, claim, { liveOnly: !claimed[0]?.acquired });
  if (!claimed[0]?.acquired && !stored) throw keyInUse();
  return stored;
}

/** Idempotency keys are deleted this long after they were claimed (a key is live for IDEMPOTENCY_RETENTION_HOURS). */
export const IDEMPOTENCY_PRUNE_AFTER_HOURS = 48;

/**
 * Deletes up to `batch` keys claimed more than IDEMPOTENCY_PRUNE_AFTER_HOURS ago, oldest first
 * (through the index on created_at); answers how many. The age is checked again on the rows
 * deleted, so a key taken over meanwhile (its created_at renewed by a placement) is kept.
 */
export async function pruneIdempotencyKeys(db: Queryable, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM idempotency_keys WHERE (user_id, key) IN (
       SELECT user_id, key FROM idempotency_keys
       WHERE created_at < now() - make_interval(hours => $1)
       ORDER BY created_at LIMIT $2)
     AND created_at < now() - make_interval(hours => $1)`,
    [IDEMPOTENCY_PRUNE_AFTER_HOURS, batch],
  );
  return rowCount;
}

async function readStoredResponse(tx: Queryable, claim: { userId: string; key: string }, options: { liveOnly: boolean }): Promise<StoredResponse | undefined> {
  const live = options.liveOnly ? `AND created_at >= now() - make_interval(hours => ${IDEMPOTENCY_RETENTION_HOURS})` : '';
  const { rows } = await tx.query<StoredResponse>(
    `SELECT request_hash AS "requestHash", response_status AS status, order_id AS "orderId", response_body AS body
     FROM idempotency_keys WHERE user_id = $1 AND key = $2 ${live}`,
    [claim.userId, claim.key],
  );
  return rows[0];
}

export interface OrderListFilter {
  userId: string | undefined;
  status: OrderStatus | undefined;
  after: { createdAt: string; id: string } | undefined;
  limit: number;
}

/**
 * Newest first by (created_at, id): a keyset, so pages stay stable while orders are placed.
 * Answered only once a synchronous standby holds what it read, as an order's own read is: a
 * list is not cached, but a client acts on what it shows (WITH_SYNC_STANDBY_BARRIER). The barrier
 * is a one-time filter, so the newest-first index scan stays as it is.
 */
export async function listOrders(db: Queryable, filter: OrderListFilter): Promise<VersionedOrder[]> {
  const conditions: string[] = ['EXISTS (SELECT FROM durable)'];
  const params: unknown[] = [];
  const add = (sql: (n: number) => string, ...values: unknown[]) => {
    conditions.push(sql(params.length + 1));
    params.push(...values);
  };
  if (filter.userId) add((n) => `o.user_id = $${n}`, filter.userId);
  if (filter.status) add((n) => `o.status = $${n}`, filter.status);
  if (filter.after) add((n) => `(o.created_at, o.id) < ($${n}::timestamptz, $${n + 1}::uuid)`, filter.after.createdAt, filter.after.id);
  params.push(filter.limit + 1);
  const { rows } = await db.query<OrderRow>(
    `${WITH_SYNC_STANDBY_BARRIER} ${ORDER_SELECT} WHERE ${conditions.join(' AND ')} ORDER BY o.created_at DESC, o.id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toVersioned);
}

/** Age in seconds of the oldest order still pending or processing; 0 when there is none. */
export async function oldestUnprocessedAgeSeconds(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seconds: number | null }>(
    "SELECT extract(epoch FROM now() - min(created_at))::float8 AS seconds FROM orders WHERE status IN ('pending', 'processing')",
  );
  return Math.max(0, rows[0]?.seconds ?? 0);
}

/**
 * Every order still pending or processing, a page at a time in id order after `afterId` (ids do
 * not change, so orders that move meanwhile cannot make the walk skip or repeat one): what a
 * start-up resumes.
 */
export async function findUnfinishedOrderIds(db: Queryable, page: { afterId: string | undefined; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM orders WHERE status IN ('pending', 'processing') AND ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2`,
    [page.afterId ?? null, page.limit],
  );
  return rows.map((row) => row.id);
}

/**
 * Orders still pending or processing after `olderThanSeconds` without change (for the reconciler).
 * Placement is timed by the API host's clock, and later moves never take an order's time back: an
 * order timed more than that far in the database's future came from a host whose clock runs
 * ahead, and how long it has waited cannot be told. It is taken too (re-enqueueing is idempotent):
 * left out, an order whose job was lost waited as long as the host's clock was ahead.
 */
export async function findStalledOrderIds(db: Queryable, olderThanSeconds: number, limit = 500): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM orders
     WHERE status IN ('pending', 'processing')
       AND (updated_at < now() - make_interval(secs => $1) OR updated_at > now() + make_interval(secs => $1))
     ORDER BY updated_at LIMIT $2`,
    [olderThanSeconds, limit],
  );
  return rows.map((row) => row.id);
}
