import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capturingLogger } from '../../../test/logs.js';
import { createInProcessQueue } from './in-process-queue.js';
import { backoffDelayMs, PermanentJobError, type JobHandler, type JobHandlers, type JobQueue } from './queue.js';

const BACKOFF = { baseMs: 100, maxMs: 1_000 };
const job = (id: string, name = 'work') => ({ name, id, data: { orderId: id } });

/** A handler whose runs the test finishes by hand, to observe concurrency and ordering. */
function gatedHandler() {
  const runs: { id: string; finish: () => void; fail: (error: Error) => void }[] = [];
  const handler: JobHandler = {
    run: (data) =>
      new Promise<void>((resolve, reject) => {
        runs.push({ id: String(data.orderId), finish: resolve, fail: reject });
      }),
  };
  return { handler, runs };
}

describe('in-process queue', () => {
  let queue: JobQueue | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await queue?.close();
    queue = undefined;
  });

  function start(handlers: JobHandlers, concurrency = 2) {
    const { logger, lines } = capturingLogger();
    queue = createInProcessQueue({ handlers, concurrency, backoff: BACKOFF, logger });
    return { queue, lines };
  }

  it('runs at most `concurrency` jobs at once and starts the next as one finishes', async () => {
    const { handler, runs } = gatedHandler();
    const { queue } = start({ work: handler }, 2);
    await queue.add([job('a'), job('b'), job('c')]);
    expect(runs.map((r) => r.id)).toEqual(['a', 'b']);
    expect(await queue.counts()).toMatchObject({ waiting: 1, active: 2 });
    expect(await queue.waiting()).toBe(1);
    runs[0]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(await queue.waiting()).toBe(0);
    for (const run of runs) run.finish();
  });

  it('when a handler logs, then its lines carry the job id as jobId, and no requestId (that names HTTP requests)', async () => {
    const { logger, lines } = capturingLogger();
    const charging: JobHandler = {
      run: (data) => {
        logger.info('charging', { orderId: data.orderId });
        return Promise.resolve();
      },
    };
    queue = createInProcessQueue({
      handlers: { work: charging },
      concurrency: 1,
      backoff: BACKOFF,
      logger,
    });
    await queue.add([job('a')]);
    await vi.advanceTimersByTimeAsync(0);
    const handlerLine = lines.find((line) => line.message === 'charging');
    expect(handlerLine).toMatchObject({ orderId: 'a', jobId: 'a' });
    expect(handlerLine).not.toHaveProperty('requestId');
  });

  it('when a job id is already queued, then adding it again is a no-op', async () => {
    const { handler, runs } = gatedHandler();
    const { queue } = start({ work: handler }, 1);
    await queue.add([job('a'), job('a')]);
    await queue.add([job('a')]);
    runs[0]!.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.id)).toEqual(['a']);
  });

  it('retries a failing job after a backoff, and not before', async () => {
    let attempts = 0;
    const { queue } = start({
      work: {
        run: () => {
          attempts++;
          return attempts === 1 ? Promise.reject(new Error('transient')) : Promise.resolve();
        },
      },
    });
    await queue.add([job('a')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(1);
    expect(await queue.counts()).toMatchObject({ delayed: 1 });
    await vi.advanceTimersByTimeAsync(BACKOFF.baseMs / 2 - 1);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(BACKOFF.baseMs);
    expect(attempts).toBe(2);
    expect(await queue.counts()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });

  it('when a job fails permanently, then it is not retried, exhausted runs once and the job counts as failed', async () => {
    const exhausted = vi.fn(() => Promise.resolve());
    let attempts = 0;
    const { queue, lines } = start({
      work: {
        run: () => {
          attempts++;
          return Promise.reject(new PermanentJobError('bad input'));
        },
        exhausted,
      },
    });
    await queue.add([job('a')]);
    await vi.advanceTimersByTimeAsync(10 * BACKOFF.maxMs);
    expect(attempts).toBe(1);
    expect(exhausted).toHaveBeenCalledTimes(1);
    expect(await queue.counts()).toMatchObject({ failed: 1, delayed: 0 });
    expect(lines.filter((line) => line.message === 'job')).toMatchObject([{ level: 'warn', job: 'work', orderId: 'a', attempt: 1, outcome: 'failed' }]);
  });

  it('gives up after the handler\'s attempts, calling exhausted once; ensure runs the failed job again', async () => {
    const exhausted = vi.fn(() => Promise.resolve());
    let attempts = 0;
    const { queue } = start({
      work: {
        attempts: 3,
        run: () => {
          attempts++;
          return Promise.reject(new Error('still down'));
        },
        exhausted,
      },
    });
    await queue.add([job('a')]);
    await vi.advanceTimersByTimeAsync(10 * BACKOFF.maxMs);
    expect(attempts).toBe(3);
    expect(exhausted).toHaveBeenCalledTimes(1);
    expect((await queue.counts()).failed).toBe(1);

    await queue.ensure(job('a'));
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(4);
  });

  it('when no handler is registered for a job, then it is logged and counted as failed, never run', async () => {
    const { queue, lines } = start({});
    await queue.add([job('a', 'unknown-job')]);
    expect(await queue.counts()).toMatchObject({ failed: 1, active: 0 });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', message: 'job has no handler', job: 'unknown-job' }));
  });

  it('close waits for the running job, drops what is waiting and refuses new work', async () => {
    const { handler, runs } = gatedHandler();
    const { queue: q } = start({ work: handler }, 1);
    queue = undefined;
    await q.add([job('a'), job('b')]);
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false);
    runs[0]!.finish();
    await closing;
    expect(runs.map((r) => r.id)).toEqual(['a']);
    await expect(q.add([job('c')])).rejects.toThrow('queue is closed');
  });

  /** Closes a queue running one job of `handler`; resolves with its log lines once close has ended exactly `endsAfterMs` in. */
  async function closeWhileRunning(handler: JobHandler, endsAfterMs: number): Promise<Record<string, unknown>[]> {
    const { queue: q, lines } = start({ work: handler }, 1);
    queue = undefined;
    await q.add([job('a')]);
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(endsAfterMs - 1);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    return lines;
  }

  it('when a job is still running 3 s into close, then its signal aborts, its last attempt is not given up, and close ends once it stops', async () => {
    const exhausted = vi.fn(() => Promise.resolve());
    const slow: JobHandler = {
      attempts: 1,
      // Waits on something that never answers, until told to stop (an email on a silent SMTP server).
      run: (_data, { signal }) => new Promise<void>((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error))),
      exhausted,
    };
    const lines = await closeWhileRunning(slow, 3_000);
    expect(exhausted).not.toHaveBeenCalled();
    expect(lines.find((line) => line.message === 'job')).toMatchObject({ jobId: 'a', outcome: 'retrying' });
    expect(lines.map((line) => line.message)).toContain('jobs still running at shutdown; stopping them, the next start runs them again');
  });

  it('when a running job ignores the stop, then close ends 2 s later all the same, saying so', async () => {
    const lines = await closeWhileRunning(gatedHandler().handler, 5_000);
    expect(lines.map((line) => line.message)).toContain('jobs did not stop in time; closing without them');
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, with jitter between half and all of it', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelayMs(attempt, BACKOFF);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });
});
