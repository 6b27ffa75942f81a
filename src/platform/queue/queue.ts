import { createHash } from 'node:crypto';
import { errorFields, type Logger } from '../logger.js';
import { isConnectionError } from '../redis.js';

/**
 * Background jobs. Jobs carry ids only (never personal data or tokens); handlers load what
 * they need and are idempotent, because every job may run more than once.
 */
export interface JobSpec<Name extends string = string, Data extends JobData = JobData> {
  name: Name;
  /** Deterministic, so publishing the same work twice is one job. */
  id: string;
  data: Data;
}

/**
 * A deterministic job id for work on `ids`: `<prefix>-<id>` for one (what a reconciler enqueues
 * for one too), `<prefix>-batch-<digest of the ids>` for many.
 */
export function batchJobId(prefix: string, ids: readonly string[]): string {
  return ids.length === 1 ? `${prefix}-${ids[0]}` : `${prefix}-batch-${createHash('sha1').update(ids.join(',')).digest('hex').slice(0, 24)}`;
}

/** The jobs for `items` (order ids, or emails with their attempts), `size` at a time, in order. */
export function jobsInBatches<Item, Job>(items: readonly Item[], size: number, jobOf: (batch: readonly Item[]) => Job): Job[] {
  const jobs: Job[] = [];
  for (let i = 0; i < items.length; i += size) jobs.push(jobOf(items.slice(i, i + size)));
  return jobs;
}

/** Ids and small values only: a job's data is stored in Redis as JSON. */
export type JobData = Readonly<Record<string, string | number | boolean | readonly string[]>>;

export interface JobAttempt {
  /** 1 for the first run. */
  attempt: number;
  maxAttempts: number;
  /**
   * Aborted when the queue stops before the attempt has finished (the in-process queue, at
   * shutdown): a handler waiting on something slow gives its work back undone, for the next
   * start. Such an attempt is not counted against the job's attempts.
   */
  signal?: AbortSignal;
}

export interface JobHandler<Data extends JobData = JobData> {
  run(data: Data, attempt: JobAttempt): Promise<void>;
  /** Called once when the job will not be retried any more (attempts used up or a permanent error). */
  exhausted?(data: Data, error: Error): Promise<void>;
  /** Attempts for this kind of job (default 8). */
  attempts?: number;
}

/**
 * Exactly one handler per job of the union `Job`, taking that job's data: a job without a
 * handler (or a handler for the wrong data) does not compile.
 */
export type HandlersFor<Job extends JobSpec> = { readonly [Name in Job['name']]: JobHandler<Extract<Job, { name: Name }>['data']> };

/**
 * The queues' view of the handlers: by name, with data as it comes back from storage. The
 * typed map (`HandlersFor`) is checked where it is built; this is where types meet JSON.
 */
export type JobHandlers = Readonly<Record<string, JobHandler<never>>>;

/** A failure that retrying cannot fix (bad input, a business rule): not retried. */
export class PermanentJobError extends Error {}

export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Adds jobs; a job whose id is already queued is left as it is. Throws when the queue is unreachable. */
  add(jobs: readonly JobSpec[]): Promise<void>;
  /** Like add, and also re-runs a job that already failed for good (used by the reconciler). */
  ensure(job: JobSpec): Promise<void>;
  /** False while the queue's store cannot be reached: a relay then leaves events to others. */
  ready(): boolean;
  counts(): Promise<{ waiting: number; active: number; delayed: number; failed: number }>;
  /** Jobs waiting for a free worker slot (one cheap call: the relay asks before each publish). */
  waiting(): Promise<number>;
  /**
   * Worker processes connected to the queue, and how many of them fetch jobs as pool members
   * (leader and helpers; the others wait on standby). Null for the in-process queue.
   */
  workers(): Promise<{ connected: number; fetching: number } | null>;
  close(): Promise<void>;
}

/**
 * Whether a failed call says the queue itself is out of reach (lost connection, a command timing
 * out: every other job would fail alike, and wait as long) rather than that it refused this job.
 */
export function queueOutOfReach(queue: Pick<JobQueue, 'ready'>, error: unknown): boolean {
  return !queue.ready() || isConnectionError(error) || (error instanceof Error && /timed out/i.test(error.message));
}

/**
 * Puts each job in with `put` (one call each), going on past a job the queue refuses on its own;
 * answers the refused ones with their errors. A queue out of reach ends it at once (throws).
 */
export async function putEach(queue: Pick<JobQueue, 'ready'>, jobs: readonly JobSpec[], put: (job: JobSpec) => Promise<void>): Promise<{ job: JobSpec; error: unknown }[]> {
  const refused: { job: JobSpec; error: unknown }[] = [];
  for (const job of jobs) {
    try {
      await put(job);
    } catch (error) {
      if (queueOutOfReach(queue, error)) throw error;
      refused.push({ job, error });
    }
  }
  return refused;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff, capped, with full jitter so retries of many jobs spread out. */
export function backoffDelayMs(attemptsMade: number, backoff: Backoff): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export const DEFAULT_ATTEMPTS = 8;

export type JobOutcome = 'completed' | 'retrying' | 'failed';

export type AttemptResult = { ok: true } | { ok: false; error: Error; permanent: boolean; final: boolean };

/** The order(s) a job is about, for its log line: `orderId` for one, `orders` (a count) for a batch. */
function orderFields(data: JobData): { orderId?: unknown; orders?: number } {
  if (data.orderId !== undefined) return { orderId: data.orderId };
  const ids = data.orderIds;
  if (!Array.isArray(ids)) return {};
  return ids.length === 1 ? { orderId: ids[0] } : { orders: ids.length };
}

/**
 * Runs one attempt of a job the same way for every queue: writes its one log line (name, order
 * id, attempt, outcome, duration) and, when it will not be retried, calls `exhausted` once.
 * The queue decides what to do with a failure (retry later or record it).
 */
export async function attemptJob(
  handler: JobHandler<never>,
  job: { name: string; id: string | undefined; data: JobData },
  attempt: JobAttempt,
  logger: Logger,
): Promise<AttemptResult> {
  const startedAt = Date.now();
  const fields = (outcome: JobOutcome) => ({
    job: job.name,
    jobId: job.id,
    ...orderFields(job.data),
    attempt: attempt.attempt,
    outcome,
    durationMs: Date.now() - startedAt,
  });
  try {
    await (handler as JobHandler).run(job.data, attempt);
    logger.info('job', fields('completed'));
    return { ok: true };
  } catch (caught) {
    const error = caught instanceof Error ? caught : new Error(String(caught));
    const permanent = error instanceof PermanentJobError;
    // Cut off by a stop, the job is not given up: the next start runs it again.
    const final = !attempt.signal?.aborted && (permanent || attempt.attempt >= attempt.maxAttempts);
    logger.warn('job', { ...fields(final ? 'failed' : 'retrying'), ...errorFields(error) });
    if (final) {
      await (handler as JobHandler).exhausted?.(job.data, error).catch((hookError: unknown) =>
        logger.error('job exhaustion handler failed', { job: job.name, jobId: job.id, ...errorFields(hookError) }),
      );
    }
    return { ok: false, error, permanent, final };
  }
}
