import type { Queryable } from '../../platform/db/index.js';

/** A void owed, as read: `requests` is what marking it done must still find. */
export interface PendingVoid {
  orderId: string;
  requests: number;
}

/**
 * Only an order that can never complete may be voided: `failed` and `cancelled` are final, so a
 * status read here cannot change under the caller. A completed order is never voided (a
 * duplicate job may have completed it with the very charge another job wants to void).
 */
const VOIDABLE = `('failed', 'cancelled')`;

/**
 * Records that the charges of these orders must be voided, again if they were voided before (a
 * charge approved after an earlier void). Orders not `failed` or `cancelled` are left out.
 * Answers the ids recorded.
 */
export async function requestVoids(db: Queryable, orderIds: readonly string[]): Promise<string[]> {
  if (orderIds.length === 0) return [];
  const { rows } = await db.query<{ orderId: string }>(
    `INSERT INTO payment_voids (order_id)
     SELECT o.id FROM orders o WHERE o.id = ANY($1::uuid[]) AND o.status IN ${VOIDABLE}
     ON CONFLICT (order_id) DO UPDATE
       SET requests = payment_voids.requests + 1, requested_at = now(), voided_at = NULL
     RETURNING order_id AS "orderId"`,
    [orderIds],
  );
  return rows.map((row) => row.orderId);
}

/**
 * `requestVoids` for the orders that already have a void on record (they were given up): a job
 * that finds them failed may have charged them before (an attempt that crashed after its charge).
 */
export async function requestVoidsAgain(db: Queryable, orderIds: readonly string[]): Promise<string[]> {
  if (orderIds.length === 0) return [];
  const { rows } = await db.query<{ orderId: string }>(
    `UPDATE payment_voids SET requests = requests + 1, requested_at = now(), voided_at = NULL
     WHERE order_id = ANY($1::uuid[])
     RETURNING order_id AS "orderId"`,
    [orderIds],
  );
  return rows.map((row) => row.orderId);
}

/** The voids still owed among these orders (of orders that can never complete). */
export async function findPendingVoids(db: Queryable, orderIds: readonly string[]): Promise<PendingVoid[]> {
  if (orderIds.length === 0) return [];
  const { rows } = await db.query<PendingVoid>(
    `SELECT v.order_id AS "orderId", v.requests FROM payment_voids v JOIN orders o ON o.id = v.order_id
     WHERE v.order_id = ANY($1::uuid[]) AND v.voided_at IS NULL AND o.status IN ${VOIDABLE}`,
    [orderIds],
  );
  return rows;
}

/** Marks voids done, each only if no request came after the one read (that one is still owed). */
export async function markVoided(db: Queryable, voids: readonly PendingVoid[]): Promise<void> {
  if (voids.length === 0) return;
  await db.query(
    `UPDATE payment_voids v SET voided_at = now(), last_error = NULL
     FROM unnest($1::uuid[], $2::int[]) AS d(order_id, requests)
     WHERE v.order_id = d.order_id AND v.requests = d.requests`,
    [voids.map((v) => v.orderId), voids.map((v) => v.requests)],
  );
}

/** Keeps the last error of voids that failed (for operators reading the table). */
export async function recordVoidErrors(db: Queryable, errors: readonly { orderId: string; error: string }[]): Promise<void> {
  if (errors.length === 0) return;
  await db.query(
    `UPDATE payment_voids v SET last_error = d.error FROM unnest($1::uuid[], $2::text[]) AS d(order_id, error)
     WHERE v.order_id = d.order_id AND v.voided_at IS NULL`,
    [errors.map((e) => e.orderId), errors.map((e) => e.error)],
  );
}

/**
 * Owes once more the voids that were done within `settleSeconds` of their request, once that
 * long has passed since it; answers how many. A charge in flight when an order was given up may
 * be approved after the void ran, and the job that made it may die before recording the void
 * again and never run again (failed by BullMQ as stalled too often, or lost with the embedded
 * queue): the order is failed and its void done, so nothing else would look at it. A void done
 * later than that is final (its `voided_at` is then past the window), so each void is repeated
 * at most once. `requested_at` is kept, so the reconciler's `findStalledVoids` enqueues it.
 */
export async function reopenEarlyVoids(db: Queryable, settleSeconds: number, limit = 500): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE payment_voids SET requests = requests + 1, voided_at = NULL
     WHERE order_id IN (
       SELECT order_id FROM payment_voids
       WHERE voided_at < requested_at + make_interval(secs => $1) AND requested_at < now() - make_interval(secs => $1)
       ORDER BY requested_at LIMIT $2)
     AND voided_at < requested_at + make_interval(secs => $1)`,
    [settleSeconds, limit],
  );
  return rowCount;
}

/** Where a walk through the owed voids stands: the last one a round took. */
export interface StalledVoidsCursor {
  requestedAt: string;
  orderId: string;
}

/**
 * Voids owed and untouched for `olderThanSeconds` (their job may be lost or given up), oldest
 * first, after `after` when given (answered as `next`, the last one taken, or undefined once the
 * walk reached the end). Walked a page per round, as the unsent emails are: a void the provider
 * keeps refusing stays owed with its old `requested_at`, and more than a page of them, taken from
 * the oldest each round, hid every newer void whose job was lost (a charge never refunded).
 */
export async function findStalledVoids(
  db: Queryable,
  olderThanSeconds: number,
  page: { limit?: number; after?: StalledVoidsCursor } = {},
): Promise<{ orderIds: string[]; next: StalledVoidsCursor | undefined }> {
  const limit = page.limit ?? 500;
  const { rows } = await db.query<{ orderId: string; requestedAt: string }>(
    `SELECT order_id AS "orderId", requested_at::text AS "requestedAt" FROM payment_voids
     WHERE voided_at IS NULL AND requested_at < now() - make_interval(secs => $1)
       AND ($3::timestamptz IS NULL OR (requested_at, order_id) > ($3::timestamptz, $4::uuid))
     ORDER BY requested_at, order_id LIMIT $2`,
    [olderThanSeconds, limit, page.after?.requestedAt ?? null, page.after?.orderId ?? null],
  );
  const last = rows.length === limit ? rows.at(-1) : undefined;
  return { orderIds: rows.map((row) => row.orderId), next: last && { requestedAt: last.requestedAt, orderId: last.orderId } };
}

/**
 * Deletes up to `batch` voids done more than `olderThanDays` ago, oldest first; answers how many.
 * An owed void (`voided_at IS NULL`) is never deleted: the condition is repeated on the deleted
 * rows themselves, so a row asked for again (`requestVoids`) while this runs is rechecked on its
 * new version and kept.
 */
export async function pruneVoids(db: Queryable, olderThanDays: number, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM payment_voids WHERE order_id IN (
       SELECT order_id FROM payment_voids
       WHERE voided_at < now() - make_interval(days => $1)
       ORDER BY voided_at LIMIT $2)
     AND voided_at < now() - make_interval(days => $1)`,
    [olderThanDays, batch],
  );
  return rowCount;
}
