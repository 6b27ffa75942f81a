import { isoUtc, isoUtcMicros, type Queryable } from '../../platform/db/index.js';
import type { DeliveryStatus } from './webhooks.schemas.js';

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A row of a list, with the key of its keyset position (`created_at` to the microsecond). */
export type Listed<T> = T & { cursorKey: string };
const CURSOR_KEY = `${isoUtcMicros('created_at')} AS "cursorKey"`;

const WEBHOOK_COLUMNS = `id, url, events, description, enabled, ${isoUtc('created_at')} AS "createdAt", ${isoUtc('updated_at')} AS "updatedAt"`;
const DELIVERY_COLUMNS = `id, webhook_id AS "webhookId", event_seq::text AS "eventId", type, status, attempts,
  last_status_code AS "lastStatusCode", last_error AS "lastError",
  CASE WHEN status = 'pending' THEN ${isoUtc('next_attempt_at')} END AS "nextAttemptAt",
  ${isoUtc('created_at')} AS "createdAt", ${isoUtc('updated_at')} AS "updatedAt"`;

export async function insertWebhook(db: Queryable, webhook: { id: string; url: string; events: string[]; description: string; secret: string }): Promise<Webhook> {
  const { rows } = await db.query<Webhook>(
    `INSERT INTO webhooks (id, url, events, description, secret) VALUES ($1, $2, $3, $4, $5) RETURNING ${WEBHOOK_COLUMNS}`,
    [webhook.id, webhook.url, webhook.events, webhook.description, webhook.secret],
  );
  return rows[0]!;
}

/** Newest first by (created_at, id). */
export async function listWebhooks(db: Queryable, after: { createdAt: string; id: string } | undefined, limit: number): Promise<Listed<Webhook>[]> {
  const { rows } = await db.query<Listed<Webhook>>(
    `SELECT ${WEBHOOK_COLUMNS}, ${CURSOR_KEY} FROM webhooks
     WHERE $1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid)
     ORDER BY created_at DESC, id DESC LIMIT $3`,
    [after?.createdAt ?? null, after?.id ?? null, limit + 1],
  );
  return rows;
}

export async function findWebhook(db: Queryable, id: string): Promise<Webhook | undefined> {
  const { rows } = await db.query<Webhook>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [id]);
  return rows[0];
}

/** Why the deliveries still owed to an endpoint ended when it was disabled. */
export const DISABLED_ERROR = 'the endpoint was disabled';

/**
 * Disabling an endpoint (`enabled: false`) ends the deliveries it was still owed as `failed`, as
 * Stripe, GitHub and Svix stop a disabled endpoint's deliveries: no events are written for it
 * while disabled, and its backlog does not go out all at once, stale, when it is enabled again.
 * Each can be redelivered. A delivery in flight ends too, its lease kept: its attempt finishes and
 * records its outcome, a failure not retried (`recordAttempt`), and meanwhile no other delivery of
 * the endpoint is claimed should it be enabled again. (Left pending, the delivery of a sender that
 * had died mid-attempt went out, stale, once the endpoint was enabled again.)
 */
export async function updateWebhook(
  db: Queryable,
  id: string,
  changes: { url?: string | undefined; events?: string[] | undefined; description?: string | undefined; enabled?: boolean | undefined },
): Promise<Webhook | undefined> {
  const { rows } = await db.query<Webhook>(
    `WITH updated AS (
       UPDATE webhooks SET url = COALESCE($2, url), events = COALESCE($3, events), description = COALESCE($4, description),
         enabled = COALESCE($5, enabled), updated_at = now()
       WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}
     ), ended AS (
       UPDATE webhook_deliveries d SET status = 'failed', last_error = $6, updated_at = now(),
         leased_until = CASE WHEN d.leased_until >= now() THEN d.leased_until END
       FROM updated u
       WHERE $5::boolean IS FALSE AND d.webhook_id = u.id AND d.status = 'pending'
     )
     SELECT * FROM updated`,
    [id, changes.url ?? null, changes.events ?? null, changes.description ?? null, changes.enabled ?? null, DISABLED_ERROR],
  );
  return rows[0];
}

export async function deleteWebhook(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM webhooks WHERE id = $1', [id]);
  return rowCount > 0;
}

/** The new secret signs from now on; the old one also signs for `overlapHours`. */
export async function rotateSecret(db: Queryable, id: string, secret: string, overlapHours: number): Promise<Webhook | undefined> {
  const { rows } = await db.query<Webhook>(
    `UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(hours => $3),
       secret = $2, updated_at = now()
     WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
    [id, secret, overlapHours],
  );
  return rows[0];
}

/** Whether any endpoint could receive deliveries (the deliverer's cheap check before a claim). */
export async function anyEnabledWebhook(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM webhooks WHERE enabled) AS any', [], { name: 'any-enabled-webhook' });
  return rows[0]?.any === true;
}

/**
 * One delivery per (event, enabled endpoint subscribed to its type): a data-modifying CTE over
 * `appended` (the events just given their positions), run by the events relay in the same
 * statement, so an event and its deliveries commit together.
 */
export function createDeliveries(appended: string): string {
  return `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload)
     SELECT gen_random_uuid(), w.id, e.seq, e.type,
            jsonb_build_object('id', e.seq::text, 'type', e.type, 'createdAt', ${isoUtc('e.created_at')}, 'data', jsonb_build_object('order', e."order"))
     FROM ${appended} e JOIN webhooks w ON w.enabled AND e.type = ANY (w.events)
     ON CONFLICT (webhook_id, event_seq) DO NOTHING`;
}

export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  filter: { status: DeliveryStatus | undefined; after: { createdAt: string; id: string } | undefined; limit: number },
): Promise<Listed<Delivery>[]> {
  const { rows } = await db.query<Listed<Delivery>>(
    `SELECT ${DELIVERY_COLUMNS}, ${CURSOR_KEY} FROM webhook_deliveries
     WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2)
       AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $5`,
    [webhookId, filter.status ?? null, filter.after?.createdAt ?? null, filter.after?.id ?? null, filter.limit + 1],
  );
  return rows;
}

/**
 * Due again now; one more attempt even if it had used them all (an operator asked for it). The
 * attempts made stay counted: the delivery is allowed one more instead. The lease of an attempt
 * in flight is kept (cleared, another sender took the delivery, or another of the endpoint's,
 * while that attempt was still open): the next attempt follows it, its record leaving the
 * delivery due (`recordAttempt`).
 */
export async function scheduleRedelivery(db: Queryable, webhookId: string, deliveryId: string, maxAttempts: number): Promise<Delivery | undefined> {
  const { rows } = await db.query<Delivery>(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(),
       attempts_allowed = GREATEST(COALESCE(attempts_allowed, $3), attempts + 1), updated_at = now()
     WHERE id = $1 AND webhook_id = $2 RETURNING ${DELIVERY_COLUMNS}`,
    [deliveryId, webhookId, maxAttempts],
  );
  return rows[0];
}

export async function backlogByWebhook(db: Queryable): Promise<{ webhookId: string; pending: number }[]> {
  const { rows } = await db.query<{ webhookId: string; pending: number }>(
    `SELECT w.id AS "webhookId", count(d.id)::int AS pending
     FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id AND d.status = 'pending'
     GROUP BY w.id`,
  );
  return rows;
}

/**
 * Deletes up to `batch` finished deliveries (succeeded or failed) that finished more than
 * `olderThanDays` ago, oldest first, through the index of finished ones; answers how many.
 * Pending ones stay whatever their age: they are still owed.
 */
export async function pruneDeliveries(db: Queryable, olderThanDays: number, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM webhook_deliveries WHERE id IN (
       SELECT id FROM webhook_deliveries
       WHERE status <> 'pending' AND updated_at < now() - make_interval(days => $1)
       ORDER BY updated_at LIMIT $2)`,
    [olderThanDays, batch],
  );
  return rowCount;
}
