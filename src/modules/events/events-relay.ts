import type { Database, Queryable } from '../../platform/db/index.js';
import type { Signal } from '../../platform/signal.js';
import { findOrders } from '../orders/index.js';
import { isOrderEventType, orderAsOf, type OrderEvent } from './order-event.js';
import { appendEvents, findUnsequenced, markSequenced, pruneEvents, trySequencerLock, type NewOrderEvent } from './order-events.repository.js';

/** Work done in the transaction that gives events their positions (webhooks create their deliveries here). */
export type OnEventsAppended = (tx: Queryable, events: readonly OrderEvent[]) => Promise<void>;

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
 * `taken`: the outbox ids it positioned (locked from its last statements to its commit); `locked: false` when
 * another process held the sequencer lock (it is copying rows; some may be left).
 */
async function sequenceEvents(deps: Pick<EventsRelayDeps, 'db' | 'signal' | 'onAppended'>): Promise<{ taken: number[]; locked: boolean }> {
  const result = await deps.db.transaction(async (tx) => {
    if (!(await trySequencerLock(tx))) return { taken: [], appended: 0, locked: false };
    const taken = await findUnsequenced(tx, BATCH_SIZE);
    if (taken.length === 0) return { taken: [], appended: 0, locked: true };
    const orderRows = taken.filter((row) => isOrderEventType(row.topic));
    const orders = new Map((await findOrders(tx, [...new Set(orderRows.map((row) => row.orderId))])).map(({ order }) => [order.id, order]));
    const events: NewOrderEvent[] = [];
    for (const row of orderRows) {
      const order = orders.get(row.orderId);
      if (!order || !isOrderEventType(row.topic)) continue;
      events.push({ outboxId: row.outboxId, orderId: order.id, userId: order.userId, type: row.topic, order: orderAsOf(order, row.topic), createdAt: row.createdAt.toISOString() });
    }
    const appended = await appendEvents(tx, events);
    // The rows are locked from here to the commit only: the relay's mark of the same rows waits for them.
    await markSequenced(tx, taken.map((row) => row.outboxId));
    for (const hook of deps.onAppended) await hook(tx, appended);
    return { taken: taken.map((row) => row.outboxId), appended: appended.length, locked: true };
  });
  if (result.appended > 0) deps.signal.notify();
  return { taken: result.taken, locked: result.locked };
}

/**
 * The events' pass of the outbox relay's round: `due` when this round published outbox rows
 * or this process committed some (the rows to position are then almost surely there). Otherwise
 * it runs only when a pass was left behind (another process held the sequencer lock) or once
 * per `pollMs` as the sweep, so the relay's empty rounds cost one claim statement, not a
 * sequencing transaction as well. It answers the outbox ids it positioned: they were locked
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
