import type { Database } from '../../platform/db/index.js';
import type { Signal } from '../../platform/signal.js';
import { STATUS_BY_TYPE } from './order-event.js';
import { awaitSequencer, sequenceOutboxRows, type OnEventsAppended } from './order-events.repository.js';

export type { OnEventsAppended };

export interface EventsRelayDeps {
  db: Database;
  signal: Signal;
  onAppended: readonly OnEventsAppended[];
  pollMs: number;
  /** Told the highest position a pass handed out (kept outside the database, see event-positions.ts). */
  onPositioned?: (lastSeq: number) => void;
}

const BATCH_SIZE = 500;

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
 * `taken`: the outbox ids it positioned (locked while its statement ran), `claimable`: those of
 * them no relay had claimed or published; `locked: false` when another process held the
 * sequencer lock (it is copying rows; some may be left).
 *
 * One statement (`sequenceOutboxRows`). Until 2026-12-04 a transaction of eight round trips:
 * BEGIN, the lock, the rows' read, their orders' read, the append of events built in the
 * process, the mark, the webhooks' deliveries, COMMIT; then, for a few hours, five.
 */
async function sequenceEvents(deps: Pick<EventsRelayDeps, 'db' | 'signal' | 'onAppended' | 'onPositioned'>): Promise<{ taken: number[]; claimable: number[]; locked: boolean }> {
  const { locked, appended, lastSeq, taken, claimable } = await sequenceOutboxRows(deps.db, { limit: BATCH_SIZE, statusByType: STATUS_BY_TYPE, alsoRun: deps.onAppended });
  if (appended > 0) deps.signal.notify();
  if (lastSeq !== undefined) deps.onPositioned?.(lastSeq);
  return { taken, claimable, locked };
}

/**
 * The events' pass of the outbox relay's round: `due` when this round published outbox rows
 * or this process committed some (the rows to position are then almost surely there). Otherwise
 * it runs only when a pass was left behind (another process held the sequencer lock, twice: a
 * pass finding it held waits for its holder to commit and tries once more) or once per `pollMs`
 * as the sweep, so the relay's empty rounds cost one claim statement, not a
 * sequencing pass as well. It answers the outbox ids it positioned that no relay had claimed or
 * published: they were locked until its end, so a relay's claim may have skipped them (see
 * workers/background.ts). The others need nothing more: a relay holding a claim publishes its
 * events itself. (Until 2026-12-04 it answered every id it positioned, and each pass was followed
 * by a claim statement for them, nearly always finding nothing.)
 */
export function createEventsPass(deps: EventsRelayDeps): (due: boolean) => Promise<number[]> {
  // A monotonic clock: a wall clock stepped back (NTP, a VM resumed) put the next sweep off by the step.
  let ranAt = -Infinity;
  let behind = false;
  return async (due) => {
    if (!due && !behind && performance.now() - ranAt < deps.pollMs) return [];
    ranAt = performance.now();
    let { claimable, locked } = await sequenceEvents(deps);
    if (!locked) {
      // The pass holding the lock may have taken its snapshot before this process's rows
      // committed: left to the next round, they would wait for the sweep (OUTBOX_POLL_MS), past
      // the second SSE promises. That pass holds the lock for its one statement; once it has
      // committed, any pass sees those rows: this one tries again (a pass that takes the lock
      // first has them in its snapshot).
      await awaitSequencer(deps.db);
      ({ claimable, locked } = await sequenceEvents(deps));
    }
    behind = !locked;
    return claimable;
  };
}
