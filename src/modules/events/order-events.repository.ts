import { isoUtc, WITH_SYNC_STANDBY_BARRIER, type Queryable } from '../../platform/db/index.js';
import { orderJsonAsOf, type OrderStatus } from '../orders/index.js';
import type { OrderEvent, OrderEventType } from './order-event.js';

// Any constant; it only has to be the same in every process relaying events.
const SEQUENCER_LOCK_KEY = 727_014;

/**
 * A data-modifying CTE that runs in the statement giving events their positions, over
 * `appended` (the new `order_events` rows: seq, outbox_id, order_id, user_id, type, "order",
 * created_at): webhooks create their deliveries this way, so they commit with the events.
 */
export type OnEventsAppended = (appended: string) => string;

/**
 * Copies up to `limit` committed outbox rows into the event stream in ONE statement, oldest
 * first: it takes the sequencer lock (an advisory lock held until the statement commits) or,
 * when another pass holds it, does nothing and answers `locked: false`; it appends an event per
 * row of an order event type, with the order as it was right after that change (built in SQL,
 * `orderJsonAsOf`), marks the rows sequenced and runs `alsoRun`. Positions are so handed out in
 * commit order: a reader that has seen position N has seen everything below N. Every committed
 * row is taken in id order, never a later row of an order before an earlier one (an order's
 * changes commit one after another): that keeps each order's events in order. The statement's
 * snapshot is a moment older than its lock: a row a pass that committed in that moment
 * positioned is found by its unique outbox id and skipped. The outbox rows are locked in id
 * order, as the relay's mark locks them (two UPDATEs locking shared rows in different orders
 * deadlock), and only while the statement runs. Answers the ids of the rows it marked (`taken`),
 * and of those the ones no relay held a claim on or had published (`claimable`): a relay's claim
 * that ran meanwhile skipped them, and no other relay will publish them. (The
 * mark looks its rows up as `= ANY (ARRAY(…))`: as `IN (SELECT id FROM taken)` the planner, not
 * knowing how many rows `taken` holds, scanned the whole outbox twice, ~28 ms a pass with 30,000
 * rows, and slower as the outbox grew.)
 */
export async function sequenceOutboxRows(
  db: Queryable,
  options: { limit: number; statusByType: Readonly<Record<OrderEventType, OrderStatus>>; alsoRun: readonly OnEventsAppended[] },
): Promise<{ locked: boolean; appended: number; lastSeq: number | undefined; taken: number[]; claimable: number[] }> {
  const hooks = options.alsoRun.map((statement, i) => `, also_${i} AS (${statement('appended')})`).join('');
  const { rows } = await db.query<{ locked: boolean; appended: string; last_seq: string | null; taken: string[] | null; claimable: string[] | null }>(
    `WITH sequencer AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS locked),
     taken AS MATERIALIZED (
       SELECT id, topic, aggregate_id, created_at FROM outbox_events
       WHERE (SELECT locked FROM sequencer) AND NOT sequenced ORDER BY id LIMIT $2),
     appended AS (
       INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
       SELECT t.id, o.id, o.user_id, t.topic, ${orderJsonAsOf('m.status')}, t.created_at
       FROM taken t
       JOIN unnest($3::text[], $4::text[]) AS m(type, status) ON m.type = t.topic
       JOIN orders o ON o.id = t.aggregate_id
       ORDER BY t.id
       ON CONFLICT (outbox_id) DO NOTHING
       RETURNING seq, outbox_id, order_id, user_id, type, "order", created_at),
     marked AS (
       UPDATE outbox_events SET sequenced = true
       WHERE id IN (SELECT id FROM outbox_events WHERE id = ANY (ARRAY(SELECT id FROM taken)) ORDER BY id FOR UPDATE)
       RETURNING id, published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now()) AS claimable)
     ${hooks}
     SELECT (SELECT locked FROM sequencer) AS locked, (SELECT count(*) FROM appended) AS appended, (SELECT max(seq) FROM appended) AS last_seq,
            (SELECT array_agg(id ORDER BY id) FROM marked) AS taken,
            (SELECT array_agg(id ORDER BY id) FROM marked WHERE claimable) AS claimable`,
    [SEQUENCER_LOCK_KEY, options.limit, Object.keys(options.statusByType), Object.values(options.statusByType)],
    { name: 'sequence-order-events' },
  );
  const row = rows[0]!;
  return {
    locked: row.locked,
    appended: Number(row.appended),
    lastSeq: row.last_seq === null ? undefined : Number(row.last_seq),
    taken: (row.taken ?? []).map(Number),
    claimable: (row.claimable ?? []).map(Number),
  };
}

/**
 * Waits until the pass holding the sequencer lock (if any) has committed: the lock is taken
 * shared for an instant, and released with the statement. In a transaction it is held until that
 * commits, and passes meanwhile find it held and wait their turn (disabling a webhook, so that no
 * pass creates deliveries for the endpoint from a snapshot that saw it enabled).
 */
export async function awaitSequencer(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock_shared($1)', [SEQUENCER_LOCK_KEY]);
}

/**
 * Moves the event positions past `handedOut` (plus `margin`) when the sequence is below it,
 * as it is in a database restored in place: clients resuming with `Last-Event-ID` and webhook
 * receivers deduplicating by `webhook-id` hold ids up to `handedOut`, and new events reusing
 * them would be skipped as seen. Answers the new position, or undefined when nothing was behind.
 * One statement: the sequence is read and moved together, and left alone once it is ahead.
 */
export async function moveEventPositionsPast(db: Queryable, handedOut: number, margin: number): Promise<number | undefined> {
  const { rows } = await db.query<{ moved: string | null }>(
    `SELECT setval(s.seq, $1::bigint + $2::bigint) AS moved
     FROM (SELECT pg_get_serial_sequence('order_events', 'seq')::regclass AS seq) s
     WHERE coalesce(pg_sequence_last_value(s.seq), 0) < $1::bigint`,
    [handedOut, margin],
  );
  return rows[0]?.moved ? Number(rows[0].moved) : undefined;
}

const EVENT_COLUMNS = `seq, order_id AS "orderId", user_id AS "userId", type, "order",
  ${isoUtc('created_at')} AS "createdAt"`;

interface EventRow extends Omit<OrderEvent, 'seq'> {
  seq: string;
}
const toEvent = (row: EventRow): OrderEvent => ({ ...row, seq: Number(row.seq) });

// The reads below hand events to clients (SSE) or decide what a client has seen: each waits for
// the synchronous standby to hold what it read, so no client sees an event a failover loses.

/** Events after `afterSeq`, oldest first; only `userId`'s orders when given, or only `orderId`'s. */
export async function eventsAfter(
  db: Queryable,
  afterSeq: number,
  filter: { userId?: string; orderId?: string },
  limit: number,
): Promise<OrderEvent[]> {
  const { rows } = await db.query<EventRow>(
    `${WITH_SYNC_STANDBY_BARRIER} SELECT ${EVENT_COLUMNS} FROM durable, order_events
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
    `${WITH_SYNC_STANDBY_BARRIER} SELECT e.*, EXISTS (SELECT 1 FROM outbox_events WHERE aggregate_id = $1 AND NOT sequenced) AS unlogged
     FROM durable
     LEFT JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM order_events WHERE order_id = $1 ORDER BY seq DESC LIMIT 1) AS e ON true`,
    [orderId],
  );
  // Always one row (the LEFT JOIN); its event columns are null when nothing of the order is logged.
  const { unlogged, ...event } = rows[0]!;
  return { latest: event.seq === null ? undefined : toEvent(event), unlogged };
}

/**
 * The highest position the event log has handed out (to a pass that may not have committed yet),
 * pruned or not: no client can hold an id past it from this log.
 */
export async function positionsHandedOut(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>(
    `SELECT pg_sequence_last_value(pg_get_serial_sequence('order_events', 'seq')::regclass) AS seq`,
    [],
    { name: 'event-positions-handed-out' },
  );
  return Number(rows[0]?.seq ?? 0);
}

export async function lastSeq(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ seq: string | null }>(`${WITH_SYNC_STANDBY_BARRIER} SELECT max(seq) AS seq FROM durable, order_events`);
  return Number(rows[0]?.seq ?? 0);
}

/** Deletes up to `batch` events past their retention, oldest first; answers how many. */
export async function pruneEvents(db: Queryable, olderThanHours: number, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM order_events WHERE seq IN (
       SELECT seq FROM order_events WHERE created_at < now() - make_interval(hours => $1) ORDER BY created_at LIMIT $2)`,
    [olderThanHours, batch],
  );
  return rowCount;
}
