import type { OrdersService } from '../modules/orders/index.js';
import type { Database } from '../platform/db/index.js';
import { errorFields, type Logger } from '../platform/logger.js';
import { OUTBOX_CHANNEL, publishClaimed, relayOutboxBatch, releaseClaims, startLoop, type OutboxEvent } from '../platform/outbox.js';
import { putEach, queueOutOfReach, type JobQueue, type JobSpec } from '../platform/queue/index.js';
import { withTimeout } from '../shared/timeout.js';
import { JOB_TOPICS, jobsFor } from './outbox-routes.js';
import { reconcileOnce, resumeUnfinishedWork } from './reconciler.js';

export interface BackgroundSettings {
  outboxPollMs: number;
  /** Events are relayed no sooner than this after their commit (a cancellation window). */
  outboxRelayDelayMs: number;
  reconcileIntervalMs: number;
  reconcileAfterSeconds: number;
  /** Order events are kept at least this long for `Last-Event-ID` resumes; the reconciler prunes older ones. */
  eventsRetentionHours: number;
  /** How long the relay may hold events back while jobs wait for a worker (default BACKLOG_MAX_HOLD_MS). */
  backlogMaxHoldMs?: number;
  /** How long events passes may be put off while commits keep the relay publishing (default EVENTS_PASS_MAX_DEFER_MS). */
  eventsPassMaxDeferMs?: number;
}

/** A relay's claim on a batch; publishing takes milliseconds, so this only matters after a crash. */
const RELAY_LEASE_SECONDS = 10;
const RELAY_BATCH_SIZE = 500;
/** While every worker slot is taken, the relay asks again this often… */
const BACKLOG_RECHECK_MS = 5;
/** …and publishes anyway once it has held events back this long. */
const BACKLOG_MAX_HOLD_MS = 250;
/** Events passes put off for publishing (commits kept coming) wait at most this long. */
const EVENTS_PASS_MAX_DEFER_MS = 50;
/**
 * How long an event a commit wrote already claimed for this process stays its own: publishing
 * takes milliseconds, so this only matters when the process dies in between (then any relay's
 * sweep takes the event once the claim has run out).
 */
const COMMIT_CLAIM_SECONDS = 5;
/**
 * How long a stop waits for the rounds in flight and its own last statements. A healthy round
 * takes milliseconds; one waiting on a database or queue that does not answer (a network dropping
 * packets) is left to the close that follows, which cuts its connections.
 */
const STOP_WITHIN_MS = 3000;
/** How often a reconciler round also looks for finished orders without their email on record (a rolling upgrade's leftovers). */
const OWED_EMAILS_EVERY_MS = 10 * 60_000;

/**
 * The time for intervals (sweep, back-pressure hold, events-pass deferral, owed-emails check):
 * monotonic, not the wall clock. A wall clock stepped back (NTP correcting a clock that ran ahead,
 * a VM resumed) put the next every-topic sweep, the relay's safety net, as far in the future as
 * the step: an hour back, no sweep for an hour.
 */
const monotonicMs = () => performance.now();

/**
 * The two loops every API and worker process runs: the outbox relay (publishes committed
 * events as jobs, then gives them their order-event positions in the same round; kicked by this
 * process's own commits, woken by a NOTIFY from a process that cannot publish, and a slow sweep
 * as the safety net) and the
 * reconciler (re-enqueues work the queue may have lost). In the embedded default, where the
 * queue lives in this process, unfinished work left by the last run is resumed first.
 */
export function startBackgroundLoops(deps: {
  db: Database;
  queue: JobQueue;
  orders: Pick<OrdersService, 'findStalledOrderIds' | 'findUnfinishedOrderIds'>;
  settings: BackgroundSettings;
  logger: Logger;
  onRelayed?: (events: number) => void;
  /**
   * The second pass of each round over the same outbox (order-event positions); `due` when the
   * round published events, this process committed some since the last pass, or the queue is
   * unreachable (events still get their positions then). Answers the outbox ids it held locked.
   */
  eventsPass?: (due: boolean) => Promise<readonly number[]>;
}): { kick(topic: string, claimed?: readonly OutboxEvent[]): void; claimSeconds(): number; stop(): Promise<void> } {
  const { db, queue, orders, settings, logger } = deps;
  let handOff = false;
  let committed = false;
  // A round claims only the topics this process commits: each process relays its own events
  // right after its commits, and a worker's relay that also took the API's placements (and the
  // other worker's completions) split one stream of events into batches half the size, each
  // with its own job, statements and queue calls (two workers spent ~1.5× the CPU per order
  // of one). Every topic is claimed at the start, after a NOTIFY from a process that cannot
  // publish, and at most once per sweep interval: the safety net for a process that crashed
  // between its commit and its relay.
  //
  // A claim skips rows another transaction holds locked (SKIP LOCKED keeps claimers apart), and
  // the events pass of *any* process holds the rows it positions locked until it commits; an
  // owner whose claim fell in that window would not come back for its row before the sweep.
  // So the process whose pass held rows claims, in its next round, those of them still
  // unclaimed (by then its locks are gone), or, when it cannot publish, asks the others to.
  //
  // Back-pressure: jobs are published as soon as events commit while a worker slot is free, so an
  // order starts processing within milliseconds. Once jobs wait for a slot, publishing more now
  // makes no order start sooner, and small jobs cost the workers more per order (each job has
  // its queue scripts and statements); so the relay leaves the events in the outbox and asks
  // again shortly, and the next claim takes everything committed meanwhile into jobs of up to
  // PROCESS_ORDER_BATCH orders. Held back at most BACKLOG_MAX_HOLD_MS at a time; the sweep
  // never waits.
  let holdingSince: number | undefined;
  let recheck: NodeJS.Timeout | undefined;
  const workersBusy = async (now: number): Promise<boolean> => {
    const waiting = await queue.waiting().catch(() => 0);
    if (waiting === 0 || (holdingSince !== undefined && now - holdingSince >= (settings.backlogMaxHoldMs ?? BACKLOG_MAX_HOLD_MS))) {
      holdingSince = undefined;
      return false;
    }
    holdingSince ??= now;
    clearTimeout(recheck);
    recheck = setTimeout(() => relay.wake(), BACKLOG_RECHECK_MS);
    recheck.unref();
    return true;
  };
  const ownTopics = new Set<string>();
  let claimAllFrom = 0;
  let heldByEventsPass: readonly number[] = [];
  const enqueue = async (events: OutboxEvent[]) => {
    const { jobs, unrouted } = jobsFor(events);
    if (unrouted.length > 0) logger.error('outbox events with no subscriber', { topics: unrouted.map((e) => e.topic) });
    await queue.add(jobs).catch((error: unknown) => addEachUnlessUnreachable(jobs, error));
  };
  // A job the queue refuses on its own (Redis answering with an error about its key) failed the
  // whole batch, and the batch came back the same every round: its events were never marked
  // published and the relay stopped at them. The others go in one by one instead, and the
  // refused ones are left to the reconciler (it re-enqueues the orders and emails they were for).
  const addEachUnlessUnreachable = async (jobs: readonly JobSpec[], error: unknown) => {
    if (queueOutOfReach(queue, error)) throw error;
    const refused = await putEach(queue, jobs, (job) => queue.add([job]));
    if (refused.length > 0) {
      logger.error('the queue refused jobs of outbox events; published without them (the reconciler re-enqueues their work)', {
        jobIds: refused.map(({ job }) => job.id),
        ...errorFields(refused[0]!.error),
      });
    }
  };

  // Events this process's commits wrote already claimed for it (a placement's): the next round
  // publishes them without a claim statement (one round trip less per round, and no claim to
  // skip a row another process's events pass holds locked). Back-pressure holds them like any
  // other event. A process that cannot reach its queue has commits write none (claimSeconds
  // answers 0), and gives back any it holds, for the processes that can. Publishing them from the
  // commit itself, without waiting for a round, was tried: placed→processing fell by ~8–10 ms at
  // half the rate, but with jobs of one order each two workers spent 1.4–1.8× one worker's CPU
  // per order, against 1.1× with rounds (docs/benchmarks.md, "Placements that write their event
  // claimed").
  let stopping = false;
  const committedClaimed: OutboxEvent[] = [];
  // Unclaimed events of these topics are this relay's to claim again, or, while its queue is
  // unreachable, the other processes' (handOff NOTIFYs them).
  const claimAgain = (events: readonly OutboxEvent[]) => {
    for (const event of events) ownTopics.add(event.topic);
    handOff = true;
  };
  const giveBack = async (events: OutboxEvent[]) => {
    claimAgain(events);
    await releaseClaims(db, events.map((event) => event.id));
  };
  const publishCommittedClaimed = async (): Promise<number> => {
    let published = 0;
    while (committedClaimed.length > 0 && !(await workersBusy(monotonicMs()))) {
      const batch = committedClaimed.splice(0, RELAY_BATCH_SIZE);
      await publishClaimed(db, batch, enqueue, COMMIT_CLAIM_SECONDS).catch((error: unknown) => {
        // publishClaimed gave the claims back: the next round (this relay's or another's) claims them.
        claimAgain(batch);
        throw error;
      });
      published += batch.length;
      deps.onRelayed?.(batch.length);
    }
    return published;
  };

  const publishJobs = async (): Promise<number> => {
    // A process that cannot reach the queue claims nothing; it hands what it committed to the
    // processes that can (they LISTEN), and the sweep of every process is the safety net.
    if (!queue.ready()) {
      if (committedClaimed.length > 0) await giveBack(committedClaimed.splice(0));
      if (handOff || heldByEventsPass.length > 0) {
        handOff = false;
        heldByEventsPass = [];
        await db.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']);
      }
      return 0;
    }
    const fromCommits = committedClaimed.length > 0 ? await publishCommittedClaimed() : 0;
    const now = monotonicMs();
    const everyTopic = now >= claimAllFrom;
    if (everyTopic) claimAllFrom = now + settings.outboxPollMs;
    else if (ownTopics.size === 0 && heldByEventsPass.length === 0) return fromCommits;
    if (!everyTopic && (await workersBusy(now))) return fromCommits;
    const alsoIds = heldByEventsPass;
    // This claim takes every unclaimed event of its topics, so they are claimed again only after
    // more commits of theirs (or a failed publish) name them again. With a relay delay the claim
    // leaves the youngest events for later, so the topics stay.
    const topics = [...ownTopics];
    if (settings.outboxRelayDelayMs <= 0) ownTopics.clear();
    const relayed = await relayOutboxBatch(
      db,
      enqueue,
      { batchSize: RELAY_BATCH_SIZE, leaseSeconds: RELAY_LEASE_SECONDS, minAgeMs: settings.outboxRelayDelayMs, ...(everyTopic ? {} : { topics, alsoIds }) },
    ).catch((error: unknown) => {
      for (const topic of topics) ownTopics.add(topic);
      throw error;
    });
    if (relayed >= RELAY_BATCH_SIZE) for (const topic of topics) ownTopics.add(topic);
    // Cleared only once a claim statement ran: by then its locks were gone.
    if (heldByEventsPass === alsoIds) heldByEventsPass = [];
    if (relayed > 0) deps.onRelayed?.(relayed);
    return fromCommits + relayed;
  };
  let kickedDuringRound = false;
  let lastPassAt = -Infinity;
  const relay = startLoop(
    'outbox relay',
    async () => {
      const { eventsPass } = deps;
      if (!eventsPass) return publishJobs();
      const due = committed || !queue.ready();
      committed = false;
      const pass = async (passDue: boolean): Promise<number> => {
        const held = await eventsPass(passDue);
        if (held.length > 0) heldByEventsPass = [...heldByEventsPass, ...held];
        return held.length;
      };
      kickedDuringRound = false;
      // A publish that failed (the queue went away mid-round) leaves the events their positions.
      const relayed = await publishJobs().catch(async (error: unknown) => {
        await pass(true);
        throw error;
      });
      // A commit made while this round published goes out first: the next round starts at once,
      // and its events pass gives positions to both rounds' events (no later than
      // EVENTS_PASS_MAX_DEFER_MS after the last pass).
      if (kickedDuringRound && monotonicMs() - lastPassAt < (settings.eventsPassMaxDeferMs ?? EVENTS_PASS_MAX_DEFER_MS)) {
        if (due || relayed > 0) committed = true;
        return relayed;
      }
      lastPassAt = monotonicMs();
      return relayed + (await pass(due || relayed > 0));
    },
    { intervalMs: settings.outboxPollMs, logger },
  );
  const listening = db.listen(OUTBOX_CHANNEL, () => {
    claimAllFrom = 0;
    relay.wake();
  }).catch((error: unknown) => {
    logger.warn('cannot listen for outbox events; relaying on the sweep only', { error: (error as Error).message });
    return () => Promise.resolve();
  });

  let owedEmailsAt = -Infinity;
  const stopRounds = new AbortController();
  const emailWalk = {};
  const voidWalk = {};
  const resumed = queue.kind === 'in-process' ? resumeUnfinishedWork({ db, orders, queue, logger }) : Promise.resolve();
  const reconciler = startLoop(
    'reconciler',
    async () => {
      await resumed;
      const recordOwedEmails = monotonicMs() - owedEmailsAt >= OWED_EMAILS_EVERY_MS;
      if (recordOwedEmails) owedEmailsAt = monotonicMs();
      return reconcileOnce({ db, orders, queue, olderThanSeconds: settings.reconcileAfterSeconds, eventsRetentionHours: settings.eventsRetentionHours, recordOwedEmails, emailWalk, voidWalk, signal: stopRounds.signal, logger });
    },
    { intervalMs: settings.reconcileIntervalMs, logger },
  );
  return {
    /** This process committed outbox events of `topic` (`claimed`: written claimed for this relay): relay them now. */
    kick(topic, claimed) {
      committed = true;
      kickedDuringRound = true;
      // Events that start no job were written already published: only their positions are due.
      if ((claimed && claimed.length > 0) || !(JOB_TOPICS as ReadonlySet<string>).has(topic)) {
        if (claimed) committedClaimed.push(...claimed);
        relay.wake();
        return;
      }
      ownTopics.add(topic);
      handOff = true;
      // At once (positions for SSE), and again when the events are old enough to publish.
      relay.wake();
      if (settings.outboxRelayDelayMs > 0) setTimeout(() => relay.wake(), settings.outboxRelayDelayMs).unref();
    },
    /** How long a commit may write its events claimed for this relay; 0: write them unclaimed. */
    claimSeconds() {
      return !stopping && settings.outboxRelayDelayMs <= 0 && queue.ready() ? COMMIT_CLAIM_SECONDS : 0;
    },
    async stop() {
      stopping = true;
      stopRounds.abort();
      clearTimeout(recheck);
      const stopped = async () => {
        await (await listening)();
        await Promise.all([relay.stop(), reconciler.stop()]);
        // Claimed events not published yet go back, and the other processes are told at once (they
        // LISTEN; their sweep may be OUTBOX_POLL_MS away), as by a process whose queue went away.
        // So are events this relay was woken for and has not claimed yet. One statement, at stop only.
        const gaveBack = committedClaimed.length > 0;
        if (gaveBack) await giveBack(committedClaimed.splice(0)).catch(() => undefined);
        if (gaveBack || ownTopics.size > 0) await db.query('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']).catch(() => undefined);
      };
      // Events a round had claimed when it was cut are claimed again by any relay once their lease runs out.
      await withTimeout(stopped(), STOP_WITHIN_MS, 'stopping the outbox relay and the reconciler').catch((error: unknown) =>
        logger.warn('background loops still waiting on the database or the queue; closing without them', errorFields(error)),
      );
    },
  };
}
