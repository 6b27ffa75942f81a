import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capturingLogger } from '../../test/logs.js';
import { startLoop, type Loop } from './outbox.js';

const INTERVAL_MS = 1_000;

/**
 * Runs every timer that is due now, including those that rounds finishing now schedule. Timers
 * fire synchronously and the promise callbacks run in between, as in Node: a 0 ms timer never
 * fires before the callbacks of the promise that scheduled it (advanceTimersByTimeAsync can).
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    vi.advanceTimersByTime(0);
    for (let j = 0; j < 10; j++) await Promise.resolve();
  }
}

/** The loop behind the outbox relay and the reconciler, driven by fake timers: no waiting. */
describe('startLoop', () => {
  let loop: Loop | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    await loop?.stop();
    loop = undefined;
    vi.useRealTimers();
  });

  function run(round: () => Promise<number>) {
    const { logger, lines } = capturingLogger();
    loop = startLoop('test loop', round, { intervalMs: INTERVAL_MS, logger });
    return lines;
  }

  it('runs a round at once, then one per interval while there is nothing to do', async () => {
    const round = vi.fn(() => Promise.resolve(0));
    run(round);
    await vi.advanceTimersByTimeAsync(0);
    expect(round).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS - 1);
    expect(round).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(round).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(5);
  });

  it('when a round did work, then runs the next one at once (a backlog drains without waiting)', async () => {
    const backlog = [200, 200, 50, 0];
    const round = vi.fn(() => Promise.resolve(backlog.shift() ?? 0));
    run(round);
    await settle();
    expect(round).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(5);
  });

  it('never runs two rounds at once, however long one takes', async () => {
    const pending: (() => void)[] = [];
    const round = vi.fn(() => new Promise<number>((resolve) => pending.push(() => resolve(1))));
    run(round);
    await vi.advanceTimersByTimeAsync(20 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(1);
    pending.shift()!();
    await settle();
    expect(round).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(20 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(2);
    round.mockImplementation(() => Promise.resolve(0));
    pending.shift()!();
  });

  it('when rounds fail, then logs the first failure, backs off, and resets once a round succeeds', async () => {
    let failing = true;
    const round = vi.fn(() => (failing ? Promise.reject(new Error('database down')) : Promise.resolve(0)));
    const lines = run(round);
    await vi.advanceTimersByTimeAsync(0);
    expect(round).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', message: 'test loop round failed; retrying', failures: 1 })]);
    // Backoff: 2, 4, 8 intervals after the 1st, 2nd, 3rd failure.
    await vi.advanceTimersByTimeAsync(2 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(4 * INTERVAL_MS - 1);
    expect(round).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(round).toHaveBeenCalledTimes(3);
    expect(lines).toHaveLength(1);

    failing = false;
    await vi.advanceTimersByTimeAsync(8 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(4);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(5);
  });

  it('when a slow loop fails, then it retries no sooner than its own interval', async () => {
    const round = vi.fn(() => Promise.reject(new Error('redis down')));
    loop = startLoop('slow loop', round, { intervalMs: 30_000, logger: capturingLogger().logger });
    await vi.advanceTimersByTimeAsync(0);
    expect(round).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(30_000 - 1);
    expect(round).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(round).toHaveBeenCalledTimes(2);
  });

  it('stop waits for the running round and runs no more', async () => {
    let finish: (() => void) | undefined;
    const round = vi.fn(() => new Promise<number>((resolve) => (finish = () => resolve(0))));
    run(round);
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = loop!.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    await vi.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    expect(round).toHaveBeenCalledTimes(1);
  });
});
