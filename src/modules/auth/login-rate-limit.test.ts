import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, TEST_PASSWORD_HASH_PROFILE, testRedisPrefix, waitUntilReady, type TestApp, type TestDatabase } from '../../../test/harness.js';
import { REDIS_URL } from '../../../test/global-setup.js';
import { registerUser, uniqueEmail } from '../../../test/users.js';
import { createLogger } from '../../platform/logger.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import { createRedis, type Redis } from '../../platform/redis.js';
import { createAuthService, type AuthService } from './auth.service.js';
import { createAccessTokens } from './tokens.js';

const WINDOW_SECONDS = 900;
const LIMITS = { perAccountAndAddress: 10, perAccount: 30, perAddress: 50 };

/** Time for the limiters, moved by the test instead of waited for. */
function manualClock() {
  let now = Date.now();
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

type Clock = ReturnType<typeof manualClock>;

/** The auth service as the app builds it, with its own limiters on `redis` (or in memory) and `clock`. */
function authService(db: TestDatabase['db'], clock: Clock, redis?: { client: Redis; prefix: string }): AuthService {
  const limiter = (name: string, points: number) => createRateLimiter({ name, points, windowSeconds: WINDOW_SECONDS }, redis, clock.now);
  return createAuthService({
    db,
    accessTokens: createAccessTokens({ secret: 's'.repeat(48), issuer: 'test', audience: 'test', ttlSeconds: 900 }),
    refreshTtlSeconds: 3600,
    // The limits are taken before any hash is checked, so the hash's cost does not change what they let through.
    passwordHashProfile: TEST_PASSWORD_HASH_PROFILE,
    // Bursts here go past the hashing queue's bound (password-queue.e2e.test.ts); these tests count the limits alone.
    passwordHashQueueLimit: Infinity,
    loginLimits: {
      perAccountAndAddress: limiter('login-account-address', LIMITS.perAccountAndAddress),
      perAccount: limiter('login-account', LIMITS.perAccount),
      perAddress: limiter('login-address', LIMITS.perAddress),
    },
    logger: createLogger({ level: 'error', format: 'json', silent: true }),
  });
}

const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled' ? 'OK' : ((outcome.reason as { code?: string }).code ?? String(outcome.reason));

function tally(outcomes: PromiseSettledResult<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[codeOf(outcome)] = (counts[codeOf(outcome)] ?? 0) + 1;
  return counts;
}

describe('login limits (auth service on PostgreSQL, limits in Redis and in memory)', () => {
  let database: TestDatabase;
  let redis: Redis;
  const prefix = testRedisPrefix();
  let password: string;
  let email: () => Promise<string>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    redis = createRedis(REDIS_URL, 'request');
    await waitUntilReady(redis);
    password = 'the right password';
    const registrar = authService(database.db, manualClock());
    email = async () => {
      const address = uniqueEmail('limited');
      await registrar.register({ email: address, password, name: 'L' }, '192.0.2.1');
      return address;
    };
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await database.drop();
  });

  describe.each([
    ['in Redis', true],
    ['in memory', false],
  ] as const)('%s', (_label, shared) => {
    const scope = () => (shared ? { client: redis, prefix: `${prefix}:${randomBytes(3).toString('hex')}` } : undefined);

    it('when 200 wrong passwords arrive at once, then at most 10 are checked and the rest answer RATE_LIMITED', async () => {
      const auth = authService(database.db, manualClock(), scope());
      const account = await email();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, () => auth.login({ email: account, password: 'wrong password' }, '198.51.100.1')),
      );
      expect(tally(outcomes)).toEqual({ INVALID_CREDENTIALS: 10, RATE_LIMITED: 190 });
    });

    it('when an account is locked for one address, then the lockout ends by itself when the window has passed', async () => {
      const clock = manualClock();
      const auth = authService(database.db, clock, scope());
      const account = await email();
      await Promise.allSettled(Array.from({ length: 10 }, () => auth.login({ email: account, password: 'wrong' }, '198.51.100.2')));
      const locked = await auth.login({ email: account, password }, '198.51.100.2').catch((error: unknown) => error);
      expect(locked).toMatchObject({ code: 'RATE_LIMITED' });
      expect((locked as { retryAfterSeconds: number }).retryAfterSeconds).toBe(WINDOW_SECONDS);

      clock.advance(WINDOW_SECONDS * 1000 - 1000);
      expect(await auth.login({ email: account, password }, '198.51.100.2').catch((error: unknown) => error)).toMatchObject({
        code: 'RATE_LIMITED',
        retryAfterSeconds: 1,
      });
      clock.advance(1000);
      await expect(auth.login({ email: account, password }, '198.51.100.2')).resolves.toMatchObject({ user: { email: account } });
    });

    it('when an attacker locks an account from their address, then its owner still signs in from another', async () => {
      const auth = authService(database.db, manualClock(), scope());
      const account = await email();
      await Promise.allSettled(Array.from({ length: 20 }, () => auth.login({ email: account, password: 'guess' }, '203.0.113.66')));
      await expect(auth.login({ email: account, password }, '203.0.113.66')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(auth.login({ email: account, password }, '192.0.2.200')).resolves.toMatchObject({ user: { email: account } });
    });

    it('when failures come from many addresses, then the account-wide limit (30 here, 100 by default) stops them', async () => {
      const auth = authService(database.db, manualClock(), scope());
      const account = await email();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) => auth.login({ email: account, password: 'guess' }, `203.0.113.${i}`)),
      );
      expect(tally(outcomes)).toEqual({ INVALID_CREDENTIALS: 30, RATE_LIMITED: 30 });
    });

    it('when one address fails across many accounts, then the per-address limit stops it', async () => {
      const auth = authService(database.db, manualClock(), scope());
      const outcomes = await Promise.allSettled(
        Array.from({ length: 80 }, (_, i) => auth.login({ email: `nobody-${i}-${randomBytes(3).toString('hex')}@example.com`, password: 'guess' }, '198.51.100.77')),
      );
      expect(tally(outcomes)).toEqual({ INVALID_CREDENTIALS: 50, RATE_LIMITED: 30 });
    });

    it('successful logins do not count as failures', async () => {
      const auth = authService(database.db, manualClock(), scope());
      const account = await email();
      for (let i = 0; i < 15; i++) await auth.login({ email: account, password }, '198.51.100.3');
      await Promise.allSettled(Array.from({ length: 9 }, () => auth.login({ email: account, password: 'wrong' }, '198.51.100.3')));
      await expect(auth.login({ email: account, password }, '198.51.100.3')).resolves.toBeDefined();
    });
  });

  it('when two instances share Redis, then together they check at most 10 of 200 parallel guesses', async () => {
    const shared = { client: redis, prefix: `${prefix}:pair` };
    const [one, two] = [authService(database.db, manualClock(), shared), authService(database.db, manualClock(), shared)];
    const account = await email();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? one : two).login({ email: account, password: 'wrong password' }, '198.51.100.9')),
    );
    expect(tally(outcomes)).toEqual({ INVALID_CREDENTIALS: 10, RATE_LIMITED: 190 });
  });
});

const HTTP_LIMITS = {
  LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: '10',
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '100',
  LOGIN_MAX_FAILURES_PER_IP: '100',
};

describe('login limits over HTTP with two API instances sharing Redis', () => {
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    first = await startTestApp({ storage: 'postgres', redis: true, env: HTTP_LIMITS });
    second = await startTestApp({ storage: 'postgres', redis: true, database: first.database, env: { ...HTTP_LIMITS, REDIS_PREFIX: first.config.redis.prefix } });
  });
  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('when 200 wrong passwords hit one account across both, then 10 answer 401 and 190 answer 429 with Retry-After', async () => {
    const user = await registerUser(first);
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fetch(`${(i % 2 ? first : second).baseUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: user.email, password: 'wrong password' }),
      })),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(190);
    const limited = responses.find((res) => res.status === 429)!;
    expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { code: string }).code).toBe('RATE_LIMITED');
  });
});

describe('login limits when Redis is down', () => {
  it('then logins still work and each instance keeps limiting in memory, answering at once', async () => {
    const app = await startTestApp({ storage: 'postgres', redis: 'redis://127.0.0.1:1', env: { LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: '3' } });
    try {
      const user = await registerUser(app);
      await app.http.post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      for (let i = 0; i < 3; i++) await app.http.post('/api/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401);
      const res = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
      expect(res.status).toBe(429);
      expect(res.body.code).toBe('RATE_LIMITED');
    } finally {
      await app.close();
    }
  });
});

describe('login limits behind a proxy (TRUST_PROXY=1)', () => {
  it('count per forwarded client address, so one abuser does not lock out everyone behind the proxy', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { LOGIN_MAX_FAILURES_PER_IP: '6', TRUST_PROXY: '1' } });
    try {
      const fail = (address: string) =>
        app.http.post('/api/auth/login').set('X-Forwarded-For', address).send({ email: uniqueEmail('spray'), password: 'wrong password' });
      for (let i = 0; i < 6; i++) expect((await fail('203.0.113.7')).status).toBe(401);
      expect((await fail('203.0.113.7')).status).toBe(429);
      const user = await registerUser(app);
      const other = await app.http.post('/api/auth/login').set('X-Forwarded-For', '198.51.100.9').send({ email: user.email, password: user.password });
      expect(other.status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('count an IPv6 client by its /64, so one host cannot take a fresh address for every guess', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { LOGIN_MAX_FAILURES_PER_IP: '6', TRUST_PROXY: '1' } });
    try {
      const fail = (address: string) =>
        app.http.post('/api/auth/login').set('X-Forwarded-For', address).send({ email: uniqueEmail('spray'), password: 'wrong password' });
      // One host's /64: each guess from another of its 2^64 addresses.
      for (let i = 1; i <= 6; i++) expect((await fail(`2001:db8:7:1::${i.toString(16)}`)).status).toBe(401);
      expect((await fail('2001:db8:7:1:ffff:ffff:ffff:ffff')).status).toBe(429);
      // The neighbouring /64 is another client.
      expect((await fail('2001:db8:7:2::1')).status).toBe(401);
      // An IPv4 client seen through an IPv6 socket is the same client as over IPv4.
      for (let i = 0; i < 6; i++) expect((await fail('::ffff:203.0.113.8')).status).toBe(401);
      expect((await fail('203.0.113.8')).status).toBe(429);
    } finally {
      await app.close();
    }
  });
});
