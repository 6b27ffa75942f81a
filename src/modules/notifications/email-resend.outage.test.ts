import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { settledWithin } from '../../../test/wait.js';

/**
 * The resend route enqueues a job, and BullMQ's producer waits for its first connection without
 * bound: in a process that started while Redis was out of reach the route never answered. It
 * answers 202 now, the email pending for the reconciler.
 */
describe('the resend routes with Redis out of reach since start-up', () => {
  let app: TestApp;
  let admin: TestUser;
  let orderId: string;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres', redis: 'redis://127.0.0.1:1' });
    admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    expect(placed.status).toBe(201);
    orderId = placed.body.id as string;
    await app.db.query("UPDATE orders SET status = 'completed', updated_at = now() WHERE id = $1", [orderId]);
    await app.db.query(
      `INSERT INTO email_deliveries (order_id, kind, status, last_error) VALUES ($1, 'order_confirmation', 'undeliverable', '550 no such user')
       ON CONFLICT (order_id, kind) DO UPDATE SET status = 'undeliverable', claimed_until = NULL, claim_token = NULL`,
      [orderId],
    );
  });
  afterAll(() => app?.close());

  it('answers 202 within seconds, the email pending for the reconciler', async () => {
    const res = await settledWithin(app.http.post(`/api/orders/${orderId}/emails/resend`).set(bearer(admin)), 5000);
    expect(res?.status).toBe(202);
    const { rows } = await app.db.query<{ status: string }>('SELECT status FROM email_deliveries WHERE order_id = $1', [orderId]);
    expect(rows[0]?.status).toBe('pending');
  }, 15_000);

  it('POST /api/admin/emails/resend answers 202 within seconds too, the emails pending for the reconciler', async () => {
    await app.db.query("UPDATE email_deliveries SET status = 'undeliverable' WHERE order_id = $1", [orderId]);
    const res = await settledWithin(app.http.post('/api/admin/emails/resend').set(bearer(admin)).send({}), 5000);
    expect(res?.status).toBe(202);
    expect(res?.body).toEqual({ reopened: 1 });
    const { rows } = await app.db.query<{ status: string }>('SELECT status FROM email_deliveries WHERE order_id = $1', [orderId]);
    expect(rows[0]?.status).toBe('pending');
  }, 15_000);
});
