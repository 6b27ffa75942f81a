/**
 * SQL for a timestamp as the ISO 8601 text clients see (`2026-12-04T10:00:00.123Z`, UTC,
 * milliseconds): what `Date.prototype.toISOString` gives for the same value read into the process.
 */
export function isoUtc(timestamp: string): string {
  return `to_char(${timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * The same to the microsecond, as PostgreSQL stores it: the key of a keyset cursor over a column
 * written with `now()`, where rows of one statement share a time and milliseconds would skip the
 * rows between a page's last one and the cut-off time.
 */
export function isoUtcMicros(timestamp: string): string {
  return `to_char(${timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/**
 * The WITH clause of a read whose answer must survive a failover: a one-row CTE `durable`, which
 * the read joins (`${WITH_SYNC_STANDBY_BARRIER} SELECT … FROM durable, …`) or, to keep its plan,
 * filters on once (`WHERE EXISTS (SELECT FROM durable) AND …`). On a primary with a synchronous standby
 * the read writes a tiny WAL record in a transaction of its own (a logical-decoding message,
 * which no table keeps), so its commit waits, like any write's, until the standby has flushed the
 * WAL up to it: past every commit the read saw. It answers only then, or not at all. (A
 * transaction id alone is not enough: a commit that wrote no other WAL does not wait.)
 *
 * Why: a primary that dies (kill -9) ends the wait of a commit still waiting for its standby, and
 * for a few milliseconds its other sessions see that commit, which the standby never received and
 * the new primary does not have. Writes need nothing: they wait for their own commit. A plain
 * read does not wait, so without this an order event read in that moment reached an SSE client
 * and was then lost in the failover, its position given to another event. Costs nothing
 * without a synchronous standby (PGlite, one server): nothing is written then.
 */
export const WITH_SYNC_STANDBY_BARRIER = `WITH durable AS MATERIALIZED (
  SELECT CASE WHEN current_setting('synchronous_standby_names') <> '' AND NOT pg_is_in_recovery()
  THEN pg_logical_emit_message(true, 'order-service', 'read barrier') END AS lsn)`;
