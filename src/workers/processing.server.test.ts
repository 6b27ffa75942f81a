import { describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../test/catalog.js';
import { freePort, waitUntil } from '../../test/processes.js';
import { emailsPerOrder, expectConserved, placeOrders, startStack, startWorker, stacksPerCase, waitForSettled, waitForStatus } from '../../test/processing-stack.js';
import { bearer } from '../../test/users.js';
import { processOrderJob } from '../modules/orders/index.js';
import { createBullMqQueue } from '../platform/queue/index.js';

// Each case starts worker processes, which alone can take ~10 s on a busy machine.
describe('processing in server mode: API + separate worker processes, PostgreSQL, Redis, SMTP', { timeout: 90_000 }, () => {
  const mail = stacksPerCase();

  it('takes an order from placed to completed with history in order, stock sold and exactly one confirmation email', async () => {
    const stack = await startStack({ smtp: mail.smtp });
    const metricsPort = await freePort();
    await startWorker({ ...stack.workerEnv, WORKER_METRICS_PORT: String(metricsPort) });
    const product = await createProduct(stack.app, stack.admin, { stock: 10, priceCents: 1999 });

    const [orderId] = await placeOrders(stack, product.id, 1);
    // One source of truth: what the API answers (the cached copy is written after the row, so
    // waiting on the row and then reading through the cache could see the step before).
    const order = await waitUntil(
      async () => {
        const res = await stack.app.http.get(`/api/orders/${orderId}`).set(bearer(stack.buyer));
        return res.body.status === 'completed' ? (res.body as { history: { status: string }[] }) : undefined;
      },
      20_000,
      'the API to show the order completed',
    );
    expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
    expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 9, reserved: 0 });
    await waitForSettled(stack.app, [orderId!]);
    const [message] = mail.smtp.messages;
    expect(emailsPerOrder(mail.smtp, [orderId!])).toEqual([1]);
    expect(message!.subject).toBe(`Order ${orderId} confirmed`);
    expect(message!.to).toMatchObject({ text: stack.buyer.email });
    expect(message!.text).toContain('$19.99');
    expect(message!.html).toContain('$19.99');
    expect(message!.messageId).toContain(orderId);
    await expectConserved(stack.app);

    const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(workerMetrics).toMatch(/^orders_total\{.*event="completed".*\} 1$/m);
    expect(workerMetrics).toMatch(/^emails_total\{.*event="sent".*\} 1$/m);
    expect(workerMetrics).toMatch(/^queue_jobs\{.*state="failed".*\} 0$/m);
    expect(workerMetrics).toMatch(/role="worker"/);
    expect(workerMetrics).toMatch(/^worker_pool_role\{role="leader".*\} 1$/m);
    const apiMetrics = await stack.app.http.get('/metrics');
    expect(apiMetrics.text).toMatch(/^orders_total\{.*event="placed".*\} 1$/m);
  });

  it('declines above PAYMENT_DECLINE_ABOVE_CENTS: failed with a reason, stock released, one failure email', async () => {
    const stack = await startStack({ smtp: mail.smtp });
    await startWorker({ ...stack.workerEnv, PAYMENT_DECLINE_ABOVE_CENTS: '5000' });
    const product = await createProduct(stack.app, stack.admin, { stock: 10, priceCents: 9000 });

    const [orderId] = await placeOrders(stack, product.id, 1);
    const order = await waitUntil(
      async () => {
        const res = await stack.app.http.get(`/api/orders/${orderId}`).set(bearer(stack.buyer));
        return res.body.status === 'failed' ? (res.body as { failureReason: string }) : undefined;
      },
      20_000,
      'the API to show the order failed',
    );
    expect(order.failureReason).toMatch(/declined/i);
    expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 10, reserved: 0 });
    await waitForSettled(stack.app, [orderId!]);
    expect(emailsPerOrder(mail.smtp, [orderId!])).toEqual([1]);
    expect(mail.smtp.messages[0]!.subject).toBe(`Order ${orderId} could not be completed`);
  });

  it('when the same order is enqueued twice and two workers race, then it is processed once and emailed once', async () => {
    const stack = await startStack({ smtp: mail.smtp, env: { PAYMENT_SIMULATOR_LATENCY_MS: '50' } });
    const product = await createProduct(stack.app, stack.admin, { stock: 50 });
    // Both fetching at once (with standby workers, the second would wait while the first keeps up).
    const racing = { ...stack.workerEnv, WORKER_STANDBY: 'false' };
    await Promise.all([startWorker(racing), startWorker(racing)]);
    const producer = createBullMqQueue({ redis: stack.app.config.redis.target!, prefix: stack.app.config.redis.prefix, handlers: stack.app.handlers });
    try {
      const ids = await placeOrders(stack, product.id, 10);
      // Duplicates under other job ids, so BullMQ's own de-duplication cannot hide a double run.
      for (const id of ids) {
        const job = processOrderJob([id]);
        await producer.add([job, { ...job, id: `${job.id}-dup1` }, { ...job, id: `${job.id}-dup2` }]);
      }
      await waitForStatus(stack.app, ids, 'completed', 30_000);
      await waitForSettled(stack.app, ids);
      expect(emailsPerOrder(mail.smtp, ids)).toEqual(ids.map(() => 1));
      const { rows } = await stack.app.db.query<{ history: { status: string }[] }>('SELECT history FROM orders WHERE id = ANY($1::uuid[])', [ids]);
      for (const row of rows) expect(row.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
      expect(await stockOf(stack.app, product.id)).toEqual({ onHand: 40, reserved: 0 });
    } finally {
      await producer.close();
    }
  });

  it('when the leading worker has no free job slot while jobs wait, then the standby worker joins and runs orders too, each once', async () => {
    // One slot and slow payments: the leader is short of slots, not of CPU. A host's idle cores
    // cannot be set, and the test suite keeps this one busy: the standby is told to need none.
    const env = { WORKER_CONCURRENCY: '1', PAYMENT_SIMULATOR_LATENCY_MS: '500', WORKER_STANDBY_MIN_IDLE_CORES: '0' };
    const stack = await startStack({ smtp: mail.smtp });
    const product = await createProduct(stack.app, stack.admin, { stock: 500 });
    const leader = await startWorker({ ...stack.workerEnv, ...env });
    await waitUntil(() => leader.output().includes('worker leads the pool'), 10_000, 'the first worker to lead');
    const standby = await startWorker({ ...stack.workerEnv, ...env });
    await waitUntil(() => standby.output().includes('worker on standby'), 10_000, 'the second worker to wait on standby');

    // Orders keep coming until the standby has joined: jobs wait for the leader's one slot meanwhile.
    // At most 100 of them, however long the join takes on a busy host: the buyer may place 120 a
    // minute, and the leader alone works through 100 well within the wait for completion below.
    const ids: string[] = [];
    await waitUntil(
      async () => {
        if (ids.length < 100) ids.push(...(await placeOrders(stack, product.id, 5)));
        return standby.output().includes('worker joined the pool');
      },
      20_000,
      'the standby to join',
    );
    expect(standby.output()).toMatch(/worker joined the pool: active workers' job slots \d+ % busy, \d+ jobs waiting/);
    await waitForStatus(stack.app, ids, 'completed', 30_000);
    await waitForSettled(stack.app, ids);
    expect(emailsPerOrder(mail.smtp, ids)).toEqual(ids.map(() => 1));
    await expectConserved(stack.app);
    // Both ran orders (each logs the orders it finished): the standby took jobs that were waiting.
    expect(standby.output()).toMatch(/order completed/);
    expect(leader.output()).toMatch(/order completed/);
  });

  it('when SMTP is down while orders complete, then each order gets exactly one email after it returns', async () => {
    const stack = await startStack({ smtp: mail.smtp });
    await startWorker(stack.workerEnv);
    const product = await createProduct(stack.app, stack.admin, { stock: 20 });
    await mail.smtp.stop();
    try {
      const ids = await placeOrders(stack, product.id, 5);
      await waitForStatus(stack.app, ids, 'completed', 20_000);
      // Every email has been tried and failed (its claim given back) while SMTP was down.
      await waitUntil(
        async () => {
          const { rows } = await stack.app.db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM email_deliveries WHERE order_id = ANY($1::uuid[]) AND last_error IS NOT NULL',
            [ids],
          );
          return rows[0]?.n === ids.length;
        },
        20_000,
        'a failed attempt for every email',
      );
      expect(mail.smtp.messages).toHaveLength(0);
      const { rows } = await stack.app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM email_deliveries WHERE status = 'sent'");
      expect(rows[0]?.n).toBe(0);

      await mail.smtp.start();
      await waitForSettled(stack.app, ids);
      expect(emailsPerOrder(mail.smtp, ids)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await mail.smtp.start();
    }
  });});
