import type { Database } from './db/index.js';
import type { Logger } from './logger.js';
import { errorFields } from './logger.js';

export interface OutboxEvent {
  id: number;
  topic: string;
  aggregateId: string;
}

/**
 * Publishes one batch of unpublished outbox events and marks them published, in one
 * transaction. `SKIP LOCKED` lets any number of processes relay at once without publishing
 * the same row twice; if `publish` throws (queue down), nothing is marked and the rows are
 * retried next round. A crash after publishing but before commit re-publishes them, which is
 * harmless because job ids are deterministic and handlers idempotent.
 */
export async function relayOutboxBatch(
  db: Database,
  publish: (events: OutboxEvent[]) => Promise<void>,
  batchSize = 200,
): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<OutboxEvent>(
      `SELECT id, topic, aggregate_id AS "aggregateId" FROM outbox_events
       WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await publish(rows);
    await tx.query('UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::bigint[])', [rows.map((row) => row.id)]);
    return rows.length;
  });
}

export interface Loop {
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs` (immediately again while it reports work done), never two
 * rounds at once; failures are logged and retried on the next tick, with the interval growing
 * while they last.
 */
export function startLoop(name: string, round: () => Promise<number>, options: { intervalMs: number; logger: Logger }): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delayMs);
    timer.unref();
  };
  function tick(): void {
    if (running || stopped) return;
    running = round()
      .then((done) => {
        failures = 0;
        schedule(done > 0 ? 0 : options.intervalMs);
      })
      .catch((error: unknown) => {
        failures++;
        if (failures === 1 || failures % 50 === 0) options.logger.warn(`${name} round failed; retrying`, { failures, ...errorFields(error) });
        schedule(Math.min(options.intervalMs * 2 ** Math.min(failures, 5), 10_000));
      })
      .finally(() => {
        running = undefined;
      });
  }
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
