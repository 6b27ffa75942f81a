import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, STORAGE_KINDS, type StorageKind, type TestApp } from '../../../test/harness.js';
import { startSmtp, type TestSmtp } from '../../../test/smtp.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { createLogger } from '../../platform/logger.js';
import { createEmailDeliveriesService } from './email-deliveries.service.js';

/**
 * After a long outage of the shop's own mail server every email of those days is given up
 * (`undeliverable`); `POST /api/admin/emails/resend` sends them again in bulk instead of one order
 * at a time. The real app over HTTP against a real SMTP server, its own jobs sending (no
 * reconciler runs here): on PGlite with the in-process queue, on PostgreSQL with Redis and a
 * BullMQ worker.
 */
describe.each(STORAGE_KINDS)('POST /api/admin/emails/resend on %s', (storage: StorageKind) => {
  let app: TestApp;
  let smtp: TestSmtp;
  let admin: TestUser;
  let buyer: TestUser;
  let refusing = true;

  beforeAll(async () => {
    smtp = await startSmtp({ refuseRecipient: (address) => (refusing && address.startsWith('gone') ? '550 5.1.1 User unknown' : undefined) });
    app = await startTestApp({ storage, env: { SMTP_URL: smtp.url }, ...(storage === 'postgres' ? { redis: true, worker: true } : {}) });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'gone')]);
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.stop();
  });

  const statuses = async (orderIds: readonly string[]) =>
    (await app.db.query<{ status: string }>("SELECT status FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND kind = 'order_confirmation'", [orderIds])).rows.map(
      (row) => row.status,
    );
  const allSent = async (orderIds: readonly string[]) => {
    const now = await statuses(orderIds);
    return now.length === orderIds.length && now.every((status) => status === 'sent');
  };
  const messagesFor = (orderId: string) => smtp.messages.filter((message) => message.subject?.includes(orderId)).length;
  const resendAll = (body?: object) => {
    const request = app.http.post('/api/admin/emails/resend').set(bearer(admin));
    return body === undefined ? request : request.send(body);
  };

  /** Completed orders whose confirmation the mail server refused for good. */
  async function refusedOrders(count: number): Promise<string[]> {
    const product = await createProduct(app, admin, { stock: count });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(placed.status).toBe(201);
      ids.push(placed.body.id as string);
    }
    await app.deps.orders.transitionOrders(ids, 'processing');
    await app.deps.orders.transitionOrders(ids, 'completed');
    refusing = true;
    await app.handlers['send-order-email']!.run({ orderIds: ids, kind: 'order_confirmation' } as never, { attempt: 1, maxAttempts: 25 });
    expect(await statuses(ids)).toEqual(ids.map(() => 'undeliverable'));
    return ids;
  }

  it('when the mail server is fixed, then every refused email is pending again and sent exactly once; a second call answers 409 NOTHING_TO_RESEND', async () => {
    const ids = await refusedOrders(4);
    refusing = false;

    const res = await resendAll();
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ reopened: 4 });
    await waitUntil(() => allSent(ids), 20_000, 'the reopened emails to be sent');
    expect(ids.map(messagesFor)).toEqual([1, 1, 1, 1]);

    const again = await resendAll({});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('NOTHING_TO_RESEND');
  });

  it('when `since` and `until` are given, then only the emails owed in that window are sent again', async () => {
    const before = await refusedOrders(2);
    const during = await refusedOrders(2);
    await app.db.query("UPDATE email_deliveries SET created_at = now() - interval '3 days' WHERE order_id = ANY($1::uuid[])", [before]);
    refusing = false;
    const dayAgo = new Date(Date.now() - 24 * 3600_000).toISOString();

    const res = await resendAll({ since: dayAgo });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ reopened: 2 });
    await waitUntil(() => allSent(during), 20_000, "the window's emails to be sent");
    expect(await statuses(before)).toEqual(['undeliverable', 'undeliverable']);
    expect(before.map(messagesFor)).toEqual([0, 0]);

    const older = await resendAll({ until: dayAgo });
    expect(older.body).toEqual({ reopened: 2 });
    await waitUntil(() => allSent(before), 20_000, 'the older emails to be sent');
    expect([...before, ...during].map(messagesFor)).toEqual([1, 1, 1, 1]);
  });

  it('when there are more refused emails than a page, then each page is reopened and every email is sent once', async () => {
    const ids = await refusedOrders(5);
    refusing = false;
    const logger = createLogger({ level: 'error', format: 'json', silent: true });
    const emails = createEmailDeliveriesService({ db: app.db, orders: app.deps.orders, queue: app.queue, logger, resendPageSize: 2 });

    expect(await emails.resendAllRefused({})).toEqual({ reopened: 5 });
    await waitUntil(() => allSent(ids), 20_000, 'the reopened emails to be sent');
    expect(ids.map(messagesFor)).toEqual([1, 1, 1, 1, 1]);
  });

  it('when a single resend and a bulk resend race for the same emails, then each email is reopened by one of them and sent once', async () => {
    const ids = await refusedOrders(6);
    refusing = false;

    const [bulk, ...singles] = await Promise.all([
      resendAll(),
      ...ids.map((id) => app.http.post(`/api/orders/${id}/emails/resend`).set(bearer(admin))),
    ]);
    expect(bulk.status === 202 || bulk.body.code === 'NOTHING_TO_RESEND').toBe(true);
    for (const single of singles) expect([202, 409]).toContain(single.status);
    const reopenedByBulk = bulk.status === 202 ? (bulk.body.reopened as number) : 0;
    expect(reopenedByBulk + singles.filter((single) => single.status === 202).length).toBe(ids.length);

    await waitUntil(() => allSent(ids), 20_000, 'the reopened emails to be sent');
    expect(ids.map(messagesFor)).toEqual(ids.map(() => 1));
  });

  it('refuses customers (403), unknown fields and malformed timestamps (400)', async () => {
    const customer = await app.http.post('/api/admin/emails/resend').set(bearer(buyer)).send({});
    expect(customer.status).toBe(403);
    expect(customer.body.code).toBe('FORBIDDEN');

    const unknown = await resendAll({ since: new Date().toISOString(), orderIds: ['x'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('VALIDATION_FAILED');
    const malformed = await resendAll({ since: 'yesterday' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ path: 'since', message: expect.stringMatching(/ISO 8601/) as unknown }]);
    const backwards = await resendAll({ since: new Date().toISOString(), until: new Date(Date.now() - 1000).toISOString() });
    expect(backwards.status).toBe(400);
  });
});
