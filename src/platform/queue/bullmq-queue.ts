import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import { createRedis, isConnectionError, queuePrefix, type RedisClient, type RedisTarget } from '../redis.js';
import { runWithJobContext } from '../job-context.js';
import { attemptJob, backoffDelayMs, DEFAULT_ATTEMPTS, type Backoff, type JobHandlers, type JobQueue, type JobSpec } from './queue.js';
import { countFetchingWorkers, startSampler, startWorkerPool, type WorkerPool } from './worker-pool.js';
import type { PoolLimits, PoolRole } from './worker-pool-rules.js';

export const QUEUE_NAME = 'orders';

/** The worker pool's keys, in the queue's hash slot next to its keys. */
const poolKeyPrefix = (prefix: string) => `${queuePrefix(prefix)}:workers`;

interface BullOptions {
  /** Any Redis mode; keys carry a hash tag (`queuePrefix`) so they work on a Cluster too. */
  redis: RedisTarget;
  prefix: string;
  handlers: JobHandlers;
}

/**
 * Producer side. Its connection fails fast while Redis is down (no offline queue), so the
 * outbox relay notices at once and leaves the events unpublished for the next round.
 */
export function createBullMqQueue(options: BullOptions): JobQueue & { queue: Queue } {
  // Our own connection (one factory for every mode); BullMQ does not close a passed-in one.
  const connection = createRedis(options.redis, 'request');
  const queue = new Queue(QUEUE_NAME, {
    connection: connection,
    prefix: queuePrefix(options.prefix),
    defaultJobOptions: {
      attempts: DEFAULT_ATTEMPTS,
      backoff: { type: 'capped-jitter' },
      // Completed jobs are kept a day (their ids keep re-publishing a no-op); failed ones
      // stay for inspection until an operator or the reconciler retries them.
      removeOnComplete: { age: 24 * 3600, count: 50_000 },
      removeOnFail: false,
    },
  });
  queue.on('error', () => undefined);
  const toBulk = (job: JobSpec) => ({
    name: job.name,
    data: job.data,
    opts: { jobId: job.id, attempts: options.handlers[job.name]?.attempts ?? DEFAULT_ATTEMPTS },
  });

  return {
    kind: 'bullmq',
    queue,
    async add(jobs) {
      if (jobs.length > 0) await queue.addBulk(jobs.map(toBulk));
    },
    async ensure(job) {
      const existing = await queue.getJob(job.id);
      const state = existing ? await existing.getState() : undefined;
      // Every process runs a reconciler: another may revive or replace the job between our read
      // and our move. Only a job still in the state we read is a failure of ours.
      const unlessMovedOn = (from: string) => async (error: unknown) => {
        if ((await queue.getJobState(job.id)) === from) throw error;
      };
      if (existing && state === 'failed') {
        // With its attempts afresh: kept, a revived job had one try, and a single passing error
        // then ended it for good (an order failed, stock released) as if every retry had run.
        await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(unlessMovedOn('failed'));
        return;
      }
      if (existing && state === 'completed') await existing.remove().catch(unlessMovedOn('completed'));
      await queue.addBulk([toBulk(job)]);
    },
    async counts() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
    },
    waiting: () => queue.getWaitingCount(),
    async workers() {
      const [connected, fetching] = await Promise.all([queue.getWorkersCount(), countFetchingWorkers(connection, poolKeyPrefix(options.prefix))]);
      return { connected, fetching };
    },
    ready: () => connection.status === 'ready',
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}

export interface WorkerOptions extends BullOptions {
  concurrency: number;
  backoff: Backoff;
  /** How long a job stays locked without a heartbeat before it counts as stalled (a crashed worker). */
  lockDurationMs: number;
  logger: Logger;
  /**
   * Workers sharing the queue take turns (`worker-pool.ts`): one always fetches jobs, the others
   * join only while it is short of CPU or slots and their host has a free core. Absent: this
   * worker always fetches.
   */
  pool?: {
    /** A request connection of the process (the pool's lease and loads). */
    redis: RedisClient;
    /** Jobs waiting for a worker: the producer queue's count. */
    waiting(): Promise<number>;
    /** Overrides of the pool's thresholds (`DEFAULT_POOL_LIMITS`). */
    limits?: Partial<PoolLimits>;
    onRole?(role: PoolRole): void;
  };
}

/** Consumer side: a BullMQ worker whose connection waits through Redis outages. */
export function startBullMqWorker(options: WorkerOptions): { worker: Worker; pool: WorkerPool | undefined; close(): Promise<void> } {
  const { handlers, logger } = options;
  const sampler = startSampler(options.concurrency);
  // The attempts whose handlers are running (attemptJob never rejects): what a close must wait for.
  const inHand = new Set<Promise<unknown>>();

  async function runJob(job: Job): Promise<void> {
    const handler = handlers[job.name];
    if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
    const attempt = { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 };
    sampler.jobStarted();
    const running = attemptJob(handler, { name: job.name, id: job.id, data: job.data as Record<string, string> }, attempt, logger).finally(() => {
      sampler.jobEnded();
      inHand.delete(running);
    });
    inHand.add(running);
    const result = await running;
    // BullMQ retries by itself until attempts run out; a permanent error must stop it now.
    if (!result.ok) throw result.permanent ? new UnrecoverableError(result.error.message) : result.error;
  }

  // BullMQ duplicates this connection for its blocking reads and closes only the duplicate.
  const connection = createRedis(options.redis, 'blocking');
  const worker = new Worker(QUEUE_NAME, (job: Job) => runWithJobContext({ jobId: job.id ?? job.name }, () => runJob(job)), {
    connection: connection,
    prefix: queuePrefix(options.prefix),
    concurrency: options.concurrency,
    // A killed worker's jobs are found when its lock has run out and a check has seen them
    // unlocked twice: at most lock + 2 × interval after the kill, with no replacement needed.
    lockDuration: options.lockDurationMs,
    stalledInterval: Math.max(500, Math.round(options.lockDurationMs / 2)),
    // A crash (kill -9) mid-job is not the job's fault: let it be picked up again a few times.
    maxStalledCount: 5,
    settings: { backoffStrategy: (attemptsMade) => backoffDelayMs(attemptsMade, options.backoff) },
    // With a pool, the pool's first tick decides whether this worker fetches at all.
    autorun: !options.pool,
  });
  // A lost connection is reported once per outage by watchRedis (runtime.ts); BullMQ would
  // report it on each of its connections at every reconnection attempt.
  worker.on('error', (error) => {
    if (!isConnectionError(error)) logger.warn('queue worker error', errorFields(error));
  });
  const settings = options.pool;
  const pool = settings
    ? startWorkerPool({
        redis: settings.redis,
        keyPrefix: poolKeyPrefix(options.prefix),
        id: `${hostname()}:${process.pid}:${worker.id}`,
        activate: () => void worker.resume(),
        // Stops fetching at once; the jobs in hand finish (their locks still renewed).
        deactivate: () => worker.pause(true),
        waiting: () => settings.waiting(),
        sample: () => sampler.sample(),
        logger,
        ...(settings.limits ? { limits: settings.limits } : {}),
        ...(settings.onRole ? { onRole: (role: PoolRole) => settings.onRole?.(role) } : {}),
      })
    : undefined;
  void pool?.tick();
  return {
    worker,
    pool,
    async close() {
      await pool?.stop();
      // BullMQ's close waits for Redis to answer (its QUIT and the completions of the jobs in hand
      // queue behind the reconnection), so with Redis down, or silent, a stopping worker would wait
      // out its grace period. Once its handlers have finished, nothing is left that it could hand
      // back: their jobs' locks run out and another worker's stall check takes them again.
      await Promise.race([worker.close(), handlersDoneWhileUnreachable(connection, inHand)]);
      connection.disconnect();
    },
  };
}

/**
 * How long a close waits for Redis to take the outcomes of the jobs in hand once their handlers
 * have finished: milliseconds while it answers. A network that drops packets leaves the
 * connection "ready" and BullMQ's close waiting on it for minutes (TCP's retransmissions).
 */
const OUTCOMES_WITHIN_MS = 2000;

/**
 * Resolves once no handler is running and `redis` is not connected, or has not closed within
 * OUTCOMES_WITHIN_MS of the last handler finishing.
 */
async function handlersDoneWhileUnreachable(redis: RedisClient, inHand: ReadonlySet<Promise<unknown>>): Promise<void> {
  for (;;) {
    while (inHand.size > 0) await Promise.all(inHand);
    if (redis.status !== 'ready') return;
    const closed = await new Promise<boolean>((resolve) => {
      const onClose = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        redis.off('close', onClose);
        resolve(false);
      }, OUTCOMES_WITHIN_MS);
      timer.unref();
      redis.once('close', onClose);
    });
    if (!closed) return;
  }
}
