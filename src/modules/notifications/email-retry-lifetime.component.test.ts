import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, STORAGE_KINDS, type TestApp } from '../../../test/harness.js';
import { startSmtp, type TestSmtp } from '../../../test/smtp.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { findMissingEmails } from './email-deliveries.repository.js';

/**
 * An email that keeps failing with a reply that may pass on a retry (a full mailbox) is given up
 * once its first failure is older than EMAIL_MAX_RETRY_HOURS, like an MTA bounces a message past
 * its queue lifetime: it was retried (and re-enqueued by the reconciler) for ever. The app's own
 * email handler against a real SMTP server; the lifetime passes by moving the first failure back
 * in database time.
 */
describe.each(STORAGE_KINDS)('an email still failing after its retry lifetime, on %s', (storage) => {
  let app: TestApp;
  let smtp: TestSmtp;
  let admin: TestUser;
  let buyer: TestUser;
  let mailboxFull = true;

  beforeAll(async () => {
    smtp = await startSmtp({ refuseRecipient: (address) => (mailboxFull && address.startsWith('full') ? '452 4.2.2 Mailbox full' : undefined) });
    app = await startTestApp({ storage, env: { SMTP_URL: smtp.url, EMAIL_MAX_RETRY_HOURS: '72' }, captureLogs: true });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'full')]);
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.stop();
  });

  async function completedOrder(): Promise<string> {
    const product = await createProduct(app, admin, { stock: 10 });
    const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const id = res.body.id as string;
    await app.deps.orders.transitionOrders([id], 'processing');
    await app.deps.orders.transitionOrders([id], 'completed');
    return id;
  }
  const send = (orderId: string) => app.handlers['send-order-email']!.run({ orderIds: [orderId], kind: 'order_confirmation' } as never, { attempt: 1, maxAttempts: 25 });
  const rowOf = async (orderId: string) =>
    (
      await app.db.query<{ status: string; last_error: string | null; claimed_until: Date | null; failing_hours: number | null }>(
        `SELECT status, last_error, claimed_until, extract(epoch FROM now() - first_failed_at)::float8 / 3600 AS failing_hours
         FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'`,
        [orderId],
      )
    ).rows[0]!;
  const failingFor = (orderId: string, hours: number) =>
    app.db.query("UPDATE email_deliveries SET first_failed_at = now() - make_interval(hours => $2) WHERE order_id = $1", [orderId, hours]);
  const rejectedCount = async () => Number(/emails_total\{[^}]*event="rejected"[^}]*\} (\d+)/.exec(await app.metrics.registry.getSingleMetricAsString('emails_total'))?.[1] ?? 0);
  const undeliverableCount = async () => (await app.http.get('/api/admin/pipeline').set(bearer(admin))).body.emails.undeliverable as number;

  it('when it fails within the lifetime, then it stays pending and is retried, counted from its first failure', async () => {
    const id = await completedOrder();
    await expect(send(id)).rejects.toThrow(/452/);
    const first = await rowOf(id);
    expect(first).toMatchObject({ status: 'pending', last_error: expect.stringMatching(/452 4.2.2 Mailbox full/) as unknown, claimed_until: null });
    expect(first.failing_hours).toBeLessThan(0.1);

    await failingFor(id, 71);
    await expect(send(id)).rejects.toThrow(/452/);
    // A later failure does not restart the count.
    expect(await rowOf(id)).toMatchObject({ status: 'pending', failing_hours: expect.closeTo(71, 1) as unknown });
  });

  it('when it fails past the lifetime, then it becomes undeliverable with its last error, counted, logged and shown; a resend sends it again', async () => {
    const id = await completedOrder();
    await expect(send(id)).rejects.toThrow(/452/);
    await failingFor(id, 73);
    const [rejectedBefore, undeliverableBefore] = [await rejectedCount(), await undeliverableCount()];

    // The job succeeds: retrying any longer is what the lifetime rules out.
    await send(id);
    expect(await rowOf(id)).toMatchObject({ status: 'undeliverable', last_error: expect.stringMatching(/452 4.2.2 Mailbox full/) as unknown, claimed_until: null });
    expect(await rejectedCount()).toBe(rejectedBefore + 1);
    expect(await undeliverableCount()).toBe(undeliverableBefore + 1);
    expect(app.logs).toContainEqual(expect.objectContaining({ level: 'error', message: 'order email still failing after its retry lifetime; it will not be retried', orderId: id, kind: 'order_confirmation', reason: expect.stringMatching(/452/) as unknown }));
    expect((await findMissingEmails(app.db, 0, { limit: 100_000 })).emails.map((m) => m.orderId)).not.toContain(id);
    const listed = await app.http.get(`/api/orders/${id}/emails`).set(bearer(admin));
    expect(listed.body.items).toEqual([expect.objectContaining({ kind: 'order_confirmation', status: 'undeliverable', attempts: 2, sentAt: null })]);

    // A resend starts a new lifetime: its job's failure (the mailbox is still full) leaves it pending.
    const resent = await app.http.post(`/api/orders/${id}/emails/resend`).set(bearer(admin));
    expect(resent.status).toBe(202);
    await waitUntil(async () => (await rowOf(id)).failing_hours !== null && (await rowOf(id)).status === 'pending', 10_000, "the resend's job to fail once");
    expect((await rowOf(id)).failing_hours).toBeLessThan(0.1);

    mailboxFull = false;
    await waitUntil(async () => (await rowOf(id)).status === 'sent', 20_000, "the resend's job to send it once the mailbox has room");
    expect(smtp.messages.filter((m) => m.subject?.includes(id))).toHaveLength(1);
  });
});
