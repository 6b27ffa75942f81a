import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { waitUntil } from '../../../test/processes.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';

describe('GET /api/admin/pipeline and GET /api/orders/:id/emails (embedded, processing on)', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  let completedOrderId: string;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', processing: true });
    admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 2 }] });
    expect(placed.status).toBe(201);
    completedOrderId = placed.body.id as string;
    await waitUntil(
      async () => (await app.http.get(`/api/orders/${completedOrderId}`).set(bearer(buyer))).body.status === 'completed',
      20_000,
      'the order to complete',
    );
  });
  afterAll(() => app.close());

  it('when an order was placed and completed, then the snapshot counts it in the window and shows no backlog', async () => {
    const res = await app.http.get('/api/admin/pipeline?minutes=5').set(bearer(admin));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      windowMinutes: 5,
      bucketSeconds: 10,
      totals: { placed: 1, completed: 1, failed: 0 },
      backlog: { pending: 0, processing: 0 },
      lag: { oldestPendingSeconds: null },
      queue: { kind: 'in-process', reachable: true, failed: 0, workers: null },
      dashboardPath: null,
    });
    expect(res.body.throughput).toHaveLength(30);
    expect(res.body.lag.p50Seconds).toBeGreaterThanOrEqual(0);
  });

  it('when a caller is not an admin or the window is out of range, then 403 / 400 problems', async () => {
    expect((await app.http.get('/api/admin/pipeline').set(bearer(buyer))).body.code).toBe('FORBIDDEN');
    expect((await app.http.get('/api/admin/pipeline')).status).toBe(401);
    const bad = await app.http.get('/api/admin/pipeline?minutes=61').set(bearer(admin));
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('minutes');
  });

  it('when the order completed, then an admin sees its confirmation email as sent', async () => {
    const emails = await waitUntil(
      async () => {
        const res = await app.http.get(`/api/orders/${completedOrderId}/emails`).set(bearer(admin));
        return res.body.items?.[0]?.status === 'sent' ? res.body.items : undefined;
      },
      20_000,
      'the confirmation email to be sent',
    );
    expect(emails).toEqual([{ kind: 'order_confirmation', status: 'sent', attempts: 1, createdAt: expect.any(String), sentAt: expect.any(String) }]);
  });

  it('when the caller is the customer or the order is unknown, then 403 / 404', async () => {
    expect((await app.http.get(`/api/orders/${completedOrderId}/emails`).set(bearer(buyer))).status).toBe(403);
    const unknown = await app.http.get('/api/orders/00000000-0000-4000-8000-000000000000/emails').set(bearer(admin));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('ORDER_NOT_FOUND');
    expect((await app.http.get('/api/orders/not-a-uuid/emails').set(bearer(admin))).body.code).toBe('ORDER_NOT_FOUND');
  });

  it('when an email is owed and unsent, or was refused for good, then the snapshot says how many and how long the oldest has waited', async () => {
    const emailsNow = async () => (await app.http.get('/api/admin/pipeline').set(bearer(admin))).body.emails as unknown;
    await waitUntil(async () => (await app.http.get(`/api/orders/${completedOrderId}/emails`).set(bearer(admin))).body.items?.[0]?.status === 'sent', 20_000, 'the email to be sent');
    expect(await emailsNow()).toEqual({ pending: 0, oldestPendingSeconds: null, undeliverable: 0 });

    // Held by a sender for the next hour, so nothing sends it meanwhile.
    await app.db.query(
      "UPDATE email_deliveries SET status = 'pending', sent_at = NULL, created_at = now() - interval '90 seconds', claimed_until = now() + interval '1 hour' WHERE order_id = $1",
      [completedOrderId],
    );
    expect(await emailsNow()).toEqual({ pending: 1, oldestPendingSeconds: expect.closeTo(90, -2) as unknown, undeliverable: 0 });

    await app.db.query("UPDATE email_deliveries SET status = 'undeliverable', claimed_until = NULL WHERE order_id = $1", [completedOrderId]);
    expect(await emailsNow()).toEqual({ pending: 0, oldestPendingSeconds: null, undeliverable: 1 });
  });

  it('when an admin resends a refused email, then it is pending again and goes out; with none refused, 409 NOTHING_TO_RESEND', async () => {
    const resend = () => app.http.post(`/api/orders/${completedOrderId}/emails/resend`).set(bearer(admin));
    // The refusal of the case above stands: set back to it (the address has been fixed since).
    await app.db.query("UPDATE email_deliveries SET status = 'undeliverable', sent_at = NULL, claimed_until = NULL, created_at = now() WHERE order_id = $1", [completedOrderId]);
    expect((await app.http.post(`/api/orders/${completedOrderId}/emails/resend`).set(bearer(buyer))).status).toBe(403);

    const res = await resend();
    expect(res.status).toBe(202);
    expect(res.body.items).toEqual([expect.objectContaining({ kind: 'order_confirmation', status: 'pending' })]);
    await waitUntil(
      async () => (await app.http.get(`/api/orders/${completedOrderId}/emails`).set(bearer(admin))).body.items?.[0]?.status === 'sent',
      20_000,
      'the reopened email to be sent',
    );

    const again = await resend();
    expect([again.status, again.body.code]).toEqual([409, 'NOTHING_TO_RESEND']);
    expect((await app.http.post('/api/orders/00000000-0000-4000-8000-000000000000/emails/resend').set(bearer(admin))).body.code).toBe('ORDER_NOT_FOUND');
  });
});
