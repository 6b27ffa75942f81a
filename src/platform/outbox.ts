import type { Database } from './db/index.js';
import type { Logger } from './logger.js';
import { errorFields } from './logger.js';
import { withTimeout } from '../shared/timeout.js';

export interface OutboxEvent<Topic extends string = string> {
  id: number;
  topic: Topic;
  aggregateId: string;
}

/**
 * The channel on which a process that committed outbox events but cannot publish them asks
 * the others to (a process that can, relays its own events right after its commit).
 */
export const OUTBOX_CHANNEL = 'outbox_events';

export interface RelayOptions {
  batchSize: number;
  /**
   * How long a claimed batch is this relay's; after that (it crashed) another relay takes it.
   * A publish that takes half of it is abandoned (and the claim given back).
   */
  leaseSeconds: number;
  /** Only events committed at least this long ago are claimed. */
  minAgeMs?: number;
  /** Only events of these topics are claimed (default: every topic)… */
  topics?: readonly string[];
  /** …and these events whatever their topic. */
  alsoIds?: readonly number[];
}

// The batch's rows, locked in id order as the events sequencer locks them (two UPDATEs locking
// shared rows in different orders deadlock).
const inIdOrder = 'SELECT id FROM outbox_events WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE';

/**
 * Publishes one batch of unpublished outbox events. The batch is claimed with a short lease in
 * ONE statement (`SKIP LOCKED` keeps concurrent claimers apart, and no lock outlives it), then
 * published with no transaction or lock held, then marked published. So a relay that waits on
 * an unreachable queue holds up nothing another relay could publish: it gives its claim back
 * when the publish fails, and its lease runs out if it crashes. Publishing twice (a crash
 * between publish and mark, an expired lease) is harmless: job ids are deterministic and
 * handlers idempotent.
 */
export async function relayOutboxBatch<Topic extends string>(
  db: Database,
  publish: (events: OutboxEvent<Topic>[]) => Promise<void>,
  options: RelayOptions = { batchSize: 500, leaseSeconds: 10 },
): Promise<number> {
  const { rows } = await db.query<OutboxEvent<Topic>>(
    `UPDATE outbox_events SET claimed_until = now() + make_interval(secs => $2)
     WHERE id IN (
       SELECT id FROM outbox_events
       WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
         AND created_at <= now() - make_interval(secs => $3)
         AND ($4::text[] IS NULL OR topic = ANY($4::text[]) OR id = ANY($5::bigint[]))
       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, topic, aggregate_id AS "aggregateId"`,
    [options.batchSize, options.leaseSeconds, (options.minAgeMs ?? 0) / 1000, options.topics ?? null, options.alsoIds ?? []],
    { name: 'claim-outbox-events' },
  );
  if (rows.length === 0) return 0;
  await publishClaimed(db, rows, publish, options.leaseSeconds);
  return rows.length;
}

/**
 * Publishes events this relay holds a claim on (claimed by `relayOutboxBatch`, or written already
 * claimed by the transaction that committed them), then marks them published. A publish that
 * fails or takes half the lease gives the claims back, so any relay may take them at once.
 */
export async function publishClaimed<Topic extends string>(
  db: Database,
  events: OutboxEvent<Topic>[],
  publish: (events: OutboxEvent<Topic>[]) => Promise<void>,
  leaseSeconds: number,
): Promise<void> {
  events.sort((a, b) => a.id - b.id);
  const ids = events.map((event) => event.id);
  try {
    await withTimeout(publish(events), (leaseSeconds * 1000) / 2, 'publishing outbox events');
  } catch (error) {
    await releaseClaims(db, ids).catch(() => undefined);
    throw error;
  }
  await db.query(`UPDATE outbox_events SET published_at = now(), claimed_until = NULL WHERE id IN (${inIdOrder})`, [ids], {
    name: 'mark-outbox-published',
  });
}

/** Gives claims back: the events can be claimed by any relay at once. */
export async function releaseClaims(db: Database, ids: readonly number[]): Promise<void> {
  await db.query(`UPDATE outbox_events SET claimed_until = NULL WHERE id IN (${inIdOrder})`, [ids]);
}

/**
 * Deletes the outbox rows published more than `olderThanDays` ago among the next `batch` rows
 * after id `afterId`, walking the primary key (ids grow with time): a round costs what it
 * deletes plus one batch, however large the table (a filter on `published_at` alone read all of
 * it). Answers where the batch ended, and whether it reached rows written after the cutoff,
 * beyond which nothing is due yet.
 */
export async function pruneOutbox(
  db: Database,
  batch: { olderThanDays: number; afterId: number; size: number },
): Promise<{ deleted: number; lastId: number | undefined; reachedRecent: boolean }> {
  const { rows } = await db.query<{ deleted: number; lastId: string | null; reachedRecent: boolean | null }>(
    `WITH next AS (
       SELECT id, created_at, published_at FROM outbox_events WHERE id > $2 ORDER BY id LIMIT $3
     ), gone AS (
       DELETE FROM outbox_events o USING next n
       WHERE o.id = n.id AND n.published_at < now() - make_interval(days => $1)
       RETURNING o.id
     )
     SELECT (SELECT count(*) FROM gone)::int AS deleted, max(id) AS "lastId",
            bool_or(created_at >= now() - make_interval(days => $1)) AS "reachedRecent"
     FROM next`,
    [batch.olderThanDays, batch.afterId, batch.size],
  );
  const row = rows[0];
  return { deleted: row?.deleted ?? 0, lastId: row?.lastId === null || row?.lastId === undefined ? undefined : Number(row.lastId), reachedRecent: row?.reachedRecent ?? true };
}

/** The longest a failing loop waits between rounds, for loops that run more often than this. */
const MAX_BACKOFF_MS = 10_000;

export interface Loop {
  /** Runs a round now (or right after the current one), unless failures are being backed off. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs`, at once again while it reports work done, and whenever
 * woken; never two rounds at once (a wake-up during a round runs one more after it). Failures
 * are logged and retried on the next tick, with the interval growing while they last.
 */
export function startLoop(name: string, round: () => Promise<number>, options: { intervalMs: number; logger: Logger }): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;
  let wokenDuringRound = false;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delayMs);
    timer.unref();
  };

  function tick(): void {
    if (stopped) return;
    if (running) {
      wokenDuringRound = true;
      return;
    }
    wokenDuringRound = false;
    running = round()
      .then((done) => {
        failures = 0;
        return done > 0 || wokenDuringRound ? 0 : options.intervalMs;
      })
      .catch((error: unknown) => {
        failures++;
        if (failures === 1 || failures % 50 === 0) options.logger.warn(`${name} round failed; retrying`, { failures, ...errorFields(error) });
        // Backing off never means retrying sooner than a healthy round would come (a 30 s loop).
        return Math.max(options.intervalMs, Math.min(options.intervalMs * 2 ** Math.min(failures, 5), MAX_BACKOFF_MS));
      })
      .then((delayMs) => {
        running = undefined;
        schedule(delayMs);
      });
  }

  schedule(0);
  return {
    wake() {
      if (failures > 0 || stopped) return;
      if (running) wokenDuringRound = true;
      else schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
