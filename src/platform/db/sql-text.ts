/**
 * SQL for a timestamp as the ISO 8601 text clients see (`2026-12-04T10:00:00.123Z`, UTC,
 * milliseconds): what `Date.prototype.toISOString` gives for the same value read into the process.
 */
export function isoUtc(timestamp: string): string {
  return `to_char(${timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}
