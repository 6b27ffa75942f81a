import type { Database } from '../src/platform/db/index.js';
import { waitUntil } from './wait.js';

/**
 * Holds a webhook delivery's row (`FOR UPDATE`, as a redelivery or a record does for a moment)
 * in a transaction of its own until `release()`; `released` settles once that has committed.
 */
export async function holdDeliveryRow(db: Database, deliveryId: string): Promise<{ release(): void; released: Promise<void> }> {
  let release!: () => void;
  let rowHeld!: () => void;
  const held = new Promise<void>((resolve) => (rowHeld = resolve));
  const released = db.transaction(async (tx) => {
    await tx.query('SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR UPDATE', [deliveryId]);
    rowHeld();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await held;
  return { release: () => release(), released };
}

/** Waits until a statement of the database waits for a lock (a row another transaction holds). */
export function untilWaitingForLock(db: Database, what: string): Promise<unknown> {
  return waitUntil(
    async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n >= 1,
    10_000,
    what,
  );
}
