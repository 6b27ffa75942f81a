import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct, stockOf } from '../../test/catalog.js';
import { createTestDatabase, startTestApp, type TestApp } from '../../test/harness.js';
import { waitUntil } from '../../test/processes.js';
import { bearer, registerAdmin, registerUser, type TestUser } from '../../test/users.js';
import { auditStock } from '../modules/catalog/index.js';

/** The value of the Prometheus sample `name` whose labels include `labels` (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return 0;
}

interface OrderBody {
  id: string;
  status: string;
  failureReason: string | null;
  history: { status: string }[];
}

/** The embedded default: PGlite, in-process queue, mail written as .eml files. */
describe('order processing in the embedded default', () => {
  let app: TestApp;
  let admin: TestUser;
  let buyer: TestUser;

  beforeAll(async () => {
    app = await startTestApp({ storage: 'pglite', processing: true, env: { PAYMENT_DECLINE_ABOVE_CENTS: '100000' } });
    admin = await registerAdmin(app);
    buyer = await registerUser(app, 'buyer');
  });
  afterAll(async () => {
    for (const row of await auditStock(app.db)) {
      expect(row.onHand).toBe(row.ledgerOnHand);
      expect(row.reserved).toBe(row.ledgerReserved);
    }
    await app.close();
  });

  const mailFiles = () => {
    try {
      return readdirSync(path.join(app.config.dataDir, 'mail'));
    } catch {
      return [];
    }
  };
  const mailFor = (orderId: string) => mailFiles().filter((file) => file.includes(orderId));

  async function placeAndWait(items: { productId: string; quantity: number }[], final: string[]): Promise<OrderBody> {
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items });
    expect(placed.status).toBe(201);
    return waitUntil(
      async () => {
        const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
        return final.includes(res.body.status as string) ? (res.body as OrderBody) : undefined;
      },
      15_000,
      `order ${placed.body.id} to finish`,
    );
  }

  it('completes an order: history in order, stock sold, one confirmation .eml naming the order', async () => {
    const product = await createProduct(app, admin, { stock: 10, priceCents: 2500 });
    const order = await placeAndWait([{ productId: product.id, quantity: 3 }], ['completed', 'failed']);
    expect(order.status).toBe('completed');
    expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 7, reserved: 0 });

    const files = await waitUntil(() => (mailFor(order.id).length > 0 ? mailFor(order.id) : undefined), 10_000, 'the email file');
    expect(files).toHaveLength(1);
    const eml = readFileSync(path.join(app.config.dataDir, 'mail', files[0]!), 'utf8');
    expect(eml).toContain(`Subject: Order ${order.id} confirmed`);
    expect(eml).toContain('$75.00');
    expect(eml).toMatch(/Content-Type: text\/html/);
  });

  it('declines an order above PAYMENT_DECLINE_ABOVE_CENTS: failed with a reason, stock released, one failure email', async () => {
    const product = await createProduct(app, admin, { stock: 10, priceCents: 60_000 });
    const order = await placeAndWait([{ productId: product.id, quantity: 2 }], ['completed', 'failed']);
    expect(order.status).toBe('failed');
    expect(order.failureReason).toMatch(/declined/i);
    expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'failed']);
    expect(await stockOf(app, product.id)).toEqual({ onHand: 10, reserved: 0 });
    const files = await waitUntil(() => (mailFor(order.id).length > 0 ? mailFor(order.id) : undefined), 10_000, 'the email file');
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(app.config.dataDir, 'mail', files[0]!), 'utf8')).toContain(`Subject: Order ${order.id} could not be completed`);
  });

  it('/metrics shows orders, cache lookups, emails, queue depth and request durations moving', async () => {
    const before = (await app.http.get('/metrics')).text;
    const product = await createProduct(app, admin, { stock: 5, priceCents: 100 });
    const order = await placeAndWait([{ productId: product.id, quantity: 1 }], ['completed']);
    await app.http.get(`/api/orders/${order.id}`).set(bearer(buyer)).expect(200);
    // One source of truth: the email counts as sent in /metrics only after the database marks
    // it sent, which comes after its file is written; waiting on the file would race that.
    const emailSent = (text: string) =>
      sample(text, 'emails_total', { event: 'sent' }) > sample(before, 'emails_total', { event: 'sent' }) &&
      sample(text, 'order_stage_seconds_count', { stage: 'finished_to_email_sent' }) > sample(before, 'order_stage_seconds_count', { stage: 'finished_to_email_sent' });
    const res = await waitUntil(
      async () => {
        const scraped = await app.http.get('/metrics');
        return emailSent(scraped.text) ? scraped : undefined;
      },
      10_000,
      'the sent email in /metrics',
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const after = res.text;
    const grew: [string, Record<string, string>][] = [
      ['orders_total', { event: 'placed' }],
      ['orders_total', { event: 'completed' }],
      ['emails_total', { event: 'sent' }],
      ['order_cache_lookups_total', { result: 'hit' }],
      ['order_placed_to_finished_seconds_count', { status: 'completed' }],
      ['http_request_duration_seconds_count', { method: 'POST', route: '/api/orders', status: '201' }],
      ['order_stage_seconds_count', { stage: 'placed_to_processing' }],
      ['order_stage_seconds_count', { stage: 'processing_to_finished' }],
      ['order_stage_seconds_count', { stage: 'finished_to_email_sent' }],
    ];
    for (const [name, labels] of grew) {
      expect(sample(after, name, labels), `${name} ${JSON.stringify(labels)}`).toBeGreaterThan(sample(before, name, labels));
    }
    expect(sample(after, 'queue_jobs', { state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(after).toMatch(/^queue_jobs\{/m);
    expect(after).toMatch(/^process_resident_memory_bytes/m);
    expect(after).toMatch(/^outbox_relay_batch_size_count\{.*\} [1-9]/m);
    // Nothing is left unprocessed here, so processing is not behind.
    expect(after).toMatch(/^order_processing_lag_seconds\{.*\} 0$/m);
    expect(after).toMatch(/^email_delivery_lag_seconds\{.*\} 0$/m);
  });

  it('logs one JSON line per request and per job, with request id, user, route, outcome and duration, and never a token', async () => {
    const logged = await startTestApp({ storage: 'pglite', processing: true, captureLogs: true });
    try {
      const shopper = await registerUser(logged, 'logged');
      const boss = await registerAdmin(logged);
      const product = await createProduct(logged, boss, { stock: 3 });
      const placed = await logged.http
        .post('/api/orders')
        .set(bearer(shopper))
        .set('X-Request-Id', 'trace-me-123')
        .send({ items: [{ productId: product.id, quantity: 1 }] });
      expect(placed.status).toBe(201);
      await waitUntil(() => logged.logs.find((l) => l.message === 'job' && l.job === 'send-order-email' && l.orderId === placed.body.id), 10_000, 'the email job line');

      expect(logged.logs).toContainEqual(
        expect.objectContaining({
          message: 'request',
          method: 'POST',
          route: '/api/orders',
          status: 201,
          requestId: 'trace-me-123',
          userId: shopper.id,
          location: `/api/orders/${placed.body.id}`,
          durationMs: expect.any(Number),
        }),
      );
      expect(logged.logs).toContainEqual(expect.objectContaining({ message: 'order placed', orderId: placed.body.id, userId: shopper.id }));
      expect(logged.logs).toContainEqual(
        expect.objectContaining({ message: 'job', job: 'process-order', orderId: placed.body.id, attempt: 1, outcome: 'completed', durationMs: expect.any(Number) }),
      );
      const everything = JSON.stringify(logged.logs);
      expect(everything).not.toContain(shopper.accessToken);
      expect(everything).not.toContain(shopper.refreshToken);
      expect(everything).not.toContain(shopper.password);
    } finally {
      await logged.close();
    }
  });

  it('leaves a cancelled order cancelled and sends no email', async () => {
    const product = await createProduct(app, admin, { stock: 5 });
    const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
    const cancel = await app.http.post(`/api/orders/${placed.body.id}/cancel`).set(bearer(buyer));
    // Processing may win the race; either way the outcome must be consistent.
    if (cancel.status === 200) {
      // Once the cancellation's event is relayed and its job has run, nothing else can follow.
      await waitUntil(
        async () => {
          const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL');
          const counts = await app.queue.counts();
          return rows[0]?.n === 0 && counts.waiting + counts.active + counts.delayed === 0;
        },
        10_000,
        'the cancellation to be relayed and handled',
      );
      const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
      expect(res.body.status).toBe('cancelled');
      expect(mailFor(placed.body.id as string)).toEqual([]);
      expect(await stockOf(app, product.id)).toEqual({ onHand: 5, reserved: 0 });
    } else {
      expect(cancel.body.code).toBe('ORDER_NOT_CANCELLABLE');
    }
  });
});

describe('order processing retries', () => {
  it('when payment fails transiently, then the order is retried and completes', async () => {
    const app = await startTestApp({ storage: 'pglite', processing: true, env: { PAYMENT_SIMULATOR_TRANSIENT_FAILURES: '3' } });
    try {
      const admin = await registerAdmin(app);
      const buyer = await registerUser(app);
      const product = await createProduct(app, admin, { stock: 4 });
      const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
      const order = await waitUntil(
        async () => {
          const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
          return res.body.status === 'completed' ? (res.body as OrderBody) : undefined;
        },
        15_000,
        'completion after retries',
      );
      expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'completed']);
      expect(await stockOf(app, product.id)).toEqual({ onHand: 3, reserved: 0 });
    } finally {
      await app.close();
    }
  });

  it('when every attempt fails, then the order ends failed with its stock released, never stuck in processing', async () => {
    const app = await startTestApp({ storage: 'pglite', processing: true, env: { PAYMENT_SIMULATOR_TRANSIENT_FAILURES: '1000' } });
    try {
      const admin = await registerAdmin(app);
      const buyer = await registerUser(app);
      const product = await createProduct(app, admin, { stock: 4 });
      const placed = await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 2 }] });
      const order = await waitUntil(
        async () => {
          const res = await app.http.get(`/api/orders/${placed.body.id}`).set(bearer(buyer));
          return res.body.status === 'failed' ? (res.body as OrderBody) : undefined;
        },
        20_000,
        'the order to fail',
      );
      expect(order.failureReason).toMatch(/repeated errors/);
      expect(order.history.map((h) => h.status)).toEqual(['pending', 'processing', 'failed']);
      expect(await stockOf(app, product.id)).toEqual({ onHand: 4, reserved: 0 });
    } finally {
      await app.close();
    }
  });
});

describe('the embedded default across a restart', () => {
  it('when orders were left unfinished by the last run, then the next start resumes them at once and says so', async () => {
    const database = await createTestDatabase('pglite');
    try {
      // First run: orders are placed, and their events were relayed into the in-process queue,
      // which the shutdown took with it (no processing ran: the orders stay pending).
      const first = await startTestApp({ storage: 'pglite', database });
      const admin = await registerAdmin(first);
      const buyer = await registerUser(first);
      const product = await createProduct(first, admin, { stock: 5 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const placed = await first.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] });
        expect(placed.status).toBe(201);
        ids.push(placed.body.id as string);
      }
      await first.db.query('UPDATE outbox_events SET published_at = now()');
      await first.close();

      // Next start, with the reconciler far away: only the resume at start-up can finish them.
      const next = await startTestApp({ storage: 'pglite', database, processing: true, captureLogs: true, env: { RECONCILE_AFTER_SECONDS: '3600' } });
      try {
        await waitUntil(
          async () => {
            const { rows } = await next.db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND status = 'completed'", [ids]);
            return rows[0]?.n === ids.length;
          },
          10_000,
          'the unfinished orders to complete',
        );
        // Said once the resume has enqueued everything (orders, then emails and payment voids): the
        // orders may complete before it is said.
        const said = await waitUntil(() => next.logs.find((line) => line.message === 'resuming work left unfinished by the last run'), 10_000, 'the resume line');
        expect(said).toMatchObject({ orders: 3, emails: 0, voids: 0, jobs: 3 });
        expect(await stockOf(next, product.id)).toEqual({ onHand: 2, reserved: 0 });
      } finally {
        await next.close();
      }
    } finally {
      await database.drop();
    }
  });
});
