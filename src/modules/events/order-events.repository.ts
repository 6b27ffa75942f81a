import type { Queryable } from '../../platform/db/index.js';
import type { Order } from '../orders/index.js';
import type { OrderEvent, OrderEventType } from './order-event.js';

/** One outbox row taken by the relay: its order event is written in the same transaction. */
export interface OutboxRow {
  outboxId: number;
  topic: string;
  orderId: string;
  createdAt: Date;
}

// Any constant; it only has to be the same in every process relaying events.
const SEQUENCER_LOCK_KEY = 727_014;

/**
 * Takes the sequencer lock for this transaction, or answers false at once when another process
 * holds it (that process is copying the same rows; this one has nothing to do).
 */
export async function trySequencerLock(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ acquired: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS acquired', [SEQUENCER_LOCK_KEY], {
    name: 'try-sequencer-lock',
  });
  return rows[0]?.acquired === true;
}

/**
 * Up to `limit` committed outbox rows not yet in the event stream, oldest first. Read without
 * row locks: the caller holds the sequencer lock, so no other pass takes the same rows, and the
 * rows stay free for the relay's claim and mark until `markSequenced` at the end of the pass.
 * Every committed row is taken in id order, never a later row of an order before an earlier one
 * (an order's changes commit one after another): that keeps each order's events in order.
 */
export async function findUnsequenced(tx: Queryable, limit: number): Promise<OutboxRow[]> {
  const { rows } = await tx.query<OutboxRow>(
    `SELECT id AS "outboxId", topic, aggregate_id AS "orderId", created_at AS "createdAt"
     FROM outbox_events WHERE NOT sequenced ORDER BY id LIMIT $1`,
    [limit],
    { name: 'find-unsequenced' },
  );
  return rows;
}

/**
 * Marks rows as in the event stream: the pass's last statement, so their row locks are held only
 * until its commit, not while the events are built (the relay's mark of the same rows waits for
 * them). Locked in id order, as the relay's mark locks them: two UPDATEs locking shared rows in
 * different orders deadlock (a relay round under load logged "deadlock detected").
 */
export async function markSequenced(tx: Queryable, outboxIds: readonly number[]): Promise<void> {
  if (outboxIds.length === 0) return;
  await tx.query(
    `UPDATE outbox_events SET sequenced = true
     WHERE id IN (SELECT id FROM outbox_events WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE)`,
    [outboxIds],
    { name: 'mark-sequenced' },
  );
}

export interface NewOrderEvent {
  outboxId: number;
  orderId: string;
  userId: string;
  type: OrderEventType;
  order: Order;
  createdAt: string;
}

/** Appends events in the given order; positions are assigned in that order. */
export async function appendEvents(tx: Queryable, events: readonly NewOrderEvent[]): Promise<OrderEvent[]> {
  if (events.length === 0) return [];
  const { rows } = await tx.query<{ seq: string; outboxId: string }>(
    `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
     SELECT (e->>'outboxId')::bigint, (e->>'orderId')::uuid, (e->>'userId')::uuid, e->>'type', e->'order', (e->>'createdAt')::timestamptz
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
     ORDER BY n
     RETURNING seq, outbox_id AS "outboxId"`,
    [JSON.stringify(events)],
    { name: 'append-order-events' },
  );
  const seqByOutboxId = new Map(rows.map((row) => [Number(row.outboxId), Number(row.seq)]));
  return events
    .map(({ outboxId, ...event }) => ({ ...event, seq: seqByOutboxId.get(outboxId) ?? 0 }))
    .sort((a, b) => a.seq - b.seq);
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

/**
 * The order's latest logged event, and whether changes of the order are committed to the outbox
 * but not yet in the event log: read in ONE statement, so from one snapshot. Read one after the
 * other, an events pass committing in between (it appends the events and marks their outbox rows
 * in one transaction) made an order look fully logged while its latest event was not yet seen.
 */
export async function logStateOf(db: Queryable, orderId: string): Promise<{ latest: OrderEvent | undefined; unlogged: boolean }> {
  const { rows } = await db.query<EventRow & { unlogged: boolean }>(
    `SELECT e.*, EXISTS (SELECT 1 FROM outbox_events WHERE aggregate_id = $1 AND NOT sequenced) AS unlogged
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM order_events WHERE order_id = $1 ORDER BY seq DESC LIMIT 1) AS e ON true`,
    [orderId],
  );
  // Always one row (the LEFT JOIN); its event columns are null when nothing of the order is logged.
  const { unlogged, ...event } = rows[0]!;
  return { latest: event.seq === null ? undefined : toEvent(event), unlogged };
}

export async function lastSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM order_events');
  return Number(rows[0]?.seq ?? 0);
}

export async function pruneEvents(db: Queryable, olderThanHours: number): Promise<void> {
  await db.query('DELETE FROM order_events WHERE created_at < now() - make_interval(hours => $1)', [olderThanHours]);
}
