import type { Database } from '../../platform/db/index.js';
import type { Signal } from '../../platform/signal.js';
import { findOrders } from '../orders/index.js';
import { isOrderEventType, orderAsOf } from './order-event.js';
import { appendSequenced, lockAndFindUnsequenced, pruneEvents, type AppendedEventsStatement, type NewOrderEvent } from './order-events.repository.js';

/**
 * Work done in the statement that gives events their positions (webhooks create their
 * deliveries there), as a data-modifying CTE over the appended events.
 */
export type OnEventsAppended = AppendedEventsStatement;

export interface EventsRelayDeps {
  db: Database;
  signal: Signal;
  onAppended: readonly OnEventsAppended[];
  pollMs: number;
  /** Events are kept at least this long for `Last-Event-ID` resumes. */
  retentionHours: number;
}

const BATCH_SIZE = 500;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Copies committed outbox rows into the order event stream, one process at a time (an advisory
 * lock held until commit), so stream positions are handed out in commit order: a reader that
 * has seen position N has seen everything below N. It runs as a pass of the outbox relay
 * (workers/background.ts, see `createEventsPass`); this is the events' only hook into the outbox.
 */
export async function relayEventsOnce(deps: Pick<EventsRelayDeps, 'db' | 'signal' | 'onAppended'>): Promise<number> {
  return (await sequenceEvents(deps)).taken.length;
}

/**
 * `taken`: the outbox ids it positioned (locked from its last statement to its commit);
 * `locked: false` when another process held the sequencer lock (it is copying rows; some may be
 * left).
 *
 * Five round trips: BEGIN, the lock with the rows' read, their orders' read, one statement that
 * appends the events, marks the rows and runs the hooks, COMMIT. (Until 2026-12-04 eight: the
 * lock, the append, the mark and the webhooks' deliveries were a statement each.)
 */
async function sequenceEvents(deps: Pick<EventsRelayDeps, 'db' | 'signal' | 'onAppended'>): Promise<{ taken: number[]; locked: boolean }> {
  const result = await deps.db.transaction(async (tx) => {
    const { locked, rows: taken } = await lockAndFindUnsequenced(tx, BATCH_SIZE);
    if (taken.length === 0) return { taken: [], appended: 0, locked };
    const orderRows = taken.filter((row) => isOrderEventType(row.topic));
    const orders = new Map((await findOrders(tx, [...new Set(orderRows.map((row) => row.orderId))])).map(({ order }) => [order.id, order]));
    const events: NewOrderEvent[] = [];
    for (const row of orderRows) {
      const order = orders.get(row.orderId);
      if (!order || !isOrderEventType(row.topic)) continue;
      events.push({ outboxId: row.outboxId, orderId: order.id, userId: order.userId, type: row.topic, order: orderAsOf(order, row.topic), createdAt: row.createdAt.toISOString() });
    }
    const outboxIds = taken.map((row) => row.outboxId);
    // The rows are locked from here to the commit only: the relay's mark of the same rows waits for them.
    const appended = await appendSequenced(tx, events, outboxIds, deps.onAppended);
    return { taken: outboxIds, appended, locked };
  });
  if (result.appended > 0) deps.signal.notify();
  return { taken: result.taken, locked: result.locked };
}

/**
 * The events' pass of the outbox relay's round: `due` when this round published outbox rows
 * or this process committed some (the rows to position are then almost surely there). Otherwise
 * it runs only when a pass was left behind (another process held the sequencer lock) or once
 * per `pollMs` as the sweep, so the relay's empty rounds cost one claim statement, not a
 * sequencing pass as well. It answers the outbox ids it positioned: they were locked
 * at its end, so a relay's claim may have skipped them (see workers/background.ts).
 */
export function createEventsPass(deps: EventsRelayDeps): (due: boolean) => Promise<number[]> {
  let prunedAt = 0;
  let ranAt = 0;
  let behind = false;
  return async (due) => {
    if (!due && !behind && Date.now() - ranAt < deps.pollMs) return [];
    ranAt = Date.now();
    const { taken, locked } = await sequenceEvents(deps);
    behind = !locked;
    if (Date.now() - prunedAt > PRUNE_EVERY_MS) {
      prunedAt = Date.now();
      await pruneEvents(deps.db, deps.retentionHours);
    }
    return taken;
  };
}
