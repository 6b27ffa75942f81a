import type { Database, Queryable } from '../../platform/db/index.js';
import { markOutboxPublished } from '../../platform/outbox.js';
import type { Signal } from '../../platform/signal.js';
import { findOrdersByIds } from '../orders/index.js';
import { isOrderEventType, orderAsOf, type OrderEvent } from './order-event.js';
import { sqlState } from '../../platform/db/index.js';
import {
  appendEvents,
  LOCK_NOT_AVAILABLE,
  pruneEvents,
  takeUnsequenced,
  trySequencerLock,
  waitForSequencerLock,
  type NewOrderEvent,
} from './order-events.repository.js';

/** Work done in the transaction that gives events their positions (webhooks create their deliveries here). */
export type OnEventsAppended = (tx: Queryable, events: readonly OrderEvent[]) => Promise<void>;

export interface EventsRelayDeps {
  db: Database;
  signal: Signal;
  onAppended: readonly OnEventsAppended[];
  pollMs: number;
  /** Events are kept at least this long for `Last-Event-ID` resumes. */
  retentionHours: number;
  /** How long a hand-over pass waits for the sequencer lock (default 500 ms). */
  lockWaitMs?: number;
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
  return (await sequenceEvents(deps)).taken;
}

/** A sequencing takes milliseconds; a holder that takes longer is stuck, and the batch is only marked published. */
const HAND_OVER_LOCK_WAIT_MS = 500;

/**
 * `locked: false` when another process held the sequencer lock (it is copying rows; some may be
 * left). A pass given `published` rows waits for the lock instead, since the holder does not
 * take them: giving up would cost this transaction and another pass later. They are marked
 * published either way.
 */
async function sequenceEvents(
  deps: Pick<EventsRelayDeps, 'db' | 'signal' | 'onAppended' | 'lockWaitMs'>,
  published: readonly number[] = [],
): Promise<{ taken: number; locked: boolean }> {
  const result = await deps.db.transaction(async (tx) => {
    if (published.length > 0) await waitForSequencerLock(tx, deps.lockWaitMs ?? HAND_OVER_LOCK_WAIT_MS);
    else if (!(await trySequencerLock(tx))) return { taken: 0, appended: 0, locked: false };
    const taken = await takeUnsequenced(tx, BATCH_SIZE, published);
    if (taken.length === 0) return { taken: 0, appended: 0, locked: true };
    const orderRows = taken.filter((row) => isOrderEventType(row.topic));
    const orders = new Map((await findOrdersByIds(tx, [...new Set(orderRows.map((row) => row.orderId))])).map(({ order }) => [order.id, order]));
    const events: NewOrderEvent[] = [];
    for (const row of orderRows) {
      const order = orders.get(row.orderId);
      if (!order || !isOrderEventType(row.topic)) continue;
      events.push({ outboxId: row.outboxId, orderId: order.id, userId: order.userId, type: row.topic, order: orderAsOf(order, row.topic), createdAt: row.createdAt.toISOString() });
    }
    const appended = await appendEvents(tx, events);
    for (const hook of deps.onAppended) await hook(tx, appended);
    return { taken: taken.length, appended: appended.length, locked: true };
  });
  if (result.appended > 0) deps.signal.notify();
  return { taken: result.taken, locked: result.locked };
}

/**
 * The events' pass of the outbox relay's round: `due` when this round published outbox rows
 * or this process committed some (the rows to position are then almost surely there). Otherwise
 * it runs only when a pass was left behind (another process held the sequencer lock) or once
 * per `pollMs` as the sweep, so the relay's empty rounds cost one claim statement, not a
 * sequencing transaction as well.
 *
 * With `published` (the batch the relay has just published) it always runs, and marks those
 * rows published in the UPDATE that sequences them; if that transaction fails they are still
 * marked published (then the error is thrown), so the relay does not publish them again.
 */
export type EventsPass = (due: boolean, published?: readonly number[]) => Promise<number>;

export function createEventsPass(deps: EventsRelayDeps): EventsPass {
  let prunedAt = 0;
  let ranAt = 0;
  let behind = false;
  return async (due, published = []) => {
    if (!due && published.length === 0 && !behind && Date.now() - ranAt < deps.pollMs) return 0;
    ranAt = Date.now();
    const { taken, locked } = await sequenceEvents(deps, published).catch(async (error: unknown) => {
      if (published.length > 0) await markOutboxPublished(deps.db, published);
      // The lock was held longer than a sequencing takes: the next pass positions the batch.
      if (sqlState(error) === LOCK_NOT_AVAILABLE) return { taken: 0, locked: false };
      throw error;
    });
    behind = !locked;
    if (Date.now() - prunedAt > PRUNE_EVERY_MS) {
      prunedAt = Date.now();
      await pruneEvents(deps.db, deps.retentionHours);
    }
    return taken;
  };
}
