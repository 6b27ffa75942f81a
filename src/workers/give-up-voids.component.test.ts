import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, type TestProduct } from '../../test/catalog.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';
import { waitUntil } from '../../test/wait.js';
import { createProcessOrder } from '../modules/orders/index.js';
import { createPaymentSimulator, createPaymentsJobHandlers, createPaymentVoids, TransientPaymentError, type PaymentProvider, type PaymentSimulator } from '../modules/payments/index.js';
import { createLogger } from '../platform/logger.js';
import type { OutboxEvent } from '../platform/outbox.js';
import { createInProcessQueue } from '../platform/queue/index.js';
import { jobsFor } from './outbox-routes.js';
import { reconcileOnce } from './reconciler.js';

/**
 * A charge never stands for an order that did not complete: a give-up (retries run out) fails
 * the order and the charge any attempt made is voided, by the `void-payment` job its
 * `order.failed` event starts. Handlers called directly on a real PostgreSQL, with a simulator
 * of the test's own to see which charges stand.
 */
describe('voiding the charges of orders given up', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;
  let product: TestProduct;
  const logger = createLogger({ level: 'error', format: 'json', silent: true });
  const attempt = (n: number) => ({ attempt: n, maxAttempts: 8 });

  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
    [admin, buyer] = await Promise.all([registerAdmin(app), registerUser(app)]);
    product = await createProduct(app, admin, { stock: 100, priceCents: 500 });
    // A real database refusal on completing chosen orders: a constraint that fails every attempt.
    await app.db.exec(`
      CREATE TABLE test_refused_completions (order_id uuid PRIMARY KEY);
      CREATE FUNCTION test_refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM test_refused_completions WHERE order_id = NEW.id) THEN
          RAISE EXCEPTION 'completion refused for order %', NEW.id;
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_refuse_completion BEFORE UPDATE ON orders
        FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION test_refuse_completion();`);
  });
  afterAll(async () => {
    await app.db.exec('DROP TRIGGER test_refuse_completion ON orders; DROP FUNCTION test_refuse_completion(); DROP TABLE test_refused_completions;');
    await app.close();
  });

  async function place(): Promise<string> {
    const res = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  function pipeline(payments: PaymentProvider) {
    const voids = createPaymentVoids({ db: app.db, payments, logger });
    const handlers = createPaymentsJobHandlers({ voids, logger });
    return { voids, handlers, processOrder: createProcessOrder({ orders: app.deps.orders, payments, voids, logger }) };
  }

  /** What the outbox relay would enqueue for the order's `order.failed` event: the void-payment jobs among them. */
  async function voidJobsOf(orderId: string) {
    const { rows } = await app.db.query<OutboxEvent>(
      `SELECT id::int, topic, aggregate_id AS "aggregateId" FROM outbox_events WHERE aggregate_id = $1 AND topic = 'order.failed'`,
      [orderId],
    );
    return jobsFor(rows).jobs.filter((job) => job.name === 'void-payment');
  }

  async function runVoidJobs(orderId: string, handlers: ReturnType<typeof pipeline>['handlers']): Promise<void> {
    const jobs = await voidJobsOf(orderId);
    expect(jobs).toHaveLength(1);
    for (const job of jobs) await handlers['void-payment'].run(job.data, attempt(1));
  }

  /** The simulator, with the charges `held` picks (by their number, from 0) waiting for `release`. */
  function holdCharges(simulator: PaymentSimulator, held: (n: number) => boolean) {
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const provider: PaymentSimulator = {
      ...simulator,
      async charge(request) {
        if (held(started++)) await gate;
        return simulator.charge(request);
      },
    };
    return { provider, release, started: () => started };
  }

  const orderOf = async (id: string) =>
    (await app.db.query<{ status: string; failureReason: string | null }>('SELECT status, failure_reason AS "failureReason" FROM orders WHERE id = $1', [id])).rows[0];
  const voidOf = async (id: string) =>
    (await app.db.query<{ requests: number; voided: boolean }>('SELECT requests, voided_at IS NOT NULL AS voided FROM payment_voids WHERE order_id = $1', [id])).rows[0];

  it('when a charge was approved but completing the order failed on every attempt, then the give-up fails the order and its charge ends voided', async () => {
    const simulator = createPaymentSimulator();
    const { handlers, processOrder } = pipeline(simulator);
    const id = await place();
    await app.db.query('INSERT INTO test_refused_completions (order_id) VALUES ($1)', [id]);

    for (const n of [1, 2]) await expect(processOrder.run({ orderIds: [id] }, attempt(n))).rejects.toThrow(/completion refused/);
    expect(simulator.standingCharges()).toEqual([id]);
    await processOrder.exhausted!({ orderIds: [id] }, new Error('completion refused'));

    expect(await orderOf(id)).toEqual({ status: 'failed', failureReason: 'Processing failed after repeated errors; any payment taken is refunded' });
    // Owed durably, with the move, before anything is asked of the provider.
    expect(await voidOf(id)).toEqual({ requests: 1, voided: false });
    await runVoidJobs(id, handlers);
    expect(simulator.standingCharges()).toEqual([]);
    expect(simulator.voidedCharges()).toEqual([id]);
    expect(await voidOf(id)).toEqual({ requests: 1, voided: true });
  });

  it('when another job charges an order after the give-up failed it (and after the give-up’s void ran), then the order stays failed and that charge ends voided', async () => {
    const simulator = createPaymentSimulator();
    const slow = holdCharges(simulator, () => true);
    const { handlers, processOrder } = pipeline(slow.provider);
    const id = await place();
    // The reconciler's job for the order is charging while the batch's job gives up.
    const duplicate = processOrder.run({ orderIds: [id] }, attempt(1));
    await waitUntil(() => slow.started() === 1, 5000, 'the duplicate job to be charging');
    await processOrder.exhausted!({ orderIds: [id] }, new Error('retries used up'));
    await runVoidJobs(id, handlers);
    expect(await voidOf(id)).toEqual({ requests: 1, voided: true });

    slow.release();
    await duplicate;
    expect((await orderOf(id))?.status).toBe('failed');
    expect(simulator.standingCharges()).toEqual([]);
    expect(simulator.voidedCharges()).toEqual([id]);
    expect(await voidOf(id)).toEqual({ requests: 2, voided: true });
  });

  /**
   * An order given up and its void done; then another job's attempt charged it (after that void
   * ran) and its process died: the charge stands.
   */
  async function givenUpThenChargedByAJobThatDied() {
    const simulator = createPaymentSimulator();
    const { handlers, processOrder } = pipeline(simulator);
    const id = await place();
    await app.deps.orders.transitionOrders([id], 'processing');
    await processOrder.exhausted!({ orderIds: [id] }, new Error('retries used up'));
    await runVoidJobs(id, handlers);
    await simulator.charge({ orderId: id, amountCents: 500, currency: 'EUR' });
    expect(simulator.standingCharges()).toEqual([id]);
    return { id, simulator, handlers, processOrder };
  }

  it('when a job is delivered again for an order given up after its earlier attempt charged (and died before finishing), then that charge ends voided', async () => {
    const { id, simulator, processOrder } = await givenUpThenChargedByAJobThatDied();

    await processOrder.run({ orderIds: [id] }, attempt(1));
    expect((await orderOf(id))?.status).toBe('failed');
    expect(simulator.standingCharges()).toEqual([]);
    expect(await voidOf(id)).toEqual({ requests: 2, voided: true });
  });

  it('when a job charges an order after its give-up’s void ran and dies before recording the void, never to run again, then the reconciler voids it once more and the charge ends voided', async () => {
    // That job is not delivered again (BullMQ failed it as stalled too often, or it went with an embedded queue).
    const { id, simulator, handlers } = await givenUpThenChargedByAJobThatDied();
    // As if all of it happened 10 minutes ago (the void within a second of the give-up).
    await app.db.query("UPDATE payment_voids SET requested_at = requested_at - interval '10 minutes', voided_at = voided_at - interval '10 minutes' WHERE order_id = $1", [id]);

    const queue = createInProcessQueue({ handlers, concurrency: 1, backoff: { baseMs: 10, maxMs: 50 }, logger });
    const round = () => reconcileOnce({ db: app.db, orders: { findStalledOrderIds: () => Promise.resolve([]) }, queue, olderThanSeconds: 120, eventsRetentionHours: 48 });
    try {
      await round();
      await waitUntil(async () => (await voidOf(id))?.voided, 10_000, 'the reconciler’s second void to run');
      expect(simulator.standingCharges()).toEqual([]);
      expect(await voidOf(id)).toEqual({ requests: 2, voided: true });
      // Done long after the give-up, that void is final: later rounds leave it.
      await round();
      expect(await voidOf(id)).toEqual({ requests: 2, voided: true });
    } finally {
      await queue.close();
    }
  });

  it('when a duplicate job’s charge is approved for an order another job already completed, then that charge stands and nothing is voided', async () => {
    const simulator = createPaymentSimulator();
    const firstSlow = holdCharges(simulator, (n) => n === 0);
    const { voids, processOrder } = pipeline(firstSlow.provider);
    const id = await place();
    const slowJob = processOrder.run({ orderIds: [id] }, attempt(1));
    await waitUntil(() => firstSlow.started() === 1, 5000, 'the first job to be charging');
    await processOrder.run({ orderIds: [id] }, attempt(1));
    expect((await orderOf(id))?.status).toBe('completed');
    firstSlow.release();
    await slowJob;
    // Asked outright, too: a completed order's charge is never voided.
    await voids.voidSoon([id]);
    expect((await orderOf(id))?.status).toBe('completed');
    expect(simulator.standingCharges()).toEqual([id]);
    expect(await voidOf(id)).toBeUndefined();
  });

  it('when the provider cannot void for a while, then the void-payment job retries until the charge is voided, and the reconciler enqueues it again while it is owed', async () => {
    const simulator = createPaymentSimulator();
    let outage = 3;
    const flaky: PaymentSimulator = {
      ...simulator,
      void(request) {
        if (outage-- > 0) return Promise.reject(new TransientPaymentError('provider unavailable'));
        return simulator.void(request);
      },
    };
    const { handlers, processOrder } = pipeline(flaky);
    const id = await place();
    await app.db.query('INSERT INTO test_refused_completions (order_id) VALUES ($1)', [id]);
    await expect(processOrder.run({ orderIds: [id] }, attempt(1))).rejects.toThrow(/completion refused/);
    await processOrder.exhausted!({ orderIds: [id] }, new Error('completion refused'));

    // One attempt fails and leaves the void owed, with its error on record.
    const [job] = await voidJobsOf(id);
    await expect(handlers['void-payment'].run(job!.data, attempt(1))).rejects.toThrow(/1 of 1 payment voids failed: provider unavailable/);
    expect(await voidOf(id)).toEqual({ requests: 1, voided: false });
    expect(simulator.standingCharges()).toEqual([id]);

    // The queue's retries (in-process queue, same retry policy as BullMQ) get it done.
    const queue = createInProcessQueue({ handlers, concurrency: 1, backoff: { baseMs: 10, maxMs: 50 }, logger });
    try {
      await queue.add([job!]);
      await waitUntil(async () => (await voidOf(id))?.voided, 10_000, 'the charge to be voided by the retried job');
      expect(outage).toBeLessThan(0);
      expect(simulator.standingCharges()).toEqual([]);

      // Owed again with its job gone (as after a provider outage longer than the job's retries):
      // the reconciler's round enqueues it.
      await app.db.query('UPDATE payment_voids SET voided_at = NULL, requested_at = now() - interval \'1 hour\' WHERE order_id = $1', [id]);
      await reconcileOnce({ db: app.db, orders: { findStalledOrderIds: () => Promise.resolve([]) }, queue, olderThanSeconds: 60, eventsRetentionHours: 48 });
      await waitUntil(async () => (await voidOf(id))?.voided, 10_000, 'the reconciler’s void job to run');
    } finally {
      await queue.close();
    }
  });
});
