import type { Database, Queryable } from '../../platform/db/index.js';
import type { DeliveryStatus } from './webhooks.schemas.js';

/** A delivery taken by one sender, with what it needs to send it. */
export interface ClaimedDelivery {
  id: string;
  webhookId: string;
  url: string;
  /** The current secret, then the previous one while it still signs. */
  secrets: string[];
  eventId: string;
  payload: unknown;
  /** Attempts made, this one included. */
  attempts: number;
  /** Attempts it may make, when a redelivery allowed more than the setting. */
  attemptsAllowed: number | null;
  /** Identifies this claim: the result is recorded only while the claim is still ours. */
  leasedUntil: Date;
}

/** A delivery of `d` that is due and not leased to a live sender. */
const DUE = `d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())`;
/**
 * No delivery of the endpoint is in flight (leased to a live sender), whatever its status: one
 * ended by disabling its endpoint keeps its lease until its attempt is recorded.
 */
const IDLE = (webhookId: string) =>
  `NOT EXISTS (SELECT 1 FROM webhook_deliveries busy WHERE busy.webhook_id = ${webhookId} AND busy.leased_until >= now())`;

/**
 * Claims up to `limit` due deliveries, at most one per endpoint (those served least recently
 * first) and none of an endpoint with a delivery in flight anywhere (its lease not run out), so
 * a slow endpoint holds one sender at a time. The lease outlives one attempt; a sender killed
 * mid-attempt leaves a lease that runs out, and another sender retries with the same
 * webhook-id. The attempt is counted at the claim. The delivery is due again at the lease's end
 * (when a dead sender's attempt is retried): a redelivery asked during the attempt moves it off
 * that end, which is how its record knows.
 *
 * One claim per endpoint at a time: the endpoints' rows are locked first (skipping those another
 * claim holds), and only then does a second statement, whose snapshot is taken after the locks,
 * look for deliveries in flight. In one statement two claims could both read an endpoint as idle
 * from their snapshots and take two of its deliveries (each saw a different one due first).
 */
export async function claimDueDeliveries(db: Database, options: { limit: number; leaseMs: number; busyWebhookIds: readonly string[] }): Promise<ClaimedDelivery[]> {
  return db.transaction(async (tx) => {
    const { rows: endpoints } = await tx.query<{ id: string }>(
      `SELECT w.id FROM webhooks w
       CROSS JOIN LATERAL (SELECT d.next_attempt_at, d.event_seq FROM webhook_deliveries d
                           WHERE d.webhook_id = w.id AND ${DUE}
                           ORDER BY d.next_attempt_at, d.event_seq LIMIT 1) first_due
       WHERE w.enabled AND w.id <> ALL ($2::uuid[]) AND ${IDLE('w.id')}
       -- The endpoints served least recently first: in endpoint id order, endpoints whose due
       -- backlog never empties (failing ones) took every free slot and the others waited.
       ORDER BY w.last_claimed_at NULLS FIRST, first_due.next_attempt_at, first_due.event_seq
       LIMIT $1
       -- Not FOR UPDATE: the events relay's inserts of deliveries (FOR KEY SHARE) never wait on a claim.
       FOR NO KEY UPDATE OF w SKIP LOCKED`,
      [options.limit, options.busyWebhookIds],
      { name: 'lock-webhooks-to-claim' },
    );
    if (endpoints.length === 0) return [];
    const { rows } = await tx.query<ClaimedDelivery>(
      // Each endpoint's first due delivery, looked up one endpoint at a time (not DISTINCT ON
      // over all of them, which read and sorted a dead endpoint's whole backlog on every claim).
      // The lease runs from the moment the delivery is taken: its row is locked first (waiting
      // for a statement that holds it), and then the lease's end is read from the clock, once per
      // row (it is also the delivery's next due time, which must equal it). From the
      // transaction's start (now()), a claim that had waited for the row handed out a lease
      // already run out, and another sender could take the endpoint while the attempt was only
      // starting.
      `WITH due AS (
         SELECT first_due.id, date_trunc('milliseconds', clock_timestamp() + make_interval(secs => $1::double precision / 1000)) AS lease_end
         FROM unnest($2::uuid[]) AS e(webhook_id)
         CROSS JOIN LATERAL (SELECT d.id FROM webhook_deliveries d
                             WHERE d.webhook_id = e.webhook_id AND ${DUE}
                             ORDER BY d.next_attempt_at, d.event_seq LIMIT 1
                             FOR NO KEY UPDATE OF d) first_due
         WHERE ${IDLE('e.webhook_id')}
       ), claimed AS (
         UPDATE webhook_deliveries d
         SET leased_until = due.lease_end, next_attempt_at = due.lease_end,
             attempts = d.attempts + 1, updated_at = now()
         FROM due
         WHERE d.id = due.id AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until < now())
         RETURNING d.*
       ), served AS (
         UPDATE webhooks w SET last_claimed_at = now() FROM claimed c WHERE w.id = c.webhook_id
       )
       SELECT c.id, c.webhook_id AS "webhookId", w.url, c.event_seq::text AS "eventId", c.payload, c.attempts, c.attempts_allowed AS "attemptsAllowed", c.leased_until AS "leasedUntil",
              array_remove(ARRAY[w.secret, CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END], NULL) AS secrets
       FROM claimed c JOIN webhooks w ON w.id = c.webhook_id`,
      [options.leaseMs, endpoints.map((endpoint) => endpoint.id)],
    );
    return rows;
  });
}

export interface AttemptResult {
  ok: boolean;
  statusCode: number | undefined;
  error: string | undefined;
  /** Undefined: no more attempts (the delivery succeeded or has failed for good). */
  retryInMs: number | undefined;
}

/**
 * Records an attempt's outcome, unless the claim was lost (its lease ran out and another sender
 * took it). A redelivery asked during the attempt (it is no longer due at the lease's end) stays
 * due as it asked, whatever this attempt's outcome: the attempt began before it was asked. A
 * failed attempt is not retried once its endpoint has been disabled (`updateWebhook`).
 * Answers the delivery's status as recorded (which the attempt's result alone does not tell), or
 * undefined when the claim was lost and nothing was recorded.
 */
export async function recordAttempt(db: Queryable, claim: ClaimedDelivery, result: AttemptResult): Promise<DeliveryStatus | undefined> {
  const status = result.ok ? 'succeeded' : result.retryInMs === undefined ? 'failed' : 'pending';
  const { rows } = await db.query<{ status: DeliveryStatus }>(
    `UPDATE webhook_deliveries
     SET status = CASE WHEN next_attempt_at <> leased_until THEN 'pending'
                       WHEN $3 = 'pending' AND NOT (SELECT enabled FROM webhooks WHERE id = webhook_id) THEN 'failed'
                       ELSE $3 END,
         last_status_code = $4, last_error = $5, leased_until = NULL, updated_at = now(),
         next_attempt_at = CASE WHEN next_attempt_at <> leased_until OR $6::double precision IS NULL THEN next_attempt_at
                                ELSE now() + make_interval(secs => $6::double precision / 1000) END
     WHERE id = $1 AND leased_until = $2
     RETURNING status`,
    [claim.id, claim.leasedUntil, status, result.statusCode ?? null, result.error ?? null, result.retryInMs ?? null],
  );
  return rows[0]?.status;
}
