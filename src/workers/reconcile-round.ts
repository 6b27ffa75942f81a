import type { Database } from '../platform/db/index.js';
import { queueOutOfReach, type JobQueue } from '../platform/queue/index.js';

/**
 * The steps of one round, run so that one failing does not keep the others from running (a
 * statement of one of them refused, a job of one kind refused). Every failure is answered
 * with a ping: a database that does not answer it is down and would fail every other step
 * alike, so the round ends there, after no more failed statements than one and the ping.
 * A queue out of reach skips the steps that enqueue; the pruning still runs. `finish` throws
 * what failed, once for the round (the loop logs it).
 */
export interface Round {
  /** `work`'s answer, or undefined when it failed or was skipped; `enqueues`: it puts jobs in the queue. */
  run<T>(step: string, work: () => Promise<T>, enqueues?: 'enqueues'): Promise<T | undefined>;
  finish(): void;
}

/**
 * `signal`: the process is stopping; the steps not started yet are skipped (a round working off a
 * retention backlog went on for its every batch of every step, past the stop's wait, and had its
 * statements cut by the close).
 */
export function startRound(deps: { db: Pick<Database, 'ping'>; queue: Pick<JobQueue, 'ready'>; signal?: AbortSignal | undefined }): Round {
  const failures: { step: string; error: unknown }[] = [];
  let databaseDown = false;
  let queueGone = false;
  return {
    async run(step, work, enqueues) {
      if (databaseDown || (queueGone && enqueues) || deps.signal?.aborted) return undefined;
      try {
        return await work();
      } catch (error) {
        failures.push({ step, error });
        databaseDown = await deps.db.ping().then(
          () => false,
          () => true,
        );
        if (!databaseDown && queueOutOfReach(deps.queue, error)) queueGone = true;
        return undefined;
      }
    },
    finish() {
      if (failures.length === 1) throw failures[0]!.error;
      if (failures.length > 1) {
        const each = failures.map(({ step, error }) => `${step} (${error instanceof Error ? error.message : String(error)})`);
        throw new AggregateError(failures.map(({ error }) => error), `reconciler steps failed: ${each.join('; ')}`);
      }
    },
  };
}
