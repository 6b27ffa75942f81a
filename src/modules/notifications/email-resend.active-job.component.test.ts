import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../../test/catalog.js';
import { startTestApp, type TestApp } from '../../../test/harness.js';
import { startSmtp, type TestSmtp } from '../../../test/smtp.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../../test/users.js';
import { waitUntil } from '../../../test/wait.js';
import { createLogger } from '../../platform/logger.js';
import { createInProcessQueue, startBullMqWorker, type JobHandler, type JobQueue } from '../../platform/queue/index.js';
import { createEmailDeliveriesService } from './email-deliveries.service.js';
import { orderEmailJob } from './send-order-email.js';

type QueueKind = 'in-process' | 'bullmq';

/**
 * A resend that arrives while the job that refused the email is still active (its last instant,
 * after the refusal was written) used to enqueue the same job id, which the active job still
 * held: nothing was queued, and the email waited for the reconciler (~30 s and more). Each resend
 * now has a job id of its own. The app's own email handler against a real SMTP server, its
 * active run held open at the end.
 */
describe.each<QueueKind>(['in-process', 'bullmq'])('a resend while the refusing job is still active, on the %s queue', (queueKind) => {
  let app: TestApp;
  let smtp: TestSmtp;
  let admin: TestUser;
  let buyer: TestUser;
  let refusing = true;
  let queue: JobQueue;
  let closeQueue: () => Promise<void>;
  let letFirstRunEnd: () => void = () => undefined;
  const firstRunHeld = new Promise<void>((resolve) => (letFirstRunEnd = resolve));
  let runs = 0;
  const logger = createLogger({ level: 'error', format: 'json', silent: true });

  beforeAll(async () => {
    smtp = await startSmtp({ refuseRecipient: (address) => (refusing && address.startsWith('gone') ? '550 5.1.1 User unknown' : undefined) });
    app = await startTestApp({ storage: 'postgres', env: { SMTP_URL: smtp.url }, ...(queueKind === 'bullmq' ? { redis: true } : {}) });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app, 'gone')]);
    const real = app.handlers['send-order-email'] as unknown as JobHandler<ReturnType<typeof orderEmailJob>['data']>;
    // The first run does all its work, then stays active until the test lets it end.
    const handlers = {
      'send-order-email': {
        ...real,
        run: async (data: ReturnType<typeof orderEmailJob>['data'], attempt: { attempt: number; maxAttempts: number }) => {
          await real.run(data, attempt);
          if (++runs === 1) await firstRunHeld;
        },
      },
    };
    const backoff = { baseMs: 50, maxMs: 500 };
    if (queueKind === 'in-process') {
      queue = createInProcessQueue({ handlers, concurrency: 5, backoff, logger });
      closeQueue = () => queue.close();
    } else {
      // The app's own BullMQ queue (its prefix is cleaned up with it), consumed by this worker.
      queue = app.queue;
      const worker = startBullMqWorker({ redis: app.config.redis.target!, prefix: app.config.redis.prefix, handlers, concurrency: 5, backoff, lockDurationMs: 5000, logger });
      closeQueue = () => worker.close();
    }
  });
  afterAll(async () => {
    letFirstRunEnd();
    await closeQueue?.();
    await app?.close();
    await smtp?.stop();
  });

  it('when the address is fixed and an admin resends, then the email goes out at once, not after the reconciler', async () => {
    const product = await createProduct(app, admin, { stock: 10 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const id = placed.body.id as string;
    await app.deps.orders.transitionOrders([id], 'processing');
    await app.deps.orders.transitionOrders([id], 'completed');
    const statusOf = async () => (await app.db.query<{ status: string }>("SELECT status FROM email_deliveries WHERE order_id = $1 AND kind = 'order_confirmation'", [id])).rows[0]?.status;

    await queue.add([orderEmailJob([id], 'order_confirmation')]);
    await waitUntil(async () => (await statusOf()) === 'undeliverable', 10_000, 'the first run to mark the email refused');
    expect(runs).toBe(1);

    refusing = false;
    const emails = createEmailDeliveriesService({ db: app.db, orders: app.deps.orders, queue, logger });
    await emails.resendRefused({ userId: admin.id, role: 'admin' }, id);
    letFirstRunEnd();
    // No reconciler runs here: only the resend's own job can send it.
    await waitUntil(async () => (await statusOf()) === 'sent', 10_000, "the resend's job to send the email");
    expect(smtp.messages.filter((m) => m.subject?.includes(id))).toHaveLength(1);
  });
});
