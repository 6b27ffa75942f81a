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
 * In a transaction: takes the sequencer lock (held until its commit) and reads up to `limit`
 * committed outbox rows not yet in the event stream, oldest first, in ONE statement; or, when
 * another pass holds the lock, answers `locked: false` and no rows at once (that pass is copying
 * the same rows). The rows are read without row locks, so they stay free for the relay's claim
 * and mark until the pass's last statement. Every committed row is taken in id order, never a
 * later row of an order before an earlier one (an order's changes commit one after another):
 * that keeps each order's events in order. The read's snapshot is taken as the statement starts,
 * a moment before the lock: a row a pass that just committed positioned may be among the rows,
 * and `appendSequenced` skips it.
 */
export async function lockAndFindUnsequenced(tx: Queryable, limit: number): Promise<{ locked: boolean; rows: OutboxRow[] }> {
  const { rows } = await tx.query<{ locked: boolean } & { [K in keyof OutboxRow]: OutboxRow[K] | null }>(
    `WITH sequencer AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS locked)
     SELECT s.locked, r.*
     FROM sequencer s
     LEFT JOIN LATERAL (
       SELECT id AS "outboxId", topic, aggregate_id AS "orderId", created_at AS "createdAt"
       FROM outbox_events WHERE s.locked AND NOT sequenced ORDER BY id LIMIT $2) r ON true`,
    [SEQUENCER_LOCK_KEY, limit],
    { name: 'lock-find-unsequenced' },
  );
  const taken = rows.filter((row): row is { locked: boolean } & OutboxRow => row.outboxId !== null);
  return { locked: rows[0]?.locked === true, rows: taken.map(({ locked: _, ...row }) => row) };
}

export interface NewOrderEvent {
  outboxId: number;
  orderId: string;
  userId: string;
  type: OrderEventType;
  order: Order;
  createdAt: string;
}

/**
 * A data-modifying CTE that runs in the statement giving events their positions, over
 * `appended` (the new `order_events` rows: seq, outbox_id, order_id, user_id, type, "order",
 * created_at): webhooks create their deliveries this way, so they commit with the events.
 */
export type AppendedEventsStatement = (appended: string) => string;

/**
 * Gives `events` their positions (in the given order), marks `outboxIds` as in the stream and
 * runs `alsoRun`, in ONE statement, in the transaction that holds the sequencer lock
 * (`lockAndFindUnsequenced`): positions are so handed out in commit order, and a reader that has
 * seen position N has seen everything below N. A row another pass positioned just before the
 * lock was taken is found by its unique outbox id and skipped. The outbox rows are locked in id
 * order, as the relay's mark locks them (two UPDATEs locking shared rows in different orders
 * deadlock), from here to the commit only.
 */
export async function appendSequenced(
  tx: Queryable,
  events: readonly NewOrderEvent[],
  outboxIds: readonly number[],
  alsoRun: readonly AppendedEventsStatement[],
): Promise<number> {
  const hooks = alsoRun.map((statement, i) => `, also_${i} AS (${statement('appended')})`).join('');
  const { rows } = await tx.query<{ appended: string }>(
    `WITH appended AS (
       INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
       SELECT (e->>'outboxId')::bigint, (e->>'orderId')::uuid, (e->>'userId')::uuid, e->>'type', e->'order', (e->>'createdAt')::timestamptz
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
       ORDER BY n
       ON CONFLICT (outbox_id) DO NOTHING
       RETURNING seq, outbox_id, order_id, user_id, type, "order", created_at),
     marked AS (
       UPDATE outbox_events SET sequenced = true
       WHERE id IN (SELECT id FROM outbox_events WHERE id = ANY($2::bigint[]) ORDER BY id FOR UPDATE))
     ${hooks}
     SELECT count(*) AS appended FROM appended`,
    [JSON.stringify(events), outboxIds],
    { name: 'append-sequenced-events' },
  );
  return Number(rows[0]?.appended ?? 0);
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
