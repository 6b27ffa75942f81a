import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { waitUntil } from '../../../test/processes.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { startReceiver, type WebhookReceiver } from '../../../test/webhook-receiver.js';

const ALL_EVENTS = ['order.placed', 'order.processing', 'order.completed', 'order.failed', 'order.cancelled'];

/** The embedded default over HTTP: the API itself sends webhooks. Private URLs are refused here. */
describe('webhooks admin API, embedded', { timeout: 120_000 }, () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  let receiver: WebhookReceiver;
  let productId: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    app = await startTestApp({ storage: 'postgres', processing: true, env: { WEBHOOK_POLL_MS: '100', WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_MAX_ATTEMPTS: '2' } });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'buyer')]);
    productId = (await createProduct(app, admin, { stock: 100 })).id;
  });
  afterAll(async () => {
    await app.close();
    await receiver.close();
  });

  it('is for admins only: 401 without a token, 403 for a customer', async () => {
    expect((await app.http.get('/api/webhooks')).status).toBe(401);
    const res = await app.http.post('/api/webhooks').set(bearer(buyer)).send({ url: 'http://93.184.216.34/hook', events: ['order.placed'] });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
  });

  it('refuses URLs that are not public http(s) with 422 WEBHOOK_URL_FORBIDDEN, and bad bodies with 400', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost/hook', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.5/', 'http://[::1]/', 'ftp://93.184.216.34/']) {
      const res = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url, events: ['order.placed'] });
      expect(res.status, url).toBe(422);
      expect(res.body.code).toBe('WEBHOOK_URL_FORBIDDEN');
    }
    const bad = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: 'not a url', events: ['order.shipped'] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['events.0', 'url']);
  });

  it.each([
    ['a URL with BEL', { url: 'http://93.184.216.34/x\u0007', events: ['order.placed'] }, 'url'],
    ['a URL with a tab inside', { url: 'http://93.184.216.34/x\ty', events: ['order.placed'] }, 'url'],
    ['a description with a C1 control character', { url: 'http://93.184.216.34/x', events: ['order.placed'], description: 'C1\u009bx' }, 'description'],
    ['a description with a line separator', { url: 'http://93.184.216.34/x', events: ['order.placed'], description: 'a\u2028b' }, 'description'],
  ])('refuses %s with 400 naming the field', async (_label, body, field) => {
    const res = await app.http.post('/api/webhooks').set(bearer(admin)).send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([field]);
  });

  it('creates (secret shown once), lists, gets, updates, rotates and deletes an endpoint', async () => {
    const created = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: 'http://93.184.216.34/hook', events: ['order.completed'], description: 'ERP' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/api/webhooks/${created.body.id}`);
    expect(created.body).toMatchObject({ url: 'http://93.184.216.34/hook', events: ['order.completed'], description: 'ERP', enabled: true });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const id = created.body.id as string;

    const got = await app.http.get(`/api/webhooks/${id}`).set(bearer(admin));
    expect(got.body).not.toHaveProperty('secret');
    expect(Object.keys(got.body).sort()).toEqual(['createdAt', 'description', 'enabled', 'events', 'id', 'updatedAt', 'url']);
    const list = await app.http.get('/api/webhooks').set(bearer(admin));
    expect(list.body.items.map((w: { id: string }) => w.id)).toContain(id);

    const patched = await app.http.patch(`/api/webhooks/${id}`).set(bearer(admin)).send({ enabled: false, events: ALL_EVENTS });
    expect(patched.body).toMatchObject({ enabled: false, events: ALL_EVENTS, url: 'http://93.184.216.34/hook' });
    expect((await app.http.patch(`/api/webhooks/${id}`).set(bearer(admin)).send({ url: 'http://127.0.0.1/' })).status).toBe(422);
    expect((await app.http.patch(`/api/webhooks/${id}`).set(bearer(admin)).send({})).status).toBe(400);

    const rotated = await app.http.post(`/api/webhooks/${id}/rotate-secret`).set(bearer(admin));
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);

    expect((await app.http.delete(`/api/webhooks/${id}`).set(bearer(admin))).status).toBe(204);
    for (const res of [
      await app.http.get(`/api/webhooks/${id}`).set(bearer(admin)),
      await app.http.delete(`/api/webhooks/${id}`).set(bearer(admin)),
      await app.http.get('/api/webhooks/not-a-uuid').set(bearer(admin)),
      await app.http.get(`/api/webhooks/${id}/deliveries`).set(bearer(admin)),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('WEBHOOK_NOT_FOUND');
    }
  });

  it('checks the address again at delivery: a private URL stored before is never contacted; the delivery fails and can be redelivered', async () => {
    const created = await app.http.post('/api/webhooks').set(bearer(admin)).send({ url: 'http://93.184.216.34/hook', events: ['order.placed'] });
    const id = created.body.id as string;
    // As if the DNS answer changed after registration: the endpoint now points at loopback.
    await app.db.query('UPDATE webhooks SET url = $2 WHERE id = $1', [id, receiver.url('/internal')]);
    const order = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId, quantity: 1 }] });
    expect(order.status).toBe(201);

    const failed = await waitUntil(async () => {
      const res = await app.http.get(`/api/webhooks/${id}/deliveries?status=failed`).set(bearer(admin));
      return res.body.items.length === 1 && res.body.items[0];
    }, 60_000, 'the delivery to fail');
    expect(failed).toMatchObject({ webhookId: id, type: 'order.placed', status: 'failed', attempts: 2, lastStatusCode: null, nextAttemptAt: null });
    expect(failed.lastError).toMatch(/refused: 127\.0\.0\.1 is a loopback address/);
    expect(receiver.on('/internal')).toHaveLength(0);
    expect((await app.http.get(`/api/webhooks/${id}/deliveries?status=succeeded`).set(bearer(admin))).body.items).toEqual([]);
    expect((await app.http.get(`/api/webhooks/${id}/deliveries?status=bogus`).set(bearer(admin))).status).toBe(400);

    const again = await app.http.post(`/api/webhooks/${id}/deliveries/${failed.id}/redeliver`).set(bearer(admin));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: failed.id, status: 'pending' });
    const missing = await app.http.post(`/api/webhooks/${id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`).set(bearer(admin));
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('DELIVERY_NOT_FOUND');
    const failedAgain = await waitUntil(async () => {
      const res = await app.http.get(`/api/webhooks/${id}/deliveries?status=failed`).set(bearer(admin));
      return res.body.items.length === 1 && res.body.items[0];
    }, 60_000, 'the redelivery to fail again');
    // One more attempt than the two it had made, and all three counted.
    expect(failedAgain).toMatchObject({ id: failed.id, status: 'failed', attempts: 3 });
    expect(receiver.on('/internal')).toHaveLength(0);
    await app.http.delete(`/api/webhooks/${id}`).set(bearer(admin));
  });
});
