import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { registerAdmin, registerUser, type TestUser } from '../../test/users.js';

const basic = (user: TestUser) => `Basic ${Buffer.from(`${user.email}:${user.password}`).toString('base64')}`;

describe('queue dashboard at /admin/queues (server mode)', () => {
  let app: TestApp;
  let admin: TestUser;
  let customer: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', redis: true });
    [admin, customer] = await Promise.all([registerAdmin(app), registerUser(app)]);
  });
  afterAll(() => app.close());

  it('without credentials, then answers 401 with a Basic challenge so a browser can sign in', async () => {
    const res = await app.http.get('/admin/queues');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="admin"/);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('for a customer, by password or by token, then answers 403', async () => {
    expect((await app.http.get('/admin/queues').set('Authorization', basic(customer))).status).toBe(403);
    expect((await app.http.get('/admin/queues').set('Authorization', `Bearer ${customer.accessToken}`)).status).toBe(403);
  });

  it('for a wrong admin password, then answers 401', async () => {
    const res = await app.http.get('/admin/queues').set('Authorization', basic({ ...admin, password: 'wrong password' }));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('for an admin, then serves the dashboard and its API listing the orders queue', async () => {
    const page = await app.http.get('/admin/queues').set('Authorization', basic(admin));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const api = await app.http.get('/admin/queues/api/queues').set('Authorization', `Bearer ${admin.accessToken}`);
    expect(api.status).toBe(200);
    expect((api.body.queues as { name: string }[]).map((q) => q.name)).toContain('orders');
  });
});

describe('queue dashboard in the embedded default', () => {
  it('does not exist (the in-process queue has no dashboard)', async () => {
    const app = await startTestApp({ storage: 'pglite' });
    try {
      const admin = await registerAdmin(app);
      const res = await app.http.get('/admin/queues').set('Authorization', `Bearer ${admin.accessToken}`);
      expect(res.status).toBe(404);
    } finally {
      await app.close();
    }
  });
});
