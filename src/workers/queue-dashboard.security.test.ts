import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_PASSWORD_HASH_PROFILE, type TestApp } from '../../test/harness.js';
import { resetPassword } from '../modules/auth/index.js';
import { registerAdmin, type TestUser } from '../../test/users.js';

const basic = (email: string, password: string) => `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;

describe('queue dashboard hardening (server mode)', () => {
  let app: TestApp;
  let admin: TestUser;
  let host: string;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', redis: true, env: { LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: '3' } });
    admin = await registerAdmin(app);
    host = new URL(app.baseUrl).host;
  });
  afterAll(() => app.close());

  // Bull Board's "clean all completed jobs": a state-changing call of its API.
  const cleanCompleted = '/admin/queues/api/queues/orders/clean/completed';

  it.each([
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ['an Origin of another site', { Origin: 'https://evil.example' }],
    ['Origin: null (a sandboxed form)', { Origin: 'null' }],
  ])('when a change comes with %s, even with the admin signed in, then 403 and nothing runs', async (_label, headers) => {
    const res = await app.http.put(cleanCompleted).set('Authorization', basic(admin.email, admin.password)).set(headers);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
    const post = await app.http.post('/admin/queues/api/queues/orders/add').set(headers).set('Authorization', basic(admin.email, admin.password)).send({ name: 'x' });
    expect(post.status).toBe(403);
  });

  it('when a change comes from the dashboard itself (same origin) or a script, then it is served', async () => {
    const sameOrigin = await app.http
      .put(cleanCompleted)
      .set('Authorization', basic(admin.email, admin.password))
      .set({ Origin: `http://${host}`, 'Sec-Fetch-Site': 'same-origin' });
    expect(sameOrigin.status).toBeLessThan(400);
    const script = await app.http.put(cleanCompleted).set('Authorization', `Bearer ${admin.accessToken}`);
    expect(script.status).toBeLessThan(400);
  });

  it('when reading from another site (GET), then it is served: reads change nothing and the browser keeps the answer', async () => {
    const res = await app.http.get('/admin/queues/api/queues').set('Authorization', basic(admin.email, admin.password)).set('Sec-Fetch-Site', 'cross-site');
    expect(res.status).toBe(200);
  });

  it('when Basic credentials hold a NUL, then 401 with a challenge, never 500', async () => {
    for (const [email, password] of [[`${admin.email}\u0000`, admin.password], [admin.email, `x\u0000y`]] as const) {
      const res = await app.http.get('/admin/queues').set('Authorization', basic(email, password));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    }
  });

  it('its sign-in is limited like login: past the limit even the right password gets 429 with Retry-After', async () => {
    const victim = await registerAdmin(app);
    for (let i = 0; i < 3; i++) {
      expect((await app.http.get('/admin/queues').set('Authorization', basic(victim.email, `wrong ${i}`))).status).toBe(401);
    }
    const res = await app.http.get('/admin/queues').set('Authorization', basic(victim.email, victim.password));
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('an address that only PostgreSQL lower-cases onto the account ("İ" for "i") neither signs in nor gets a fresh count', async () => {
    const victim = await registerAdmin(app);
    const variant = victim.email.replace('i', '\u0130');
    // The case this guards: the database finds the account under the variant (a UTF-8 collation).
    const { rows } = await app.db.query<{ same: boolean }>('SELECT lower($1) = lower($2) AS same', [variant, victim.email]);
    expect(rows[0]!.same).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect((await app.http.get('/admin/queues').set('Authorization', basic(victim.email, `wrong ${i}`))).status).toBe(401);
    }
    const res = await app.http.get('/admin/queues').set('Authorization', basic(variant, victim.password));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('when a signed-in admin is demoted, then its remembered Basic sign-in and its token are refused at once; deleted, it must sign in again', async () => {
    const ops = await registerAdmin(app);
    expect((await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, ops.password))).status).toBe(200);
    await app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [ops.id]);
    expect((await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, ops.password))).status).toBe(403);
    expect((await app.http.get('/admin/queues/api/queues').set('Authorization', `Bearer ${ops.accessToken}`)).status).toBe(403);
    await app.db.query('DELETE FROM users WHERE id = $1', [ops.id]);
    const gone = await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, ops.password));
    expect([gone.status, gone.headers['www-authenticate']]).toEqual([401, expect.stringMatching(/^Basic /)]);
  });

  it('when a signed-in admin’s password is reset (npm run admin -- reset-password), then its remembered Basic sign-in is refused at once; the new password works', async () => {
    const ops = await registerAdmin(app);
    expect((await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, ops.password))).status).toBe(200);
    expect(await resetPassword(app.db, ops.email, 'a brand new password', TEST_PASSWORD_HASH_PROFILE)).toBe(true);
    const old = await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, ops.password));
    expect([old.status, old.body.code, old.headers['www-authenticate']]).toEqual([401, 'INVALID_CREDENTIALS', expect.stringMatching(/^Basic /)]);
    expect((await app.http.get('/admin/queues/api/queues').set('Authorization', basic(ops.email, 'a brand new password'))).status).toBe(200);
  });
});
