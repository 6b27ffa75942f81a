import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { createSemaphore, hashPassword, PASSWORD_CONCURRENCY, SemaphoreFullError, verifyPassword } from './passwords.js';

describe('password hashing concurrency', () => {
  it('runs at most `limit` tasks at once, the others in arrival order', async () => {
    const semaphore = createSemaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      semaphore.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
        return i;
      }),
    );
    // Release started tasks one by one until all have run.
    while (order.length < 6 || gates.length > 0) {
      await expect.poll(() => gates.length > 0).toBe(true);
      gates.shift()!();
    }
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(semaphore.active).toBe(0);
  });

  it('when `maxWaiting` tasks already wait, then the next is refused at once and the waiting ones still run', async () => {
    const semaphore = createSemaphore(1);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const running = semaphore.run(() => gate, 1);
    const waiting = semaphore.run(() => Promise.resolve('waited'), 1);
    await expect(semaphore.run(() => Promise.resolve('refused'), 1)).rejects.toBeInstanceOf(SemaphoreFullError);
    open();
    await running;
    expect(await waiting).toBe('waited');
    expect(semaphore.active).toBe(0);
  });

  it('frees its slot when a task fails', async () => {
    const semaphore = createSemaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await semaphore.run(() => Promise.resolve('next'))).toBe('next');
  });

  it('hashes on at most half the cores (at least one), so the rest keep serving other requests', async () => {
    expect(PASSWORD_CONCURRENCY).toBe(Math.max(1, Math.floor(availableParallelism() / 2)));
    const hashes = await Promise.all(Array.from({ length: 4 }, (_, i) => hashPassword(`password ${i}`, 'owasp')));
    expect(await Promise.all(hashes.map((hash, i) => verifyPassword(hash, `password ${i}`)))).toEqual([true, true, true, true]);
  });
});

describe('password hash profiles', () => {
  it('when hashing with owasp, then the hash carries argon2id m=19456, t=2, p=1 and verifies', async () => {
    const hash = await hashPassword('correct horse', 'owasp');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(hash, 'correct horse')).toBe(true);
    expect(await verifyPassword(hash, 'wrong horse')).toBe(false);
  });

  it('when hashing with test-only-weak, then the hash carries its own cheaper parameters and verifies the same way', async () => {
    const hash = await hashPassword('correct horse', 'test-only-weak');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await verifyPassword(hash, 'correct horse')).toBe(true);
    expect(await verifyPassword(hash, 'wrong horse')).toBe(false);
  });
});
