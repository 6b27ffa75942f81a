import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { registerUser, type TestUser } from '../../../test/users.js';

/** Few enough that a burst is sure to go past it whatever the machine's core count. */
const QUEUE_LIMIT = 2;

describe('password hashing queue (HTTP, owasp hashes)', () => {
  let app: TestApp;
  let users: TestUser[];
  beforeAll(async () => {
    // The real parameters: each check keeps a hashing slot busy for tens of milliseconds.
    app = await startTestApp({ storage: 'pglite', env: { PASSWORD_HASH_PROFILE: 'owasp', PASSWORD_HASH_QUEUE_LIMIT: String(QUEUE_LIMIT) } });
    users = [];
    for (let i = 0; i < 4; i++) users.push(await registerUser(app, `queued-${i}`));
  });
  afterAll(() => app.close());

  it('when more logins arrive than may wait for a hashing slot, then the rest get a fast 503 with Retry-After, and a login after the burst succeeds', async () => {
    // 6 logins to each of 4 accounts: under every per-account limit, so only the queue refuses.
    const burst = users.flatMap((user) => Array.from({ length: 6 }, () => user));
    const answers = await Promise.all(
      burst.map(async (user) => {
        const started = performance.now();
        const res = await fetch(`${app.baseUrl}/api/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: user.email, password: user.password }),
        });
        const body = (await res.json()) as { code?: string };
        return { status: res.status, ms: performance.now() - started, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), code: body.code };
      }),
    );
    const refused = answers.filter((answer) => answer.status === 503);
    expect(answers.filter((answer) => answer.status !== 503).map((answer) => answer.status)).toEqual(answers.filter((answer) => answer.status !== 503).map(() => 200));
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryAfter: '2' });
      expect(answer.type).toMatch(/^application\/problem\+json/);
      // Answered without waiting for a hash: a generous deadline, not a measurement.
      expect(answer.ms).toBeLessThan(3000);
    }

    // Refusals were not failed logins: the accounts' limits are untouched, and the queue has drained.
    const after = await app.http.post('/api/auth/login').send({ email: users[0]!.email, password: users[0]!.password });
    expect(after.status).toBe(200);
  });

  it('when a burst of registrations goes past the queue, then the rest get 503 and nothing is registered for them, so they can register later', async () => {
    const burst = Array.from({ length: 12 }, (_, i) => ({ email: `burst-${i}-${Date.now()}@example.com`, password: 'correct horse battery' }));
    const statuses = await Promise.all(burst.map((body) => app.http.post('/api/auth/register').send(body).then((res) => res.status)));
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 201 || status === 503)).toBe(true);
    const refusedEmail = burst[statuses.indexOf(503)]!.email;
    const later = await app.http.post('/api/auth/register').send({ email: refusedEmail, password: 'correct horse battery' });
    expect(later.status).toBe(201);
  });
});
