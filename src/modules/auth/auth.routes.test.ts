import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_KINDS, startTestApp, type TestApp } from '../../../test/harness.js';
import { createProduct } from '../../../test/catalog.js';
import { bearer, registerAdmin, registerUser, uniqueEmail } from '../../../test/users.js';

const PROBLEM = /^application\/problem\+json/;

describe.each(STORAGE_KINDS)('auth routes on %s', (storage) => {
  let app: TestApp;
  beforeAll(async () => {
    // The test suites' cheap hash profile (~30 times less CPU a hash); what the real parameters
    // store and check is proven once, below, on PostgreSQL (hashing does not depend on storage).
    app = await startTestApp({ storage });
  });
  afterAll(() => app.close());

  describe('POST /api/auth/register', () => {
    it('creates a customer and answers 201 with the user and a token pair', async () => {
      const email = uniqueEmail('new');
      const res = await app.http.post('/api/auth/register').send({ email, password: 'correct horse', name: 'Ada' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        user: { email, name: 'Ada', role: 'customer' },
        tokenType: 'Bearer',
        expiresIn: 900,
      });
      expect(Object.keys(res.body.user as object).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'role']);
      expect(res.body.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(res.body.refreshToken).toMatch(/^[\w-]{43}$/);
    });

    it('when the client sends a role, then it is ignored and the account is a customer', async () => {
      const res = await app.http
        .post('/api/auth/register')
        .send({ email: uniqueEmail('sneaky'), password: 'password123', name: 'Eve', role: 'admin', id: '00000000-0000-0000-0000-000000000000' });
      expect(res.status).toBe(201);
      expect(res.body.user.role).toBe('customer');
      expect(res.body.user.id).not.toBe('00000000-0000-0000-0000-000000000000');
    });

    it('when the email is taken in any letter case, then answers 409 EMAIL_TAKEN', async () => {
      const email = uniqueEmail('dup');
      await app.http.post('/api/auth/register').send({ email, password: 'password123', name: 'One' }).expect(201);
      const res = await app.http.post('/api/auth/register').send({ email: email.toUpperCase(), password: 'password123', name: 'Two' });
      expect(res.status).toBe(409);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body).toMatchObject({ status: 409, code: 'EMAIL_TAKEN' });
    });

    it('when the same email registers concurrently, then exactly one account is created', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        Array.from({ length: 5 }, () => app.http.post('/api/auth/register').send({ email, password: 'password123', name: 'R' })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
      const { rows } = await app.db.query('SELECT id FROM users WHERE lower(email) = lower($1)', [email]);
      expect(rows).toHaveLength(1);
    });

    it('accepts a 128-character password and uses all of it', async () => {
      const email = uniqueEmail('long');
      const password = `${'x'.repeat(127)}A`;
      await app.http.post('/api/auth/register').send({ email, password, name: 'Long' }).expect(201);
      await app.http.post('/api/auth/login').send({ email, password }).expect(200);
      const truncated = await app.http.post('/api/auth/login').send({ email, password: `${'x'.repeat(127)}B` });
      expect(truncated.status).toBe(401);
    });
  });

  describe('POST /api/auth/login', () => {
    it('answers 200 with the same shape as register, emails compared case-insensitively', async () => {
      const user = await registerUser(app);
      const res = await app.http.post('/api/auth/login').send({ email: user.email.toUpperCase(), password: user.password });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ user: { id: user.id, role: 'customer' }, tokenType: 'Bearer', expiresIn: 900 });
      expect(res.body.refreshToken).not.toBe(user.refreshToken);
    });

    it('answers the same 401 INVALID_CREDENTIALS for an unknown email and a wrong password', async () => {
      const user = await registerUser(app);
      const wrong = await app.http.post('/api/auth/login').send({ email: user.email, password: 'wrong password' });
      const unknown = await app.http.post('/api/auth/login').send({ email: uniqueEmail('ghost'), password: 'wrong password' });
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('INVALID_CREDENTIALS');
      }
      expect(wrong.body.detail).toBe(unknown.body.detail);
    });

  });

  describe('GET /api/auth/me', () => {
    it('answers 200 with the caller', async () => {
      const user = await registerUser(app);
      const res = await app.http.get('/api/auth/me').set(bearer(user));
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: user.id, email: user.email, role: 'customer' });
    });

    it('when the account no longer exists, then answers 401', async () => {
      const user = await registerUser(app);
      await app.db.query('DELETE FROM users WHERE id = $1', [user.id]);
      const res = await app.http.get('/api/auth/me').set(bearer(user));
      expect(res.status).toBe(401);
    });

    it('when the account no longer exists, then its token places no order: 401, with or without an Idempotency-Key', async () => {
      const admin = await registerAdmin(app);
      const product = await createProduct(app, admin, { stock: 5 });
      const user = await registerUser(app);
      await app.db.query('DELETE FROM users WHERE id = $1', [user.id]);
      for (const key of [undefined, 'gone-account-1']) {
        const request = app.http.post('/api/orders').set(bearer(user));
        if (key) void request.set('Idempotency-Key', key);
        const res = await request.send({ items: [{ productId: product.id, quantity: 1 }] });
        expect([res.status, res.body.code, res.headers['www-authenticate']]).toEqual([401, 'UNAUTHENTICATED', 'Bearer error="invalid_token"']);
        expect(res.body.detail).toBe('The account of this access token no longer exists');
      }
      const stock = await app.http.get(`/api/products/${product.id}`);
      expect(stock.body.available).toBe(5);
    });
  });

  describe('admin rights', () => {
    it('when an admin is demoted, then its unexpired token loses admin rights at once: no admin route, no other user\'s order, and a refresh signs a customer token', async () => {
      const ops = await registerAdmin(app);
      const customer = await registerUser(app);
      const product = await createProduct(app, ops, { stock: 5 });
      const order = await app.http.post('/api/orders').set(bearer(customer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(order.status).toBe(201);
      expect((await app.http.get(`/api/orders/${order.body.id}`).set(bearer(ops))).status).toBe(200);

      await app.db.query("UPDATE users SET role = 'customer' WHERE id = $1", [ops.id]);
      const create = await app.http.post('/api/products').set(bearer(ops)).send({ sku: `DEMOTED-${ops.id.slice(0, 8)}`, name: 'No', priceCents: 100, stock: 1 });
      expect([create.status, create.body.code]).toEqual([403, 'FORBIDDEN']);
      expect((await app.http.get(`/api/orders/${order.body.id}`).set(bearer(ops))).status).toBe(404);
      expect((await app.http.get('/api/admin/pipeline').set(bearer(ops))).status).toBe(403);

      const refreshed = await app.http.post('/api/auth/refresh').send({ refreshToken: ops.refreshToken });
      expect(refreshed.status).toBe(200);
      expect((await app.http.post('/api/products').set(bearer({ accessToken: refreshed.body.accessToken as string })).send({ sku: 'X-1', name: 'No', priceCents: 1, stock: 1 })).status).toBe(403);
    });

    it('when an admin account is deleted, then its unexpired token gets 401 on admin routes', async () => {
      const ops = await registerAdmin(app);
      expect((await app.http.get('/api/admin/pipeline').set(bearer(ops))).status).toBe(200);
      await app.db.query('DELETE FROM users WHERE id = $1', [ops.id]);
      const res = await app.http.get('/api/admin/pipeline').set(bearer(ops));
      expect([res.status, res.body.detail]).toEqual([401, 'The account of this access token no longer exists']);
    });
  });

  describe('refresh and logout', () => {
    it('rotates: a refresh returns a new pair, and the new access token works', async () => {
      const user = await registerUser(app);
      const res = await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body as object).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
      expect(res.body.refreshToken).not.toBe(user.refreshToken);
      await app.http.get('/api/auth/me').set(bearer(res.body as { accessToken: string })).expect(200);
      const stored = await app.db.query<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens WHERE user_id = $1', [user.id]);
      expect(stored.rows.map((r) => r.token_hash)).not.toContain(user.refreshToken);
      expect(stored.rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash))).toBe(true);
    });

    it('when a rotated token is presented again, then answers 401 and revokes the whole family, newest included', async () => {
      const user = await registerUser(app);
      const first = await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
      const second = await app.http.post('/api/auth/refresh').send({ refreshToken: first.body.refreshToken }).expect(200);

      const replay = await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken });
      expect(replay.status).toBe(401);
      expect(replay.body.code).toBe('INVALID_REFRESH_TOKEN');

      const newest = await app.http.post('/api/auth/refresh').send({ refreshToken: second.body.refreshToken });
      expect(newest.status).toBe(401);
      expect(newest.body.code).toBe('INVALID_REFRESH_TOKEN');
    });

    it('theft detection revokes only that login; another login of the same user keeps working', async () => {
      const user = await registerUser(app);
      const otherLogin = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
      await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);

      await app.http.post('/api/auth/refresh').send({ refreshToken: otherLogin.body.refreshToken }).expect(200);
    });

    it('when the same token is refreshed concurrently, then at most one succeeds and the family ends revoked', async () => {
      const user = await registerUser(app);
      const results = await Promise.all(
        Array.from({ length: 4 }, () => app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken })),
      );
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeLessThanOrEqual(1);
      expect(results.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(3);
      for (const winner of ok) {
        await app.http.post('/api/auth/refresh').send({ refreshToken: winner.body.refreshToken }).expect(401);
      }
    });

    it('answers 401 INVALID_REFRESH_TOKEN for an unknown or expired token', async () => {
      const unknown = await app.http.post('/api/auth/refresh').send({ refreshToken: 'A'.repeat(43) });
      expect(unknown.status).toBe(401);
      expect(unknown.body.code).toBe('INVALID_REFRESH_TOKEN');

      const user = await registerUser(app);
      await app.db.query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1", [user.id]);
      const expired = await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken });
      expect(expired.status).toBe(401);
      expect(expired.body.code).toBe('INVALID_REFRESH_TOKEN');
    });

    it('logout answers 204, revokes that login only, and is idempotent', async () => {
      const user = await registerUser(app);
      const otherLogin = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password }).expect(200);
      const rotated = await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);

      await app.http.post('/api/auth/logout').send({ refreshToken: rotated.body.refreshToken }).expect(204);
      await app.http.post('/api/auth/logout').send({ refreshToken: rotated.body.refreshToken }).expect(204);
      await app.http.post('/api/auth/logout').send({ refreshToken: 'never-issued' }).expect(204);

      await app.http.post('/api/auth/refresh').send({ refreshToken: rotated.body.refreshToken }).expect(401);
      await app.http.post('/api/auth/refresh').send({ refreshToken: otherLogin.body.refreshToken }).expect(200);
    });

    it('a refresh token is never accepted as an access token', async () => {
      const user = await registerUser(app);
      const res = await app.http.get('/api/auth/me').set('Authorization', `Bearer ${user.refreshToken}`);
      expect(res.status).toBe(401);
    });
  });

  describe('POST /api/auth/password', () => {
    const change = (user: { accessToken: string }, body: object) => app.http.post('/api/auth/password').set(bearer(user)).send(body);

    it('when the current password is right, then the password changes, every session is revoked and the caller gets a new one', async () => {
      const user = await registerUser(app, 'changer');
      const otherDevice = await app.http.post('/api/auth/login').send({ email: user.email, password: user.password });
      const res = await change(user, { currentPassword: user.password, newPassword: 'a brand new password' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ user: { id: user.id, email: user.email, role: 'customer' }, tokenType: 'Bearer', expiresIn: 900 });
      expect(res.body.refreshToken).toMatch(/^[\w-]{43}$/);

      // Every other session (this one's old family and another login's) is signed out…
      for (const refreshToken of [user.refreshToken, otherDevice.body.refreshToken as string]) {
        expect((await app.http.post('/api/auth/refresh').send({ refreshToken })).body.code).toBe('INVALID_REFRESH_TOKEN');
      }
      // …the caller's new one goes on, and only the new password signs in.
      expect((await app.http.post('/api/auth/refresh').send({ refreshToken: res.body.refreshToken as string })).status).toBe(200);
      expect((await app.http.get('/api/auth/me').set(bearer(res.body as { accessToken: string }))).status).toBe(200);
      expect((await app.http.post('/api/auth/login').send({ email: user.email, password: user.password })).status).toBe(401);
      expect((await app.http.post('/api/auth/login').send({ email: user.email, password: 'a brand new password' })).status).toBe(200);
    });

    it('when the current password is wrong, then 401 INVALID_CREDENTIALS (the token is fine), counted as a failed login until 429', async () => {
      const user = await registerUser(app, 'guesser');
      const wrong = await change(user, { currentPassword: 'not the password', newPassword: 'a brand new password' });
      expect([wrong.status, wrong.body.code, wrong.headers['www-authenticate']]).toEqual([401, 'INVALID_CREDENTIALS', 'Bearer']);
      expect(wrong.headers['content-type']).toMatch(PROBLEM);
      for (let i = 1; i < 10; i++) expect((await change(user, { currentPassword: `guess ${i}`, newPassword: 'a brand new password' })).status).toBe(401);
      const limited = await change(user, { currentPassword: user.password, newPassword: 'a brand new password' });
      expect([limited.status, limited.body.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Nothing changed: the old password and the old session still work.
      expect((await app.http.post('/api/auth/refresh').send({ refreshToken: user.refreshToken })).status).toBe(200);
    });

    it.each([
      ['a new password that is too short', { currentPassword: 'whatever1', newPassword: 'short' }, 'newPassword'],
      ['a new password that is too long', { currentPassword: 'whatever1', newPassword: 'x'.repeat(129) }, 'newPassword'],
      ['no current password', { newPassword: 'a brand new password' }, 'currentPassword'],
    ])('when given %s, then answers 400 VALIDATION_FAILED naming the field', async (_label, body, field) => {
      const user = await registerUser(app, 'invalid');
      const res = await change(user, body);
      expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
    });

    it('when two changes race with the same current password, then one wins and the other is told the current password is wrong', async () => {
      const user = await registerUser(app, 'racer');
      const answers = await Promise.all(['first new password', 'second new password'].map((newPassword) => change(user, { currentPassword: user.password, newPassword })));
      expect(answers.map((res) => res.status).sort()).toEqual([200, 401]);
      const winner = answers[answers[0]!.status === 200 ? 0 : 1]!;
      const newPassword = winner === answers[0] ? 'first new password' : 'second new password';
      expect((await app.http.post('/api/auth/login').send({ email: user.email, password: newPassword })).status).toBe(200);
    });

    it('without an access token, then 401 UNAUTHENTICATED', async () => {
      const res = await app.http.post('/api/auth/password').send({ currentPassword: 'whatever1', newPassword: 'a brand new password' });
      expect([res.status, res.body.code]).toEqual([401, 'UNAUTHENTICATED']);
    });
  });

  // Refused before any query, whatever the database: once, not per database.
  if (storage === 'postgres') {
    describe('input refused before any query', () => {
      it.each([
        ['a malformed email', { email: 'not-an-email', password: 'password123', name: 'X' }, 'email'],
        ['a 7-character password', { email: uniqueEmail(), password: '1234567', name: 'X' }, 'password'],
        ['a 129-character password', { email: uniqueEmail(), password: 'p'.repeat(129), name: 'X' }, 'password'],
        ['an empty name', { email: uniqueEmail(), password: 'password123', name: '' }, 'name'],
        ['a 101-character name', { email: uniqueEmail(), password: 'password123', name: 'n'.repeat(101) }, 'name'],
        ['a missing password', { email: uniqueEmail(), name: 'X' }, 'password'],
        ['a numeric name', { email: uniqueEmail(), password: 'password123', name: 42 }, 'name'],
      ])('when given %s, then answers 400 VALIDATION_FAILED naming the field', async (_label, body, field) => {
        const res = await app.http.post('/api/auth/register').send(body);
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('VALIDATION_FAILED');
        expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
      });

      it('when the body is missing fields, then answers 400', async () => {
        const res = await app.http.post('/api/auth/login').send({ email: uniqueEmail() });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      });

      it.each([
        ['no Authorization header', undefined],
        ['a malformed header', 'Token abc'],
        ['a garbage token', 'Bearer abc.def.ghi'],
      ])('with %s, then answers 401 UNAUTHENTICATED', async (_label, header) => {
        const req = app.http.get('/api/auth/me');
        if (header) void req.set('Authorization', header);
        const res = await req;
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(PROBLEM);
        expect(res.body.code).toBe('UNAUTHENTICATED');
      });
    });
  }
});

describe('auth routes with the argon2id parameters production uses (OWASP), on PostgreSQL', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', env: { PASSWORD_HASH_PROFILE: 'owasp' } });
  });
  afterAll(() => app.close());

  it('registration stores an argon2id hash with m=19456, t=2, p=1; login accepts the password and refuses another or an unknown email alike', async () => {
    const email = uniqueEmail('owasp');
    const res = await app.http.post('/api/auth/register').send({ email, password: 'correct horse', name: 'Ada' });
    expect(res.status).toBe(201);
    const stored = await app.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [res.body.user.id]);
    expect(stored.rows[0]?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await app.http.post('/api/auth/login').send({ email, password: 'correct horse' })).status).toBe(200);
    const wrong = await app.http.post('/api/auth/login').send({ email, password: 'correct horsf' });
    const unknown = await app.http.post('/api/auth/login').send({ email: uniqueEmail('ghost'), password: 'correct horse' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body).toEqual(unknown.body);
  });
});
