import type { Queryable } from '../../platform/db/index.js';

export interface BucketCount {
  /** Bucket start, Unix seconds. */
  bucket: number;
  kind: 'placed' | 'completed' | 'failed';
  count: number;
}

/**
 * Orders placed (by `created_at`, indexed) and finished (a terminal order's `updated_at` is the
 * moment it finished; `orders_finished_idx`) per bucket since `sinceSeconds` (Unix seconds).
 */
export async function countByBucket(db: Queryable, sinceSeconds: number, bucketSeconds: number): Promise<BucketCount[]> {
  const { rows } = await db.query<{ bucket: string; kind: BucketCount['kind']; count: number }>(
    `SELECT (floor(extract(epoch FROM created_at) / $2) * $2)::bigint AS bucket, 'placed' AS kind, count(*)::int AS count
       FROM orders WHERE created_at >= to_timestamp($1) GROUP BY 1
     UNION ALL
     SELECT (floor(extract(epoch FROM updated_at) / $2) * $2)::bigint, status, count(*)::int
       FROM orders WHERE updated_at >= to_timestamp($1) AND status IN ('completed', 'failed') GROUP BY 1, 2`,
    [sinceSeconds, bucketSeconds],
  );
  return rows.map((row) => ({ bucket: Number(row.bucket), kind: row.kind, count: row.count }));
}

export interface BacklogRow {
  pending: number;
  processing: number;
  oldestPendingSeconds: number | null;
}

/** Unfinished orders right now; the partial index on `status` keeps this proportional to the backlog. */
export async function readBacklog(db: Queryable): Promise<BacklogRow> {
  const { rows } = await db.query<BacklogRow>(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'processing')::int AS processing,
            extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))::float8 AS "oldestPendingSeconds"
       FROM orders WHERE status IN ('pending', 'processing')`,
  );
  return rows[0] ?? { pending: 0, processing: 0, oldestPendingSeconds: null };
}

/** Placement → completed/failed latency percentiles of the orders that finished since `sinceSeconds` (`orders_finished_idx`). */
export async function readLatency(db: Queryable, sinceSeconds: number): Promise<{ p50: number | null; p95: number | null }> {
  const { rows } = await db.query<{ p50: number | null; p95: number | null }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))::float8 AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))::float8 AS p95
       FROM orders WHERE updated_at >= to_timestamp($1) AND status IN ('completed', 'failed')`,
    [sinceSeconds],
  );
  return rows[0] ?? { p50: null, p95: null };
}
