import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { ServiceUnavailableError } from '../../shared/errors.js';

/**
 * argon2id parameters for new hashes. `owasp` is the OWASP Password Storage Cheat Sheet's first
 * option (m = 19 MiB, t = 2, p = 1), ~50 ms of CPU a hash. `test-only-weak` (m = 1 MiB, t = 1)
 * is ~30 times cheaper, for test suites that only need signed-in users; config refuses it in
 * production. A hash carries its parameters, so verifying works whichever profile made it.
 */
export const PASSWORD_HASH_PROFILES = {
  owasp: { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  'test-only-weak': { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 },
} as const;
export type PasswordHashProfile = keyof typeof PASSWORD_HASH_PROFILES;

/** Thrown by `run` when `maxWaiting` tasks already wait: the caller answers at once instead of queuing. */
export class SemaphoreFullError extends Error {}

/**
 * Runs at most `limit` tasks at once; the rest wait in arrival order, at most `maxWaiting` of
 * them (a task beyond that is refused with `SemaphoreFullError`). Each argon2 call keeps a core
 * busy for tens of milliseconds, so without a bound a flood of registrations or logins would
 * take every core and starve all other requests.
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
    async run<T>(task: () => Promise<T>, maxWaiting = Infinity): Promise<T> {
      if (running < limit) running++;
      else if (waiting.length >= maxWaiting) throw new SemaphoreFullError(`${waiting.length} tasks already wait`);
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

/**
 * Half the cores (at least one) hash passwords; the other half keep serving everything else.
 * bin/run-service gives Node two malloc arenas only where this is 1 (below 4 CPUs): two hashes
 * at once in one shared arena would cost ~60 % more CPU each.
 */
export const PASSWORD_CONCURRENCY = Math.max(1, Math.floor(availableParallelism() / 2));
const passwordWork = createSemaphore(PASSWORD_CONCURRENCY);

/**
 * How many password checks may wait for a slot before more are refused with a 503. An owasp hash
 * costs ~50–65 ms of CPU here (measured on 2 cores; README § Limits), so 32 waiting per slot is at
 * most ~2 s of waiting: well inside any client's timeout, and a flood (one account logging in
 * over and over, a burst of registrations) is answered at once instead of piling up for minutes.
 */
export const DEFAULT_PASSWORD_QUEUE_LIMIT = 32 * PASSWORD_CONCURRENCY;

/** How long a refused client should wait: the longest queue drains in about this. */
const BUSY_RETRY_AFTER_SECONDS = 2;

/** How much password work may wait; `queueLimit` defaults to `DEFAULT_PASSWORD_QUEUE_LIMIT`. */
export interface PasswordQueue {
  queueLimit?: number | undefined;
}

async function runPasswordWork<T>(task: () => Promise<T>, queue: PasswordQueue): Promise<T> {
  try {
    return await passwordWork.run(task, queue.queueLimit ?? DEFAULT_PASSWORD_QUEUE_LIMIT);
  } catch (error) {
    if (!(error instanceof SemaphoreFullError)) throw error;
    throw new ServiceUnavailableError('password hashing', 'The server is busy checking passwords, try again shortly', BUSY_RETRY_AFTER_SECONDS);
  }
}

/** Throws `ServiceUnavailableError` when too many password checks already wait (see `PasswordQueue`). */
export function hashPassword(password: string, profile: PasswordHashProfile, queue: PasswordQueue = {}): Promise<string> {
  return runPasswordWork(() => argon2.hash(password, PASSWORD_HASH_PROFILES[profile]), queue);
}

/** False for a wrong password or a malformed hash; throws `ServiceUnavailableError` as `hashPassword` does. */
export async function verifyPassword(hash: string, password: string, queue: PasswordQueue = {}): Promise<boolean> {
  return runPasswordWork(() => argon2.verify(hash, password).catch(() => false), queue);
}

const dummyHashes = new Map<PasswordHashProfile, Promise<string>>();

/**
 * Verifies against a throwaway hash with the parameters new accounts get, so a login for an
 * unknown email costs the same time as one with a wrong password and does not reveal which
 * emails exist.
 */
export async function burnPasswordCheck(password: string, profile: PasswordHashProfile, queue: PasswordQueue = {}): Promise<void> {
  let dummy = dummyHashes.get(profile);
  if (!dummy) {
    // Never refused: a refusal remembered here would refuse every later unknown-email login.
    dummy = hashPassword('dummy password that never matches anything', profile, { queueLimit: Infinity });
    dummyHashes.set(profile, dummy);
  }
  await verifyPassword(await dummy, password, queue);
}

/**
 * Stands for an account's password as it is now, without being a hash an attacker could try
 * passwords against: every new hash has a new salt, so this changes whenever the password is
 * set again (`npm run admin -- reset-password`), even to the same one.
 */
export function credentialStampOf(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url');
}
