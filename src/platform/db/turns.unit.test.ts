import { describe, expect, it } from 'vitest';
import { createTurnTaker } from './turns.js';

describe('createTurnTaker', () => {
  it('runs one piece of work at a time, in the order it was given', async () => {
    const inTurn = createTurnTaker();
    const log: string[] = [];
    let running = 0;
    const piece = (name: string) =>
      inTurn(async () => {
        running++;
        log.push(`${name} starts with ${running} running`);
        await Promise.resolve();
        running--;
        return name;
      });

    await expect(Promise.all([piece('a'), piece('b'), piece('c')])).resolves.toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a starts with 1 running', 'b starts with 1 running', 'c starts with 1 running']);
  });

  it('lets a turn of the event loop in between two pieces, even when each finishes in a microtask', async () => {
    const inTurn = createTurnTaker();
    const log: string[] = [];
    const pieces = ['a', 'b', 'c'].map((name) => inTurn(() => Promise.resolve(log.push(name))));
    // Queued after all three: without turns, all three would have run before it.
    setImmediate(() => log.push('immediate'));
    await Promise.all(pieces);
    expect(log).toEqual(['a', 'immediate', 'b', 'c']);
  });

  it('goes on after a piece that rejects or throws, and hands each caller its own outcome', async () => {
    const inTurn = createTurnTaker();
    const rejected = inTurn(() => Promise.reject(new Error('rejected')));
    const thrown = inTurn((): Promise<never> => {
      throw new Error('thrown');
    });
    const after = inTurn(() => Promise.resolve('after'));
    await expect(rejected).rejects.toThrow('rejected');
    await expect(thrown).rejects.toThrow('thrown');
    await expect(after).resolves.toBe('after');
  });

  it('starts a piece at once when nothing else is running', async () => {
    const inTurn = createTurnTaker();
    let started = false;
    const piece = inTurn(() => {
      started = true;
      return Promise.resolve();
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toBe(true);
    await piece;
  });
});
