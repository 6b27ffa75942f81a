import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerUser, uniqueEmail } from '../../../test/users.js';

const LIMITS = {
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
  LOGIN_MAX_FAILURES_PER_IP: '6',
  LOGIN_FAILURE_WINDOW_SECONDS: '2',
};

async function failLogins(app: TestApp, email: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) {
    statuses.push((await app.http.post('/api/auth/login').send({ email, password: 'wrong password' })).status);
  }
  return statuses;
}

describe.each([
  ['in memory (embedded)', false],
  ['in Redis (server mode)', true],
] as const)('login brute-force protection %s', (_label, redis) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', redis, env: LIMITS });
  });
  afterAll(() => app.close());

  it('when an account has failed too often, then answers 429 RATE_LIMITED with Retry-After, even for the right password, and lets it in after the window', async () => {
    const user = await registerUser(app);
    expect(await failLogins(app, user.email, 3)).toEqual([401, 401, 401]);

    const blocked = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
    expect(blocked.status).toBe(429);
    expect(blocked.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(blocked.body.code).toBe('RATE_LIMITED');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 200));
    await app.http.post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
  });

  it('counts per account case-insensitively and leaves other accounts alone', async () => {
    const victim = await registerUser(app);
    const bystander = await registerUser(app);
    await failLogins(app, victim.email.toUpperCase(), 3);
    await app.http.post('/api/auth/login').send({ email: victim.email, password: victim.password }).expect(429);
    await app.http.post('/api/auth/login').send({ email: bystander.email, password: bystander.password }).expect(200);
  });

  it('when one address fails across many accounts, then that address is limited', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const statuses = await failLogins(app, uniqueEmail('spray-a'), 2);
    statuses.push(...(await failLogins(app, uniqueEmail('spray-b'), 2)));
    statuses.push(...(await failLogins(app, uniqueEmail('spray-c'), 2)));
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    const user = await registerUser(app);
    const res = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('RATE_LIMITED');
  });
});

describe('login limits in server mode', () => {
  it('are shared by every API instance through Redis', async () => {
    const first = await startTestApp({ storage: 'postgres', redis: true, env: LIMITS });
    try {
      const second = await startTestApp({ storage: 'postgres', redis: true, env: { ...LIMITS, REDIS_PREFIX: first.config.redis.prefix } });
      try {
        const email = uniqueEmail('shared');
        await failLogins(first, email, 2);
        await failLogins(second, email, 1);
        expect((await second.http.post('/api/auth/login').send({ email, password: 'x' })).status).toBe(429);
        expect((await first.http.post('/api/auth/login').send({ email, password: 'x' })).status).toBe(429);
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  it('when Redis is down, then logins still work and each instance keeps limiting in memory', async () => {
    const app = await startTestApp({ storage: 'pglite', redis: 'redis://127.0.0.1:1', env: LIMITS });
    try {
      const user = await registerUser(app);
      await app.http.post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      expect(await failLogins(app, user.email, 3)).toEqual([401, 401, 401]);
      const started = Date.now();
      const res = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
      expect(res.status).toBe(429);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await app.close();
    }
  });
});

describe('login limits behind a proxy (TRUST_PROXY=1)', () => {
  it('count per forwarded client address, so one abuser does not lock out everyone behind the proxy', async () => {
    const app = await startTestApp({ storage: 'pglite', env: { ...LIMITS, TRUST_PROXY: '1' } });
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
});
