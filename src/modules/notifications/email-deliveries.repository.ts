import type { Queryable } from '../../platform/db/index.js';

export type EmailKind = 'order_confirmation' | 'order_failure';

export type ClaimResult = 'claimed' | 'already-sent' | 'claimed-elsewhere';

/**
 * Claims the (order, kind) delivery for one sender for `leaseSeconds`. Exactly one caller
 * gets 'claimed' at a time; once marked sent, nobody does again. A lease that ran out (the
 * sender crashed) can be claimed anew.
 */
export async function claimDelivery(
  db: Queryable,
  delivery: { orderId: string; kind: EmailKind; messageId: string; leaseSeconds: number },
): Promise<ClaimResult> {
  const claimed = await db.query(
    `INSERT INTO email_deliveries (order_id, kind, message_id, attempts, claimed_until)
     VALUES ($1, $2, $3, 1, now() + make_interval(secs => $4))
     ON CONFLICT (order_id, kind) DO UPDATE
       SET attempts = email_deliveries.attempts + 1, claimed_until = EXCLUDED.claimed_until
       WHERE email_deliveries.status = 'pending'
         AND (email_deliveries.claimed_until IS NULL OR email_deliveries.claimed_until < now())
     RETURNING 1`,
    [delivery.orderId, delivery.kind, delivery.messageId, delivery.leaseSeconds],
  );
  if (claimed.rowCount > 0) return 'claimed';
  const { rows } = await db.query<{ status: string }>('SELECT status FROM email_deliveries WHERE order_id = $1 AND kind = $2', [
    delivery.orderId,
    delivery.kind,
  ]);
  return rows[0]?.status === 'sent' ? 'already-sent' : 'claimed-elsewhere';
}

export async function markSent(db: Queryable, orderId: string, kind: EmailKind): Promise<void> {
  await db.query(
    `UPDATE email_deliveries SET status = 'sent', sent_at = now(), claimed_until = NULL, last_error = NULL
     WHERE order_id = $1 AND kind = $2`,
    [orderId, kind],
  );
}

/** Gives the claim back after a failed send, so the retry need not wait for the lease. */
export async function releaseClaim(db: Queryable, orderId: string, kind: EmailKind, error: string): Promise<void> {
  await db.query(
    `UPDATE email_deliveries SET claimed_until = NULL, last_error = left($3, 500)
     WHERE order_id = $1 AND kind = $2 AND status = 'pending'`,
    [orderId, kind, error],
  );
}

/** Orders that finished more than `olderThanSeconds` ago and whose email has not been sent (for the reconciler). */
export async function findMissingEmails(
  db: Queryable,
  olderThanSeconds: number,
  limit = 500,
): Promise<{ orderId: string; kind: EmailKind }[]> {
  const { rows } = await db.query<{ orderId: string; kind: EmailKind }>(
    `SELECT o.id AS "orderId",
            CASE o.status WHEN 'completed' THEN 'order_confirmation' ELSE 'order_failure' END AS kind
     FROM orders o
     LEFT JOIN email_deliveries d
       ON d.order_id = o.id AND d.kind = CASE o.status WHEN 'completed' THEN 'order_confirmation' ELSE 'order_failure' END
     WHERE o.status IN ('completed', 'failed')
       AND o.updated_at < now() - make_interval(secs => $1)
       AND (d.status IS NULL OR d.status <> 'sent')
     ORDER BY o.updated_at
     LIMIT $2`,
    [olderThanSeconds, limit],
  );
  return rows;
}

export interface EmailDeliveryView {
  kind: EmailKind;
  status: 'pending' | 'sent';
  attempts: number;
  createdAt: string;
  sentAt: string | null;
}

/** An order's emails for operators. `last_error` stays out: it holds SMTP library text that no client may see. */
export async function listDeliveries(db: Queryable, orderId: string): Promise<EmailDeliveryView[]> {
  const { rows } = await db.query<{ kind: EmailKind; status: 'pending' | 'sent'; attempts: number; createdAt: Date; sentAt: Date | null }>(
    `SELECT kind, status, attempts, created_at AS "createdAt", sent_at AS "sentAt"
       FROM email_deliveries WHERE order_id = $1 ORDER BY created_at`,
    [orderId],
  );
  return rows.map((row) => ({ ...row, createdAt: new Date(row.createdAt).toISOString(), sentAt: row.sentAt ? new Date(row.sentAt).toISOString() : null }));
}
