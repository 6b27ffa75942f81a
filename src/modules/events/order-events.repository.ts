import { createHash } from 'node:crypto';
import type { Queryable } from '../../platform/db/index.js';
import { orderJsonAsOf } from '../orders/index.js';
import type { OrderEvent } from './order-event.js';

// Any constant; it only has to be the same in every process relaying events.
const SEQUENCER_LOCK_KEY = 727_014;

/**
 * SQL run inside the statement that appends events (a data-modifying CTE: INSERT, UPDATE or
 * DELETE), reading the new events from the relation named `appended` (seq, type, "order",
 * created_at): it commits with them, or not at all.
 */
export type AppendedEventsSql = (appended: string) => string;

/**
 * Copies up to `limit` committed outbox rows not yet in the event stream into it, in ONE
 * statement (one round trip, its own transaction): take the sequencer lock (or, when another
 * process holds it, do nothing), read the rows in id order, append one event per order row
 * with the order as it was right after that change, mark the rows sequenced, and run
 * `onAppended` on the new events.
 *
 * - Positions are handed out in id order under a lock held until the commit, so a reader that
 *   has seen position N has seen every earlier one, and each order's events keep their order
 *   (an order's changes commit one after another).
 * - The rows are read without a lock and locked (in id order, as the relay's mark locks them)
 *   only by the closing UPDATE, for the few milliseconds to the commit: the outbox relay's
 *   claim and mark of the same rows are not held up by a pass.
 * - The statement's snapshot is taken before the lock: a pass that gets the lock right after
 *   another committed may still see rows that one copied. `ON CONFLICT (outbox_id) DO NOTHING`
 *   skips them, so no event is appended twice.
 */
export async function sequenceEvents(
  db: Queryable,
  options: { limit: number; statusByType: Readonly<Record<string, string>>; onAppended: readonly AppendedEventsSql[] },
): Promise<{ locked: boolean; taken: number[]; appended: number }> {
  const hooks = options.onAppended.map((sql, i) => `, appended_hook_${i} AS (${sql('appended')})`).join('');
  const text = `WITH lock AS (
       SELECT pg_try_advisory_xact_lock(${SEQUENCER_LOCK_KEY}) AS acquired
     ), taken AS (
       SELECT id, topic, aggregate_id, created_at FROM outbox_events
       WHERE NOT sequenced AND (SELECT acquired FROM lock) ORDER BY id LIMIT $1
     ), appended AS (
       INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
       SELECT t.id, o.id, o.user_id, t.topic, ${orderJsonAsOf('s.status', 'a.entry')}, t.created_at
       FROM taken t
       JOIN unnest($2::text[], $3::text[]) AS s(type, status) ON s.type = t.topic
       JOIN orders o ON o.id = t.aggregate_id
       CROSS JOIN LATERAL (SELECT min(h.n) AS entry FROM jsonb_array_elements(o.history) WITH ORDINALITY AS h(e, n)
                           WHERE h.e ->> 'status' = s.status) a
       ORDER BY t.id
       ON CONFLICT (outbox_id) DO NOTHING
       RETURNING seq, type, "order", created_at
     ), marked AS (
       UPDATE outbox_events SET sequenced = true
       WHERE id IN (SELECT id FROM outbox_events WHERE id IN (SELECT id FROM taken) ORDER BY id FOR UPDATE)
     )${hooks}
     SELECT (SELECT acquired FROM lock) AS locked, coalesce((SELECT array_agg(id ORDER BY id) FROM taken), '{}') AS taken,
            (SELECT count(*) FROM appended)::int AS appended`;
  const types = Object.keys(options.statusByType);
  const { rows } = await db.query<{ locked: boolean; taken: (number | string)[]; appended: number }>(
    text,
    [options.limit, types, types.map((type) => options.statusByType[type])],
    // The text depends on the hooks: one prepared statement per text.
    { name: `sequence-order-events-${createHash('sha1').update(text).digest('hex').slice(0, 12)}` },
  );
  const row = rows[0];
  return { locked: row?.locked === true, taken: (row?.taken ?? []).map(Number), appended: row?.appended ?? 0 };
}

const EVENT_COLUMNS = `seq, order_id AS "orderId", user_id AS "userId", type, "order",
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt"`;

interface EventRow extends Omit<OrderEvent, 'seq'> {
  seq: string;
}
const toEvent = (row: EventRow): OrderEvent => ({ ...row, seq: Number(row.seq) });

/** Events after `afterSeq`, oldest first; only `userId`'s orders when given, or only `orderId`'s. */
export async function eventsAfter(
  db: Queryable,
  afterSeq: number,
  filter: { userId?: string; orderId?: string },
  limit: number,
): Promise<OrderEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM order_events
     WHERE seq > $1 AND ($2::uuid IS NULL OR user_id = $2) AND ($3::uuid IS NULL OR order_id = $3)
     ORDER BY seq LIMIT $4`,
    [afterSeq, filter.userId ?? null, filter.orderId ?? null, limit],
  );
  return rows.map(toEvent);
}

export async function latestEventOf(db: Queryable, orderId: string): Promise<OrderEvent | undefined> {
  const { rows } = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM order_events WHERE order_id = $1 ORDER BY seq DESC LIMIT 1`, [orderId]);
  return rows[0] && toEvent(rows[0]);
}

/** Whether changes of the order are committed to the outbox but not yet in the event log. */
export async function hasUnloggedEvents(db: Queryable, orderId: string): Promise<boolean> {
  const { rows } = await db.query<{ pending: boolean }>('SELECT EXISTS (SELECT 1 FROM outbox_events WHERE aggregate_id = $1 AND NOT sequenced) AS pending', [orderId]);
  return rows[0]?.pending === true;
}

export async function lastSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM order_events');
  return Number(rows[0]?.seq ?? 0);
}

export async function pruneEvents(db: Queryable, olderThanHours: number): Promise<void> {
  await db.query('DELETE FROM order_events WHERE created_at < now() - make_interval(hours => $1)', [olderThanHours]);
}
