import type { Logger } from '../logger.js';
import { runWithJobContext } from '../job-context.js';
import { attemptJob, backoffDelayMs, DEFAULT_ATTEMPTS, type Backoff, type JobHandlers, type JobQueue, type JobSpec } from './queue.js';

/**
 * How long `close` waits for the jobs running then to finish, and after that for the ones told
 * to stop (their `signal` aborted: an email waiting on a silent SMTP server) to give their work
 * back. Together well inside the API's 10 s grace period, which the HTTP drain and the
 * background loops share.
 */
const CLOSE_WAIT_MS = { finish: 3000, giveBack: 2000 };

/**
 * The embedded default's queue: the same handlers, run in this process with the same retry
 * policy as BullMQ. Nothing is persisted here: the outbox and the reconciler in the database
 * are what make queued work survive a restart (the next start resumes all of it).
 */
export function createInProcessQueue(options: { handlers: JobHandlers; concurrency: number; backoff: Backoff; logger: Logger }): JobQueue {
  const { handlers, backoff, logger } = options;
  const stopping = new AbortController();
  const known = new Set<string>();
  const ready: { job: JobSpec; attempt: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const failed = new Map<string, JobSpec>();
  let active = 0;
  let closed = false;
  let idle: (() => void) | undefined;
  const idleWithin = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (active === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });

  function pump(): void {
    while (!closed && active < options.concurrency && ready.length > 0) {
      const next = ready.shift()!;
      active++;
      void run(next.job, next.attempt).finally(() => {
        active--;
        if (active === 0) idle?.();
        pump();
      });
    }
  }

  function run(job: JobSpec, attempt: number): Promise<void> {
    return runWithJobContext({ jobId: job.id }, () => runAttempt(job, attempt));
  }

  async function runAttempt(job: JobSpec, attempt: number): Promise<void> {
    const handler = handlers[job.name];
    if (!handler) {
      logger.error('job has no handler', { job: job.name, jobId: job.id });
      known.delete(job.id);
      failed.set(job.id, job);
      return;
    }
    const result = await attemptJob(handler, job, { attempt, maxAttempts: handler.attempts ?? DEFAULT_ATTEMPTS, signal: stopping.signal }, logger);
    if (!result.ok && !result.final && !closed) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        ready.push({ job, attempt: attempt + 1 });
        pump();
      }, backoffDelayMs(attempt, backoff));
      timer.unref();
      timers.add(timer);
      return;
    }
    known.delete(job.id);
    if (!result.ok && result.final) failed.set(job.id, job);
  }

  function add(jobs: readonly JobSpec[]): Promise<void> {
    if (closed) return Promise.reject(new Error('queue is closed'));
    for (const job of jobs) {
      if (known.has(job.id)) continue;
      known.add(job.id);
      ready.push({ job, attempt: 1 });
    }
    pump();
    return Promise.resolve();
  }

  return {
    kind: 'in-process',
    add,
    ensure(job) {
      failed.delete(job.id);
      return add([job]);
    },
    ready: () => !closed,
    counts: () => Promise.resolve({ waiting: ready.length, active, delayed: timers.size, failed: failed.size }),
    waiting: () => Promise.resolve(ready.length),
    workers: () => Promise.resolve(null),
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      ready.length = 0;
      if (await idleWithin(CLOSE_WAIT_MS.finish)) return;
      logger.warn('jobs still running at shutdown; stopping them, the next start runs them again', { jobs: active });
      stopping.abort(new Error('the service is stopping'));
      if (await idleWithin(CLOSE_WAIT_MS.giveBack)) return;
      // Like a crash for them: what they hold is the database's, and the next start resumes it.
      logger.warn('jobs did not stop in time; closing without them', { jobs: active });
    },
  };
}
