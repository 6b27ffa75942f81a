import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, deleteRedisKeys, testRedisPrefix, waitUntilReady, type TestDatabase } from '../../test/harness.js';
import { REDIS_URL } from '../../test/global-setup.js';
import { capturingLogger } from '../../test/logs.js';
import { afterStatement } from '../../test/statements.js';
import { waitUntil } from '../../test/wait.js';
import { createEventsPass } from '../modules/events/index.js';
import { findStalledOrderIds, findUnfinishedOrderIds } from '../modules/orders/orders.repository.js';
import type { Database } from '../platform/db/index.js';
import { createLogger } from '../platform/logger.js';
import { OUTBOX_CHANNEL, relayOutboxBatch } from '../platform/outbox.js';
import { createBullMqQueue, createInProcessQueue, QUEUE_NAME, type JobQueue } from '../platform/queue/index.js';
import { createRedis, queuePrefix } from '../platform/redis.js';
import { createInProcessSignal } from '../platform/signal.js';
import { startBackgroundLoops } from './background.js';

const logger = createLogger({ level: 'error', format: 'json', silent: true });
const ignore = () => Promise.resolve();
// A sweep interval far longer than a test: only the start, commits and NOTIFYs wake a relay.
const settings = { outboxPollMs: 600_000, outboxRelayDelayMs: 0, reconcileIntervalMs: 600_000, reconcileAfterSeconds: 600, eventsRetentionHours: 48 };
const noStalledOrders = { findStalledOrderIds: () => Promise.resolve([]), findUnfinishedOrderIds: () => Promise.resolve([]) };

/** One worker slot (in-process queue, concurrency 1); every job is handed to `run`. */
function oneSlotQueue(run: (data: { orderIds: readonly string[] }) => Promise<void> = ignore) {
  return createInProcessQueue({
    handlers: { 'process-order': { run }, 'send-order-email': { run }, 'refresh-order-cache': { run } },
    concurrency: 1,
    backoff: { baseMs: 1000, maxMs: 1000 },
    logger,
  });
}

/** Every worker slot taken and a job waiting, until `release`: a relay holds events back (back-pressure). */
async function busyQueue(): Promise<{ queue: JobQueue; release: () => void }> {
  let release!: () => void;
  const busy = new Promise<void>((resolve) => (release = resolve));
  const queue = oneSlotQueue(() => busy);
  await queue.add([
    { name: 'process-order', id: 'busy-1', data: { orderIds: [] } },
    { name: 'process-order', id: 'busy-2', data: { orderIds: [] } },
  ]);
  return { queue, release };
}

/** A queue that records the order ids of the jobs published to it. */
function recordingQueue(published: string[]) {
  return oneSlotQueue((data) => {
    published.push(...data.orderIds);
    return Promise.resolve();
  });
}

/** `db`, calling `onClaim` with the rows each outbox claim statement returned. */
const observingClaims = (db: Database, onClaim: (rows: number) => void): Database =>
  afterStatement(db, 'claim-outbox-events', (result) => onClaim(result.rowCount));

/** The advisory lock a test holds to keep an events pass inside its statement. */
const HOLD_KEY = 424_242;

/** The events sequencer's advisory lock (order-events.repository.ts). */
const SEQUENCER_LOCK_KEY = 727_014;

/** Whether a statement waits for the events sequencer's lock. */
async function sequencerAwaited(db: Database): Promise<boolean> {
  const { rows } = await db.query<{ waiting: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted) AS waiting",
    [SEQUENCER_LOCK_KEY],
  );
  return rows[0]!.waiting;
}

/** Whether a statement waits for the test's HOLD_KEY lock (an events pass, held by the test's trigger). */
async function passWaiting(db: Database): Promise<boolean> {
  const { rows } = await db.query<{ waiting: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted) AS waiting",
    [HOLD_KEY],
  );
  return rows[0]!.waiting;
}

/**
 * The outbox relay of one process on PostgreSQL, with outbox rows written as other processes
 * write them (the API commits `order.placed`, a worker `order.completed`).
 */
describe('the outbox relay (startBackgroundLoops) on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await database.drop();
  });
  beforeEach(async () => {
    await database.db.exec('TRUNCATE outbox_events');
  });

  async function insertEvent(topic: string): Promise<number> {
    const { rows } = await database.db.query<{ id: number }>('INSERT INTO outbox_events (topic, aggregate_id) VALUES ($1, $2) RETURNING id', [topic, randomUUID()]);
    return rows[0]!.id;
  }
  /** A row claimed by a relay, as its claim statement left it: the lease ends `seconds` from now (negative: it ran out). */
  async function insertClaimed(topic: string, seconds: number): Promise<number> {
    const { rows } = await database.db.query<{ id: number }>(
      'INSERT INTO outbox_events (topic, aggregate_id, claimed_until) VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id',
      [topic, randomUUID(), seconds],
    );
    return rows[0]!.id;
  }
  async function published(id: number): Promise<boolean> {
    const { rows } = await database.db.query<{ published: boolean }>('SELECT published_at IS NOT NULL AS published FROM outbox_events WHERE id = $1', [id]);
    return rows[0]!.published;
  }
  async function orderIdOf(outboxId: number): Promise<string> {
    const { rows } = await database.db.query<{ orderId: string }>('SELECT aggregate_id AS "orderId" FROM outbox_events WHERE id = $1', [outboxId]);
    return rows[0]!.orderId;
  }

  it('relayOutboxBatch with topics claims only events of those topics', async () => {
    const placed = await insertEvent('order.placed');
    const completed = await insertEvent('order.completed');
    const seen: string[] = [];
    const publish = (events: { topic: string }[]) => {
      seen.push(...events.map((event) => event.topic));
      return Promise.resolve();
    };

    expect(await relayOutboxBatch(database.db, publish, { batchSize: 10, leaseSeconds: 10, topics: ['order.completed'] })).toBe(1);
    expect(seen).toEqual(['order.completed']);
    expect([await published(placed), await published(completed)]).toEqual([false, true]);

    expect(await relayOutboxBatch(database.db, publish, { batchSize: 10, leaseSeconds: 10 })).toBe(1);
    expect(seen).toEqual(['order.completed', 'order.placed']);
  });

  it(
    "when woken by its own commit, then a process claims the topics it commits and leaves other processes' events " +
      'to them until a NOTIFY (or its sweep)',
    async () => {
      const db = database.db;
      const queue = oneSlotQueue();
      // Left by a process that crashed between its commit and its relay.
      const leftBehind = await insertEvent('order.cancelled');
      const loops = startBackgroundLoops({ db, queue, orders: { findStalledOrderIds: (seconds) => findStalledOrderIds(db, seconds), findUnfinishedOrderIds: (page) => findUnfinishedOrderIds(db, page) }, settings, logger });
      try {
        // The first round claims every topic: what a crashed process left is relayed at start.
        await waitUntil(() => published(leftBehind), 5000, 'the first round to relay every topic');

        // Another process's placement, then this process's own completion.
        const othersPlacement = await insertEvent('order.placed');
        const ownCompletion = await insertEvent('order.completed');
        loops.kick('order.completed');
        await waitUntil(() => published(ownCompletion), 5000, 'its own completion relayed');
        // Claimed in the same statement or not at all: it was there before the round began.
        expect(await published(othersPlacement)).toBe(false);

        // A process that cannot publish asks the others to; a NOTIFY makes this one take every topic.
        await db.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']);
        await waitUntil(() => published(othersPlacement), 5000, "the other process's placement relayed after a NOTIFY");
      } finally {
        await loops.stop();
        await queue.close();
      }
    },
  );

  /** `queue`, reachable while `up.value` is true (ready() and add() as a BullMQ queue would answer). */
  function switchable(queue: JobQueue, up: { value: boolean }): JobQueue {
    return {
      kind: queue.kind,
      add: (jobs) => (up.value ? queue.add(jobs) : Promise.reject(new Error('queue unreachable'))),
      ensure: (job) => queue.ensure(job),
      ready: () => up.value,
      counts: () => queue.counts(),
      waiting: () => queue.waiting(),
      workers: () => queue.workers(),
      close: () => queue.close(),
    };
  }
  async function claimedUntil(id: number): Promise<Date | null> {
    const { rows } = await database.db.query<{ until: Date | null }>('SELECT claimed_until AS until FROM outbox_events WHERE id = $1', [id]);
    return rows[0]!.until;
  }

  it('when a commit wrote its event claimed for this process, then the round its commit wakes publishes it without a claim statement', async () => {
    const publishedIds: string[] = [];
    const queue = recordingQueue(publishedIds);
    let claims = 0;
    const db = observingClaims(database.db, () => claims++);
    const loops = startBackgroundLoops({ db, queue, orders: noStalledOrders, settings, logger });
    try {
      // The first round claims every topic once (what a crashed process left); then only commits wake it.
      await waitUntil(() => claims > 0, 5000, 'the first round');
      const claimsBefore = claims;
      expect(loops.claimSeconds()).toBeGreaterThan(0);
      const id = await insertClaimed('order.placed', loops.claimSeconds());
      const orderId = await orderIdOf(id);

      loops.kick('order.placed', [{ id, topic: 'order.placed', aggregateId: orderId }]);
      await waitUntil(() => published(id), 5000, 'the claimed event published');
      expect(publishedIds).toEqual([orderId]);
      expect(await claimedUntil(id)).toBeNull();
      expect(claims).toBe(claimsBefore);
    } finally {
      await loops.stop();
      await queue.close();
    }
  });

  it(
    'when its claim has taken the events of the topics its commits named, then later rounds run no claim statement until a commit ' +
      'names a topic again (events that start no job never do)',
    async () => {
      let claims = 0;
      const db = observingClaims(database.db, () => claims++);
      let passes = 0;
      const eventsPass = () => {
        passes++;
        return Promise.resolve([]);
      };
      const queue = oneSlotQueue();
      const loops = startBackgroundLoops({ db, queue, orders: noStalledOrders, settings, logger, eventsPass });
      const roundAfter = async (kick: () => void) => {
        const before = passes;
        kick();
        await waitUntil(() => passes > before, 5000, 'a round');
      };
      try {
        await waitUntil(() => claims > 0, 5000, 'the first round');
        // Written unclaimed (as while the queue was unreachable): the round its commit wakes claims it.
        const completion = await insertEvent('order.completed');
        await roundAfter(() => loops.kick('order.completed'));
        await waitUntil(() => published(completion), 5000, 'the completion relayed');
        const claimsAfter = claims;

        // `order.processing` starts no job (written already published): its commits only make positions due.
        await roundAfter(() => loops.kick('order.processing'));
        await roundAfter(() => loops.kick('order.processing'));
        expect(claims).toBe(claimsAfter);

        const cancellation = await insertEvent('order.cancelled');
        await roundAfter(() => loops.kick('order.cancelled'));
        await waitUntil(() => published(cancellation), 5000, 'the cancellation relayed');
        expect(claims).toBe(claimsAfter + 1);
      } finally {
        await loops.stop();
        await queue.close();
      }
    },
  );

  it('when its queue cannot be reached, then a process has commits write events unclaimed, and gives back claimed ones it still holds', async () => {
    const up = { value: true };
    const publishedIds: string[] = [];
    const queue = switchable(recordingQueue(publishedIds), up);
    const loops = startBackgroundLoops({ db: database.db, queue, orders: noStalledOrders, settings, logger });
    try {
      const id = await insertClaimed('order.placed', 5);
      up.value = false;
      expect(loops.claimSeconds()).toBe(0);
      loops.kick('order.placed', [{ id, topic: 'order.placed', aggregateId: await orderIdOf(id) }]);
      // Given back at once, so any process that can reach its queue relays it (woken by a NOTIFY).
      await waitUntil(async () => (await claimedUntil(id)) === null, 5000, 'the claim given back');
      expect(await published(id)).toBe(false);

      // This process relays it itself once its queue is back.
      up.value = true;
      loops.kick('order.placed');
      await waitUntil(() => published(id), 5000, 'the event relayed once the queue is back');
      expect(publishedIds).toEqual([await orderIdOf(id)]);
    } finally {
      await loops.stop();
      await queue.close();
    }
  });

  it('when a process stops holding claimed events it has not published, then it gives them back', async () => {
    const { queue, release } = await busyQueue();
    const loops = startBackgroundLoops({ db: database.db, queue, orders: noStalledOrders, settings: { ...settings, backlogMaxHoldMs: 60_000 }, logger });
    try {
      const id = await insertClaimed('order.placed', 5);
      loops.kick('order.placed', [{ id, topic: 'order.placed', aggregateId: await orderIdOf(id) }]);
      await loops.stop();
      expect(await claimedUntil(id)).toBeNull();
      expect(await published(id)).toBe(false);
    } finally {
      release();
      await queue.close();
    }
  });

  it('when a stopping process gives back claimed events it has not published, then another process relays them at once (NOTIFY), not at its next sweep', async () => {
    const { queue: stoppingQueue, release } = await busyQueue();
    const publishedIds: string[] = [];
    const otherQueue = recordingQueue(publishedIds);
    // The other process: its first round has run, and it listens (its sweep is far off).
    const other = startBackgroundLoops({ db: database.db, queue: otherQueue, orders: noStalledOrders, settings, logger });
    await waitUntil(async () => {
      const { rows } = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()");
      return rows[0]!.n > 0;
    }, 5000, 'the other process to listen');
    const stopping = startBackgroundLoops({ db: database.db, queue: stoppingQueue, orders: noStalledOrders, settings: { ...settings, backlogMaxHoldMs: 60_000 }, logger });
    try {
      const id = await insertClaimed('order.placed', 5);
      stopping.kick('order.placed', [{ id, topic: 'order.placed', aggregateId: await orderIdOf(id) }]);
      await stopping.stop();
      await waitUntil(() => published(id), 5000, 'the other process to relay the given-back event');
      expect(publishedIds).toEqual([await orderIdOf(id)]);
    } finally {
      release();
      await other.stop();
      await Promise.all([stoppingQueue.close(), otherQueue.close()]);
    }
  });

  it(
    "when an owner's claim skips its event because another process's events pass holds it locked, then that process " +
      'relays it right after its pass (not at the sweep)',
    async () => {
      const db = database.db;
      const ownerQueue = recordingQueue([]);
      const otherPublished: string[] = [];
      const otherQueue = recordingQueue(otherPublished);
      const ownerClaims: number[] = [];
      // The other process's events pass is made to wait inside its statement, holding the rows it
      // positions locked, until released: a trigger (this database only) makes marking a row
      // sequenced wait for an advisory lock this test holds in a transaction of its own.
      await db.exec(`
        CREATE FUNCTION test_hold_sequencing() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared(${HOLD_KEY}); RETURN NEW; END $$;
        CREATE TRIGGER test_hold_sequencing BEFORE UPDATE OF sequenced ON outbox_events
          FOR EACH ROW EXECUTE FUNCTION test_hold_sequencing();`);
      let release: (() => void) | undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let holding: (() => void) | undefined;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const holder = db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [HOLD_KEY]);
        holding?.();
        await released;
      });
      await held;
      const eventsPass = createEventsPass({ db, signal: createInProcessSignal(), pollMs: settings.outboxPollMs, onAppended: [] });
      const owner = startBackgroundLoops({ db: observingClaims(db, (rows) => ownerClaims.push(rows)), queue: ownerQueue, orders: noStalledOrders, settings, logger });
      const other = startBackgroundLoops({ db, queue: otherQueue, orders: noStalledOrders, settings, logger, eventsPass });
      try {
        // Both first rounds (every topic) are over once the owner has claimed once.
        await waitUntil(() => ownerClaims.length > 0, 5000, "the owner's first round");
        const placed = await insertEvent('order.placed');
        const placedOrder = await orderIdOf(placed);

        other.kick('order.completed');
        await waitUntil(() => passWaiting(db), 5000, "the other process's events pass holding the row");
        const claimsBefore = ownerClaims.length;
        owner.kick('order.placed');
        await waitUntil(() => ownerClaims.length > claimsBefore, 5000, "the owner's claim");
        expect(ownerClaims.at(-1)).toBe(0);
        release?.();

        await waitUntil(() => published(placed), 5000, 'the skipped event relayed');
        expect(otherPublished).toEqual([placedOrder]);
      } finally {
        release?.();
        await holder;
        await Promise.all([owner.stop(), other.stop()]);
        await Promise.all([ownerQueue.close(), otherQueue.close()]);
        await db.exec('DROP TRIGGER test_hold_sequencing ON outbox_events; DROP FUNCTION test_hold_sequencing();');
      }
    },
  );

  /**
   * One worker slot whose first job runs until `release()`; `jobs` lists the order ids of every
   * job in the order they started. `afterNextAdd` runs once, as the next publish has added its
   * jobs and before it returns to the relay.
   */
  function oneBusySlot() {
    const jobs: (readonly string[])[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // Only process-order jobs are published here (the tests commit only order.placed).
    const queue = oneSlotQueue(async ({ orderIds }) => {
      jobs.push(orderIds);
      if (jobs.length === 1) await released;
    });
    let waitingAsked = 0;
    let afterAdd: (() => Promise<unknown>) | undefined;
    const counted: JobQueue = {
      ...queue,
      waiting: () => {
        waitingAsked++;
        return queue.waiting();
      },
      async add(jobs) {
        await queue.add(jobs);
        const hook = afterAdd;
        afterAdd = undefined;
        await hook?.();
      },
    };
    const afterNextAdd = (hook: () => Promise<unknown>) => (afterAdd = hook);
    return { queue: counted, close: () => queue.close(), jobs, release, waitingAsked: () => waitingAsked, afterNextAdd };
  }

  it(
    'when every worker slot is taken and a job waits, then events committed meanwhile stay in the outbox and go out ' +
      'together, in one job, once a slot is free',
    async () => {
      const slot = oneBusySlot();
      const loops = startBackgroundLoops({ db: database.db, queue: slot.queue, orders: noStalledOrders, settings: { ...settings, backlogMaxHoldMs: 600_000 }, logger });
      const placeAndKick = async () => {
        const id = await insertEvent('order.placed');
        loops.kick('order.placed');
        return id;
      };
      try {
        // The first order takes the only slot; the second is published and waits for it.
        const first = await placeAndKick();
        await waitUntil(() => slot.jobs.length === 1, 5000, 'the first job running');
        // The first commit to hold comes in while the second's job is being published, so the
        // relay's next round follows at once: it too must ask the queue and hold back.
        let committedDuringPublish: Promise<number> | undefined;
        slot.afterNextAdd(() => (committedDuringPublish = placeAndKick()));
        const second = await placeAndKick();
        await waitUntil(() => published(second), 5000, 'the second order published while a slot is busy but none waits');

        // Now a job waits: each later commit is held back (the relay asks the queue again and again).
        const held: number[] = [await committedDuringPublish!];
        const asked = slot.waitingAsked();
        await waitUntil(() => slot.waitingAsked() >= asked + 2, 5000, 'the relay asking the queue again');
        for (let i = 1; i < 3; i++) {
          held.push(await placeAndKick());
          const asked = slot.waitingAsked();
          await waitUntil(() => slot.waitingAsked() >= asked + 2, 5000, 'the relay asking the queue again');
        }
        for (const id of held) expect(await published(id)).toBe(false);

        slot.release();
        const heldOrders = await Promise.all(held.map(orderIdOf));
        await waitUntil(() => slot.jobs.length === 3, 5000, 'the held orders processed');
        expect(slot.jobs).toEqual([[await orderIdOf(first)], [await orderIdOf(second)], heldOrders]);
      } finally {
        slot.release();
        await loops.stop();
        await slot.close();
      }
    },
  );

  it('when jobs keep waiting, then events are held back no longer than the limit', async () => {
    const slot = oneBusySlot();
    const loops = startBackgroundLoops({ db: database.db, queue: slot.queue, orders: noStalledOrders, settings: { ...settings, backlogMaxHoldMs: 50 }, logger });
    try {
      await insertEvent('order.placed');
      loops.kick('order.placed');
      await waitUntil(() => slot.jobs.length === 1, 5000, 'the first job running');
      const waiting = await insertEvent('order.placed');
      loops.kick('order.placed');
      await waitUntil(() => published(waiting), 5000, 'the second order published');

      const late = await insertEvent('order.placed');
      loops.kick('order.placed');
      await waitUntil(() => published(late), 5000, 'the third order published although a job still waits');
      expect((await slot.queue.counts()).waiting).toBe(2);
    } finally {
      slot.release();
      await loops.stop();
      await slot.close();
    }
  });

  it('when a commit arrives while the relay publishes, then its jobs go out before the events pass of either', async () => {
    const steps: string[] = [];
    const queue = oneSlotQueue();
    let gate: Promise<void> | undefined;
    let open: () => void = () => undefined;
    const observed = {
      ...queue,
      add: async (jobs: Parameters<typeof queue.add>[0]) => {
        steps.push(`publish ${jobs.flatMap((job) => (job.data.orderIds as string[]) ?? []).join(',')}`);
        await gate;
        return queue.add(jobs);
      },
    };
    const eventsPass = (due: boolean) => {
      if (due) steps.push('events pass');
      return Promise.resolve([]);
    };
    const claims: number[] = [];
    const db = observingClaims(database.db, (rows) => claims.push(rows));
    const loops = startBackgroundLoops({ db, queue: observed, orders: noStalledOrders, settings: { ...settings, eventsPassMaxDeferMs: 600_000 }, logger, eventsPass });
    try {
      // The start's round (every topic) first, so the first commit gets a round of its own.
      await waitUntil(() => claims.length > 0, 5000, 'the first round');
      // A first commit and its round, to its events pass.
      const first = await insertEvent('order.placed');
      loops.kick('order.placed');
      await waitUntil(() => steps.includes('events pass'), 5000, 'the first round to run its events pass');

      // The next publish is slow; a commit arrives meanwhile.
      gate = new Promise((resolve) => (open = resolve));
      const second = await insertEvent('order.placed');
      const secondOrder = await orderIdOf(second);
      loops.kick('order.placed');
      await waitUntil(() => steps.includes(`publish ${secondOrder}`), 5000, 'the second publish under way');
      const third = await insertEvent('order.placed');
      loops.kick('order.placed');
      open();
      await waitUntil(() => steps.length >= 5, 5000, 'the third published and an events pass');
      expect(steps.slice(0, 5)).toEqual([
        `publish ${await orderIdOf(first)}`,
        'events pass',
        `publish ${secondOrder}`,
        `publish ${await orderIdOf(third)}`,
        'events pass',
      ]);
    } finally {
      open();
      await loops.stop();
      await queue.close();
    }
  });

  it('when its events pass finds the sequencer lock held by another pass, then the rows it committed get their positions once that pass commits, not at the sweep', async () => {
    const db = database.db;
    const queue = oneSlotQueue();
    const passes: boolean[] = [];
    const observed = afterStatement(db, 'sequence-order-events', (result) => void passes.push((result.rows[0] as { locked: boolean }).locked));
    const eventsPass = createEventsPass({ db: observed, signal: createInProcessSignal(), pollMs: settings.outboxPollMs, onAppended: [] });
    // Another process's pass, its snapshot older than the row below: the test holds the
    // sequencer's lock meanwhile.
    let release: (() => void) | undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const holder = db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SEQUENCER_LOCK_KEY]);
      holding?.();
      await released;
    });
    await held;
    const loops = startBackgroundLoops({ db, queue, orders: noStalledOrders, settings, logger, eventsPass });
    try {
      await waitUntil(() => passes.length > 0, 5000, 'the first round');
      const row = await insertEvent('order.cancelled');
      const before = passes.length;
      loops.kick('order.cancelled');
      // This process's pass has found the lock held since the commit (or waits for it).
      await waitUntil(async () => (passes.length > before && passes.at(-1) === false) || (await sequencerAwaited(db)), 5000, 'a pass finding the lock held');
      release?.();
      await waitUntil(async () => (await db.query<{ done: boolean }>('SELECT sequenced AS done FROM outbox_events WHERE id = $1', [row])).rows[0]!.done, 5000, 'the row positioned');
    } finally {
      release?.();
      await holder;
      await loops.stop();
      await queue.close();
    }
  });

  it("when the host's wall clock is stepped back (NTP, a VM resumed), then the sweep still comes every OUTBOX_POLL_MS, not once the clock has caught up", async () => {
    const queue = oneSlotQueue();
    const loops = startBackgroundLoops({ db: database.db, queue, orders: noStalledOrders, settings: { ...settings, outboxPollMs: 200 }, logger });
    try {
      // The start's sweep has run (it publishes this one); then the clock goes back an hour.
      const before = await insertEvent('order.placed');
      await waitUntil(() => published(before), 5000, 'the start sweep');
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000, shouldAdvanceTime: true });
      // An event another process committed and could not publish (it crashed): only a sweep takes it.
      const orphan = await insertEvent('order.completed');
      await waitUntil(() => published(orphan), 5000, 'the next sweep to publish the orphaned event');
    } finally {
      vi.useRealTimers();
      await loops.stop();
      await queue.close();
    }
  });

  it('when a relay dies holding a claimed batch, then another relay publishes it once the claim has run out, not before', async () => {
    const live = await insertClaimed('order.placed', 10);
    const expired = await insertClaimed('order.placed', -1);
    const claims: number[] = [];
    const queue = oneSlotQueue();
    const loops = startBackgroundLoops({ db: observingClaims(database.db, (rows) => claims.push(rows)), queue, orders: noStalledOrders, settings, logger });
    try {
      // The start's round sweeps every topic: it takes the expired claim only.
      await waitUntil(() => published(expired), 5000, 'the event whose claim ran out published');
      expect(claims).toEqual([1]);
      expect(await published(live)).toBe(false);
    } finally {
      await loops.stop();
      await queue.close();
    }
  });
});

describe('the outbox relay publishing to BullMQ', () => {
  let database: TestDatabase;
  const prefix = testRedisPrefix();
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await database.drop();
    await deleteRedisKeys(prefix);
  });

  it('when Redis refuses the job of one event in a batch (its key holds something else), then the other events are published and marked, and the refusal is logged', async () => {
    const orderIds = [randomUUID(), randomUUID(), randomUUID()];
    const { rows } = await database.db.query<{ id: number }>(
      "INSERT INTO outbox_events (topic, aggregate_id) SELECT 'order.cancelled', id FROM unnest($1::uuid[]) AS id RETURNING id",
      [orderIds],
    );
    const redis = createRedis(REDIS_URL, 'request');
    await waitUntilReady(redis);
    await redis.set(`${queuePrefix(prefix)}:${QUEUE_NAME}:refresh-order-cache-cancelled-${orderIds[1]}`, 'not a job');
    redis.disconnect();
    const ignoreJob = { run: ignore };
    const queue = createBullMqQueue({ redis: { mode: 'single', url: REDIS_URL }, prefix, handlers: { 'refresh-order-cache': ignoreJob } });
    // Connected before the loops start: the start's round is the one that sweeps every topic.
    await queue.waiting();
    const captured = capturingLogger();
    const loops = startBackgroundLoops({ db: database.db, queue, orders: noStalledOrders, settings, logger: captured.logger });
    try {
      // The start's round sweeps every topic.
      await waitUntil(
        async () => (await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE id = ANY($1::int[]) AND published_at IS NOT NULL', [rows.map((r) => r.id)])).rows[0]!.n === 3,
        10_000,
        'the batch marked published',
      );
      expect(await queue.waiting()).toBe(2);
      expect(captured.lines.filter((line) => String(line.message).startsWith('the queue refused jobs'))).toEqual([
        expect.objectContaining({ level: 'error', jobIds: [`refresh-order-cache-cancelled-${orderIds[1]}`], errorMessage: expect.stringMatching(/WRONGTYPE/) }),
      ]);
    } finally {
      await loops.stop();
      await queue.close();
    }
  });
});
