import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { startSmtp } from '../../../test/smtp.js';
import { createLogger } from '../../platform/logger.js';
import { createMailer, type MailMessage, type Mailer } from '../../platform/mail.js';
import { findMissingEmails } from './email-deliveries.repository.js';
import { createSendOrderEmail } from './send-order-email.js';

/** A batch of order emails on a real PostgreSQL, with a mailer that records (and can refuse) messages. */
describe('sending order emails in batches', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  const logger = createLogger({ level: 'error', format: 'json', silent: true });

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app)]);
  });
  afterAll(async () => {
    await app.close();
  });

  async function completedOrders(count: number, user = buyer): Promise<string[]> {
    const product = await createProduct(app, admin, { stock: 100 });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await app.http.post('/api/orders').set(bearer(user)).send({ items: [{ productId: product.id, quantity: 1 }] });
      ids.push(res.body.id as string);
    }
    await app.deps.orders.transitionOrders(ids, 'processing');
    await app.deps.orders.transitionOrders(ids, 'completed');
    return ids;
  }

  function handlerWith(mailer: Mailer, leaseSeconds = 60, markEveryMs?: number) {
    return createSendOrderEmail({
      db: app.db,
      mailer,
      mailFrom: 'shop@example.com',
      leaseSeconds,
      maxRetryHours: 72,
      ...(markEveryMs ? { markEveryMs } : {}),
      findOrders: async (orderIds) => (await app.deps.orders.findOrders(orderIds)).map((entry) => entry.order),
      findRecipients: (userIds) => app.deps.auth.findUsers(userIds),
      logger,
      metrics: { emailSent: () => undefined, emailAttemptFailed: () => undefined, emailGaveUp: () => undefined, emailRejected: () => undefined },
    });
  }

  function recordingMailer(refuse: (message: MailMessage) => boolean): Mailer & { sent: MailMessage[] } {
    const sent: MailMessage[] = [];
    return {
      kind: 'file',
      sent,
      send(message) {
        if (refuse(message)) return Promise.reject(new Error('421 try again later'));
        sent.push(message);
        return Promise.resolve();
      },
      verify: () => Promise.resolve(),
      close: () => undefined,
    };
  }

  it('sends the batch, retries only what failed, and never sends an order its email twice', async () => {
    const ids = await completedOrders(5);
    // Owed from the moment each order completed, before any job ran.
    const owed = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND status = 'pending' AND attempts = 0", [ids]);
    expect(owed.rows).toEqual([{ n: 5 }]);
    const unlucky = ids[2]!;
    let refusing = true;
    const mailer = recordingMailer((message) => refusing && message.subject.includes(unlucky));
    const handler = handlerWith(mailer);

    await expect(handler.run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 })).rejects.toThrow(/421/);
    expect(mailer.sent.map((m) => m.subject).sort()).toEqual(ids.filter((id) => id !== unlucky).map((id) => `Order ${id} confirmed`).sort());
    const { rows } = await app.db.query<{ order_id: string; status: string; last_error: string | null }>(
      "SELECT order_id, status, last_error FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND kind = 'order_confirmation'",
      [ids],
    );
    expect(rows.filter((r) => r.status === 'sent')).toHaveLength(4);
    expect(rows.find((r) => r.order_id === unlucky)).toMatchObject({ status: 'pending', last_error: '421 try again later' });

    refusing = false;
    await handler.run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 2, maxAttempts: 25 });
    await handler.run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 3, maxAttempts: 25 });
    expect(ids.map((id) => mailer.sent.filter((m) => m.subject.includes(id)).length)).toEqual([1, 1, 1, 1, 1]);
  });

  it('a batch still being sent past its lease keeps its claims: another sender sends none of it again', async () => {
    const ids = await completedOrders(3);
    // A mailer whose messages leave only when the test lets them (SMTP slower than the lease).
    const sent: MailMessage[] = [];
    let letThrough: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    const slow: Mailer = { ...recordingMailer(() => false), send: (message) => held.then(() => void sent.push(message)) };
    const first = handlerWith(slow, 1).run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });

    const claimedUntil = (
      await waitUntil(async () => {
        const { rows } = await app.db.query<{ at: Date }>("SELECT min(claimed_until) AS at FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND kind = 'order_confirmation'", [ids]);
        return rows[0]?.at ?? undefined;
      }, 10_000, 'the batch to be claimed')
    ).toISOString();
    await waitUntil(async () => (await app.db.query<{ past: boolean }>("SELECT now() > $1::timestamptz + interval '300 ms' AS past", [claimedUntil])).rows[0]!.past, 10_000, 'the first lease to run out');

    const other = recordingMailer(() => false);
    await expect(handlerWith(other, 1).run({ orderIds: [ids[2]!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 })).rejects.toThrow(/being sent by another worker/);
    letThrough();
    await first;
    expect(other.sent).toEqual([]);
    expect(sent.map((m) => m.subject).sort()).toEqual(ids.map((id) => `Order ${id} confirmed`).sort());
  });

  it('a sender whose renewals came late takes its lapsed claim back while nobody claimed anew: nobody sends its message again', async () => {
    const [id] = await completedOrders(1);
    const claimOf = async () =>
      (await app.db.query<{ live: boolean | null; token: string | null }>("SELECT claimed_until > now() AS live, claim_token AS token FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows[0]!;
    const sent: MailMessage[] = [];
    let letThrough: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    const slow: Mailer = { ...recordingMailer(() => false), send: (message) => held.then(() => void sent.push(message)) };
    const first = handlerWith(slow, 1).run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
    const other = recordingMailer(() => false);
    try {
      const token = await waitUntil(async () => (await claimOf()).token ?? undefined, 10_000, "the sender's claim");
      // Its renewals failed for a while (the database was out of reach for it): its lease ran out.
      await app.db.query("UPDATE email_deliveries SET claimed_until = now() - interval '1 second' WHERE order_id = $1", [id]);
      // Its next renewal finds its token still on the row (nobody claimed it meanwhile) and holds it again.
      await waitUntil(async () => (await claimOf()).live === true || undefined, 5_000, 'the sender to renew its lapsed claim');
      expect((await claimOf()).token).toBe(token);

      await expect(handlerWith(other, 1).run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 })).rejects.toThrow(/being sent by another worker/);
      expect((await findMissingEmails(app.db, 0, { limit: 100_000 })).emails.map((m) => m.orderId)).not.toContain(id);
    } finally {
      letThrough();
      await first;
    }
    expect([sent.length, other.sent.length]).toEqual([1, 0]);
  });

  it('when another sender holds a claim, then this one sends the rest and retries later for that order', async () => {
    const ids = await completedOrders(3);
    await app.db.query(
      "UPDATE email_deliveries SET message_id = 'elsewhere', attempts = 1, claimed_until = now() + interval '1 minute' WHERE order_id = $1 AND kind = 'order_confirmation'",
      [ids[0]],
    );
    const mailer = recordingMailer(() => false);
    await expect(handlerWith(mailer).run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 })).rejects.toThrow(/being sent by another worker/);
    expect(mailer.sent.map((m) => m.subject).sort()).toEqual([`Order ${ids[1]} confirmed`, `Order ${ids[2]} confirmed`].sort());
  });

  it('a message the SMTP server refuses for good is marked undeliverable: not retried, not reconciled, shown to admins', async () => {
    const gone = await registerUser(app, 'gone');
    const smtp = await startSmtp({ refuseRecipient: (address) => (address === gone.email ? '550 No such user here' : undefined) });
    const mailer = createMailer({ smtpUrl: smtp.url, gmail: undefined, from: 'shop@example.com', dataDir: '/nonexistent', logger });
    try {
      const [kept] = await completedOrders(1);
      const [refused] = await completedOrders(1, gone);
      const ids = [kept!, refused!];
      const handler = handlerWith(mailer);

      // The job succeeds: retrying would only be refused again.
      await handler.run({ orderIds: ids, kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
      expect(smtp.messages.map((m) => m.subject)).toEqual([`Order ${kept} confirmed`]);
      const { rows } = await app.db.query<{ status: string; last_error: string | null; claimed_until: Date | null }>(
        "SELECT status, last_error, claimed_until FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'",
        [refused],
      );
      expect(rows).toEqual([{ status: 'undeliverable', last_error: expect.stringMatching(/550 No such user here/) as unknown, claimed_until: null }]);

      // A job for it again (a duplicate enqueue) sends nothing and succeeds; the reconciler leaves it alone.
      await handler.run({ orderIds: [refused!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
      expect(smtp.messages).toHaveLength(1);
      const missing = (await findMissingEmails(app.db, 0, { limit: 100_000 })).emails;
      expect(missing.map((m) => m.orderId)).not.toContain(refused);

      const res = await app.http.get(`/api/orders/${refused}/emails`).set(bearer(admin));
      expect(res.body).toMatchObject({ items: [{ kind: 'order_confirmation', status: 'undeliverable', attempts: 1, sentAt: null }] });
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });

  it("a refusal of the shop's own sender address is retried, not undeliverable: once the address is fixed the email goes out", async () => {
    // Postfix checks its sender restrictions at RCPT TO, so the refusal answers every recipient alike.
    let senderRefused = true;
    const smtp = await startSmtp({ refuseRecipient: () => (senderRefused ? '550 5.1.8 <shop@example.com>: Sender address rejected: Domain not found' : undefined) });
    const mailer = createMailer({ smtpUrl: smtp.url, gmail: undefined, from: 'shop@example.com', dataDir: '/nonexistent', logger });
    try {
      const [id] = await completedOrders(1);
      const handler = handlerWith(mailer);
      await expect(handler.run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 })).rejects.toThrow(/Sender address rejected/);
      const { rows } = await app.db.query<{ status: string; claimed_until: Date | null }>(
        "SELECT status, claimed_until FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'",
        [id],
      );
      expect(rows).toEqual([{ status: 'pending', claimed_until: null }]);

      senderRefused = false;
      await handler.run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 2, maxAttempts: 25 });
      expect(smtp.messages.map((m) => m.subject)).toEqual([`Order ${id} confirmed`]);
    } finally {
      mailer.close();
      await smtp.stop();
    }
  });

  it('a sender whose claim ran out and was claimed anew does not release the new claim when its send fails', async () => {
    const [id] = await completedOrders(1);
    const claimOf = async () =>
      (await app.db.query<{ until: Date | null; token: string | null }>("SELECT claimed_until AS until, claim_token AS token FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows[0]!;
    const held = (outcome: 'fail' | 'send') => {
      let settle: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (settle = resolve));
      const mailer: Mailer & { sent: MailMessage[] } = {
        ...recordingMailer(() => false),
        sent: [],
        send: (message) => gate.then(() => (outcome === 'fail' ? Promise.reject(new Error('421 try again later')) : void mailer.sent.push(message))),
      };
      return { mailer, settle };
    };

    const a = held('fail');
    const first = handlerWith(a.mailer, 2).run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
    const tokenA = (await waitUntil(async () => (await claimOf()).token ?? undefined, 10_000, "the first sender's claim"));
    // Its renewals failed (the database was out of reach for it): its lease ran out. The email
    // has been failing for longer than its retry lifetime, too.
    await app.db.query("UPDATE email_deliveries SET claimed_until = now() - interval '1 second', first_failed_at = now() - interval '100 hours' WHERE order_id = $1", [id]);

    const b = held('send');
    const second = handlerWith(b.mailer, 60).run({ orderIds: [id!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
    const tokenB = await waitUntil(async () => {
      const { token } = await claimOf();
      return token && token !== tokenA ? token : undefined;
    }, 10_000, "the second sender's claim");

    a.settle();
    await expect(first).rejects.toThrow(/421/);
    // The second sender's claim stands: nobody else may send (the reconciler would have), and
    // the first one's failure does not give up an email whose send is in flight.
    expect((await claimOf()).token).toBe(tokenB);
    expect((await app.db.query("SELECT status FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows).toEqual([{ status: 'pending' }]);
    expect((await findMissingEmails(app.db, 0, { limit: 100_000 })).emails.map((m) => m.orderId)).not.toContain(id);

    b.settle();
    await second;
    expect([a.mailer.sent.length, b.mailer.sent.length]).toEqual([0, 1]);
    expect((await app.db.query("SELECT status FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows).toEqual([{ status: 'sent' }]);
  });

  it('marks what has gone out while the rest of the batch is still being sent (a crash then resends only what came after)', async () => {
    const [quick, slow] = await completedOrders(2);
    let letThrough: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    const sent: MailMessage[] = [];
    const mailer: Mailer = {
      ...recordingMailer(() => false),
      send: (message) => (message.subject.includes(slow!) ? held : Promise.resolve()).then(() => void sent.push(message)),
    };
    const job = handlerWith(mailer, 60, 50).run({ orderIds: [quick!, slow!], kind: 'order_confirmation' }, { attempt: 1, maxAttempts: 25 });
    const statusOf = async (id: string) =>
      (await app.db.query<{ status: string }>("SELECT status FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows[0]?.status;

    await waitUntil(async () => (await statusOf(quick!)) === 'sent', 10_000, 'the first message to be marked sent while the second is out');
    expect(await statusOf(slow!)).toBe('pending');
    letThrough();
    await job;
    expect([await statusOf(quick!), await statusOf(slow!), sent.length]).toEqual(['sent', 'sent', 2]);
  });
});
