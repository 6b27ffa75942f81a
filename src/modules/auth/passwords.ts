import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

/** OWASP Password Storage Cheat Sheet, argon2id first option: m = 19 MiB, t = 2, p = 1. */
const OWASP_ARGON2ID = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Runs at most `limit` tasks at once; the rest wait in arrival order. Each argon2 call keeps a
 * core busy for tens of milliseconds, so without a bound a flood of registrations or logins
 * would take every core and starve all other requests.
 */
export function createSemaphore(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < limit) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
    get pending() {
      return waiting.length;
    },
    get active() {
      return running;
    },
  };
}

/** Half the cores (at least one) hash passwords; the other half keep serving everything else. */
export const PASSWORD_CONCURRENCY = Math.max(1, Math.floor(availableParallelism() / 2));
const passwordWork = createSemaphore(PASSWORD_CONCURRENCY);

export function hashPassword(password: string): Promise<string> {
  return passwordWork.run(() => argon2.hash(password, OWASP_ARGON2ID));
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await passwordWork.run(() => argon2.verify(hash, password));
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies against a throwaway hash with the same parameters, so a login for an unknown
 * email costs the same time as one with a wrong password and does not reveal which emails exist.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('dummy password that never matches anything');
  await verifyPassword(await dummyHash, password);
}
