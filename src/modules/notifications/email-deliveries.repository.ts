import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../platform/db/index.js';
import { EMAIL_OWED_ON_ENTRY, type OrderEmailKind } from '../orders/index.js';

/** Which email: the orders module decides which one finishing an order owes, and records it. */
export type EmailKind = OrderEmailKind;

/**
 * `undeliverable`: the mail server refused the message for good, or it was still failing
 * `maxRetryHours` after its first failure; it is not tried again (unless an admin resends it).
 */
export type EmailStatus = 'pending' | 'sent' | 'undeliverable';

export interface EmailClaims {
  /** This claim's token: renewals, releases and refusals act only on rows still bearing it. */
  token: string;
  /** This sender's to send now. */
  claimed: string[];
  alreadySent: string[];
  /** Refused by the mail server for good earlier: nothing more to do. */
  undeliverable: string[];
  /** Another sender holds the claim right now. */
  claimedElsewhere: string[];
}

/**
 * Claims the (order, kind) deliveries of many orders for one sender for `leaseSeconds`, in one
 * statement. Exactly one caller gets an order's delivery at a time; once marked sent, nobody
 * does again. A lease that ran out (the sender crashed) can be claimed anew. The row is
 * normally there already (written unsent by the statement that finished the order); it is
 * created here for orders finished before that was so.
 */
export async function claimDeliveries(
  db: Queryable,
  batch: { kind: EmailKind; deliveries: readonly { orderId: string; messageId: string }[]; leaseSeconds: number },
): Promise<EmailClaims> {
  const orderIds = batch.deliveries.map((d) => d.orderId);
  const token = randomUUID();
  const { rows } = await db.query<{ orderId: string; outcome: 'claimed' | 'sent' | 'undeliverable' | 'elsewhere' }>(
    `WITH claimed AS (
       INSERT INTO email_deliveries (order_id, kind, message_id, attempts, claimed_until, claim_token)
       SELECT d.order_id, $2, d.message_id, 1, now() + make_interval(secs => $4), $5
       FROM unnest($1::uuid[], $3::text[]) AS d(order_id, message_id)
       ON CONFLICT (order_id, kind) DO UPDATE
         SET attempts = email_deliveries.attempts + 1, claimed_until = EXCLUDED.claimed_until,
             message_id = EXCLUDED.message_id, claim_token = EXCLUDED.claim_token
         WHERE email_deliveries.status = 'pending'
           AND (email_deliveries.claimed_until IS NULL OR email_deliveries.claimed_until < now())
       RETURNING order_id
     )
     SELECT d.id AS "orderId",
            CASE WHEN c.order_id IS NOT NULL THEN 'claimed' WHEN e.status IN ('sent', 'undeliverable') THEN e.status ELSE 'elsewhere' END AS outcome
     FROM unnest($1::uuid[]) AS d(id)
     LEFT JOIN claimed c ON c.order_id = d.id
     LEFT JOIN email_deliveries e ON e.order_id = d.id AND e.kind = $2`,
    [orderIds, batch.kind, batch.deliveries.map((d) => d.messageId), batch.leaseSeconds, token],
    { name: 'claim-email-deliveries' },
  );
  const pick = (outcome: string) => rows.filter((row) => row.outcome === outcome).map((row) => row.orderId);
  return { token, claimed: pick('claimed'), alreadySent: pick('sent'), undeliverable: pick('undeliverable'), claimedElsewhere: pick('elsewhere') };
}

/** Marks sent whoever holds the claim now: the message went out, which is true whatever happened to the lease. */
export async function markSent(db: Queryable, orderIds: readonly string[], kind: EmailKind): Promise<void> {
  if (orderIds.length === 0) return;
  await db.query(
    `UPDATE email_deliveries SET status = 'sent', sent_at = now(), claimed_until = NULL, claim_token = NULL, last_error = NULL
     WHERE order_id = ANY($1::uuid[]) AND kind = $2`,
    [orderIds, kind],
    { name: 'mark-emails-sent' },
  );
}

/**
 * Extends this claim's rows by another lease while their messages are still being sent (a
 * batch through a pool of a few connections can outlast one lease). A row claimed anew since
 * (this claim's lease ran out) bears another token and is left alone. A row whose lease ran out
 * (a renewal came late) but that nobody claimed since still bears this token and is renewed:
 * its message is still this sender's to send, and leaving the lease lapsed would let the
 * reconciler send it again for as long as the batch is out.
 */
export async function extendClaims(db: Queryable, claim: string, orderIds: readonly string[], kind: EmailKind, leaseSeconds: number): Promise<void> {
  if (orderIds.length === 0) return;
  // Looked up by key (the claimed orders), not by token: no index holds the tokens, and a
  // filter on them alone read every pending row (~19 ms a renewal with 5,000 pending).
  await db.query(
    `UPDATE email_deliveries SET claimed_until = now() + make_interval(secs => $3)
     WHERE order_id = ANY($4::uuid[]) AND kind = $2 AND status = 'pending' AND claim_token = $1`,
    [claim, kind, leaseSeconds, orderIds],
  );
}

/** Ends the deliveries the mail server refused for good, where this claim still holds them: they are not tried again. */
export async function markUndeliverable(
  db: Queryable,
  claim: string,
  rejections: readonly { orderId: string; error: string }[],
  kind: EmailKind,
): Promise<void> {
  if (rejections.length === 0) return;
  await db.query(
    `UPDATE email_deliveries d SET status = 'undeliverable', claimed_until = NULL, claim_token = NULL, last_error = left(r.error, 500)
     FROM unnest($1::uuid[], $3::text[]) AS r(order_id, error)
     WHERE d.order_id = r.order_id AND d.kind = $2 AND d.status = 'pending' AND d.claim_token = $4`,
    [rejections.map((r) => r.orderId), kind, rejections.map((r) => r.error), claim],
  );
}

/**
 * Gives this claim's rows back after failed sends, so the retry need not wait for the lease;
 * another claim's rows stay its own. Each row keeps its error and the time of its first failure;
 * a row whose first failure is more than `maxRetryHours` old is given up instead (`undeliverable`,
 * answered), as an MTA bounces a message past its queue lifetime. Decided by the failed attempt
 * that holds the claim, in the statement that ends it: no send of that row is in flight, and it
 * was not sent. A row whose job is lost is re-enqueued by the reconciler, so its next failure
 * decides.
 */
export async function releaseClaims(
  db: Queryable,
  claim: string,
  failures: readonly { orderId: string; error: string }[],
  kind: EmailKind,
  maxRetryHours: number,
): Promise<{ givenUp: string[] }> {
  if (failures.length === 0) return { givenUp: [] };
  const { rows } = await db.query<{ orderId: string; status: EmailStatus }>(
    `UPDATE email_deliveries d SET claimed_until = NULL, claim_token = NULL, last_error = left(f.error, 500),
       first_failed_at = coalesce(d.first_failed_at, now()),
       status = CASE WHEN d.first_failed_at < now() - make_interval(hours => $5) THEN 'undeliverable' ELSE 'pending' END
     FROM unnest($1::uuid[], $3::text[]) AS f(order_id, error)
     WHERE d.order_id = f.order_id AND d.kind = $2 AND d.status = 'pending' AND d.claim_token = $4
     RETURNING d.order_id AS "orderId", d.status`,
    [failures.map((f) => f.orderId), kind, failures.map((f) => f.error), claim, maxRetryHours],
  );
  return { givenUp: rows.filter((row) => row.status === 'undeliverable').map((row) => row.orderId) };
}

/**
 * Gives this claim's rows back untried, their sends cut off by a stop (not failed): no error, no
 * first failure, so the next sender, the next start's, takes them at once.
 */
export async function giveBackClaims(db: Queryable, claim: string, orderIds: readonly string[], kind: EmailKind): Promise<void> {
  if (orderIds.length === 0) return;
  await db.query(
    `UPDATE email_deliveries SET claimed_until = NULL, claim_token = NULL
     WHERE order_id = ANY($1::uuid[]) AND kind = $2 AND status = 'pending' AND claim_token = $3`,
    [orderIds, kind, claim],
  );
}

/** Where a walk through the unsent emails stands: the last one a round took. */
export interface MissingEmailsCursor {
  createdAt: string;
  orderId: string;
  kind: EmailKind;
}

/**
 * Unsent emails owed for more than `olderThanSeconds` whose claim is not live (for the
 * reconciler), oldest first, after `after` when given (answered as `next`, the last one taken, or
 * undefined once the walk reached the end). Every finished order has its row from the moment it
 * finished, so this reads only the index of pending rows, however many orders the shop has. A
 * refused email (`undeliverable`) is not pending: it would be refused again. Walked a page per
 * round, so more than a page of emails that keep failing (full mailboxes, retried) cannot hide
 * newer ones whose job was lost: a page from the oldest each round did.
 */
export async function findMissingEmails(
  db: Queryable,
  olderThanSeconds: number,
  page: { limit?: number; after?: MissingEmailsCursor } = {},
): Promise<{ emails: { orderId: string; kind: EmailKind }[]; next: MissingEmailsCursor | undefined }> {
  const limit = page.limit ?? 500;
  const { rows } = await db.query<{ orderId: string; kind: EmailKind; createdAt: string }>(
    `SELECT order_id AS "orderId", kind, created_at::text AS "createdAt" FROM email_deliveries
     WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
       AND (claimed_until IS NULL OR claimed_until < now())
       AND ($3::timestamptz IS NULL OR (created_at, order_id, kind) > ($3::timestamptz, $4::uuid, $5::text))
     ORDER BY created_at, order_id, kind
     LIMIT $2`,
    [olderThanSeconds, limit, page.after?.createdAt ?? null, page.after?.orderId ?? null, page.after?.kind ?? null],
  );
  const last = rows.length === limit ? rows.at(-1) : undefined;
  return {
    emails: rows.map(({ orderId, kind }) => ({ orderId, kind })),
    next: last && { createdAt: last.createdAt, orderId: last.orderId, kind: last.kind },
  };
}

/**
 * Records the emails owed by orders finished in the last `finishedWithinHours` without their
 * row: only a process of a version from before the row was written at the finish (a rolling
 * upgrade) leaves one. Reads those orders through the index of finished orders by finish time
 * (`orders_finished_idx`), so an order placed long before but finished during the upgrade is
 * found too (a window on `created_at` missed it).
 */
export async function recordOwedEmails(db: Queryable, finishedWithinHours: number): Promise<number> {
  // The statuses that owe an email, and which, from the orders module's own table.
  const owed = Object.entries(EMAIL_OWED_ON_ENTRY);
  const { rowCount } = await db.query(
    `INSERT INTO email_deliveries (order_id, kind, created_at)
     SELECT o.id, owed.kind, o.updated_at
     FROM orders o JOIN unnest($2::text[], $3::text[]) AS owed(status, kind) ON owed.status = o.status
     WHERE o.status IN ('completed', 'failed') AND o.updated_at > now() - make_interval(hours => $1)
       AND NOT EXISTS (SELECT 1 FROM email_deliveries d WHERE d.order_id = o.id)
     ON CONFLICT (order_id, kind) DO NOTHING`,
    [finishedWithinHours, owed.map(([status]) => status), owed.map(([, kind]) => kind)],
  );
  return rowCount;
}

export interface EmailBacklog {
  /** Emails owed and not sent yet. */
  pending: number;
  /** How long the oldest of them has been owed; null when none is. */
  oldestPendingSeconds: number | null;
  /** Emails the mail server refused for good, all time. */
  undeliverable: number;
}

/** Read through the partial indexes of pending and refused rows: proportional to them, not to every email sent. */
export async function readEmailBacklog(db: Queryable): Promise<EmailBacklog> {
  const { rows } = await db.query<EmailBacklog>(
    `SELECT p.pending, p."oldestPendingSeconds", u.undeliverable
     FROM (SELECT count(*)::int AS pending, extract(epoch FROM now() - min(created_at))::float8 AS "oldestPendingSeconds"
             FROM email_deliveries WHERE status = 'pending') p,
          (SELECT count(*)::int AS undeliverable FROM email_deliveries WHERE status = 'undeliverable') u`,
  );
  return rows[0] ?? { pending: 0, oldestPendingSeconds: null, undeliverable: 0 };
}

/** How long the oldest email owed has waited (0 when none): the metrics gauge, read every scrape, so one index probe. */
export async function oldestPendingEmailSeconds(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seconds: number | null }>(
    "SELECT extract(epoch FROM now() - min(created_at))::float8 AS seconds FROM email_deliveries WHERE status = 'pending'",
  );
  return rows[0]?.seconds ?? 0;
}

/**
 * Makes an order's refused emails pending again (an operator fixed the cause), with a new retry
 * lifetime; answers their kinds, each with its attempts so far (they tell one resend from the
 * next: a resend's job runs at least one claim, which counts).
 */
export async function reopenUndeliverable(db: Queryable, orderId: string): Promise<ReopenedEmail[]> {
  const { rows } = await db.query<ReopenedEmail>(
    `UPDATE email_deliveries SET status = 'pending', claimed_until = NULL, claim_token = NULL, first_failed_at = NULL
     WHERE order_id = $1 AND status = 'undeliverable' RETURNING order_id AS "orderId", kind, attempts`,
    [orderId],
  );
  return rows;
}

/** An email a resend made pending again: its attempts so far tell one resend from the next (`resendEmailJob`). */
export interface ReopenedEmail {
  orderId: string;
  kind: EmailKind;
  attempts: number;
}

/** Where a bulk resend stands: the last email it reopened, in (created_at, order, kind) order. */
export interface ReopenCursor {
  createdAt: string;
  orderId: string;
  kind: EmailKind;
}

/**
 * Makes up to `limit` refused emails owed (their order finished) in [`since`, `until`) pending
 * again with a new retry lifetime, after `after`, oldest first, through the partial index of
 * refused rows; answers them and where the next page starts (undefined at the end). One statement,
 * so a page holds its rows' locks only while it runs. A row another statement holds (a claim
 * writing its refusal, a single resend) is skipped rather than waited for; the status is checked
 * under the lock, so a row reopened elsewhere meanwhile is not reopened twice. Walking by cursor,
 * an email refused again by its resend's own job while the walk goes on is not reopened again.
 */
export async function reopenUndeliverablePage(
  db: Queryable,
  filter: { since?: string | undefined; until?: string | undefined },
  page: { limit: number; after?: ReopenCursor | undefined },
): Promise<{ emails: ReopenedEmail[]; next: ReopenCursor | undefined }> {
  const { rows } = await db.query<ReopenedEmail & { createdAt: string; reopened: boolean }>(
    `WITH picked AS (
       SELECT order_id, kind, created_at FROM email_deliveries
       WHERE status = 'undeliverable'
         AND ($1::timestamptz IS NULL OR created_at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR created_at < $2::timestamptz)
         AND ($4::timestamptz IS NULL OR (created_at, order_id, kind) > ($4::timestamptz, $5::uuid, $6::text))
       ORDER BY created_at, order_id, kind
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ), reopened AS (
       UPDATE email_deliveries d SET status = 'pending', claimed_until = NULL, claim_token = NULL, first_failed_at = NULL
       FROM picked p WHERE d.order_id = p.order_id AND d.kind = p.kind AND d.status = 'undeliverable'
       RETURNING d.order_id, d.kind, d.attempts
     )
     SELECT p.order_id AS "orderId", p.kind, r.attempts, p.created_at::text AS "createdAt", r.order_id IS NOT NULL AS reopened
     FROM picked p LEFT JOIN reopened r ON r.order_id = p.order_id AND r.kind = p.kind
     ORDER BY p.created_at, p.order_id, p.kind`,
    [filter.since ?? null, filter.until ?? null, page.limit, page.after?.createdAt ?? null, page.after?.orderId ?? null, page.after?.kind ?? null],
  );
  const last = rows.length === page.limit ? rows.at(-1) : undefined;
  return {
    emails: rows.filter((row) => row.reopened).map(({ orderId, kind, attempts }) => ({ orderId, kind, attempts })),
    next: last && { createdAt: last.createdAt, orderId: last.orderId, kind: last.kind },
  };
}

export interface EmailDeliveryView {
  kind: EmailKind;
  status: EmailStatus;
  attempts: number;
  createdAt: string;
  sentAt: string | null;
}

/** An order's emails for operators. `last_error` stays out: it holds SMTP library text that no client may see. */
export async function listDeliveries(db: Queryable, orderId: string): Promise<EmailDeliveryView[]> {
  const { rows } = await db.query<{ kind: EmailKind; status: EmailStatus; attempts: number; createdAt: Date; sentAt: Date | null }>(
    `SELECT kind, status, attempts, created_at AS "createdAt", sent_at AS "sentAt"
       FROM email_deliveries WHERE order_id = $1 ORDER BY created_at`,
    [orderId],
  );
  return rows.map((row) => ({ ...row, createdAt: new Date(row.createdAt).toISOString(), sentAt: row.sentAt ? new Date(row.sentAt).toISOString() : null }));
}
