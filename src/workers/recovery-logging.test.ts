import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProduct } from '../../test/catalog.js';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { bearer, registerAdmin, registerUser } from '../../test/users.js';
import { waitUntil } from '../../test/wait.js';
import { QUEUE_NAME } from '../platform/queue/index.js';
import { queuePrefix } from '../platform/redis.js';
import { reconcileOnce, resumeUnfinishedWork } from './reconciler.js';

/** Logs are checked in the app's own captured lines (JSON, level info). */
describe('recovery is logged', () => {
  let app: TestApp;
  beforeAll(async () => {
    // No processing loops: the placed orders stay pending, as after a crash that lost their jobs.
    app = await startTestApp({ storage: 'pglite', captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when the reconciler picks up unfinished orders, then one line says how many', async () => {
    const admin = await registerAdmin(app);
    const buyer = await registerUser(app, 'buyer');
    const product = await createProduct(app, admin, { stock: 10 });
    for (let i = 0; i < 2; i++) {
      expect((await app.http.post('/api/orders').set(bearer(buyer)).send({ items: [{ productId: product.id, quantity: 1 }] })).status).toBe(201);
    }
    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 0, eventsRetentionHours: 48, logger: app.deps.logger });
    const lines = app.logs.filter((line) => line.message === 'reconciler picked up unfinished work');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', orders: 2, emails: 0 })]);
    // The jobs it enqueued run in this app's own queue: let them finish before the next case counts lines.
    await waitUntil(async () => {
      const counts = await app.queue.counts();
      return counts.waiting + counts.active + counts.delayed === 0;
    }, 20_000, 'the picked-up jobs to finish');
  });

  it('when there is nothing to pick up, then the reconciler says nothing', async () => {
    const before = app.logs.length;
    const quiet = await startTestApp({ storage: 'pglite', captureLogs: true });
    try {
      await reconcileOnce({ db: quiet.db, orders: quiet.deps.orders, queue: quiet.queue, olderThanSeconds: 0, eventsRetentionHours: 48, logger: quiet.deps.logger });
      expect(quiet.logs.filter((line) => String(line.message).startsWith('reconciler'))).toEqual([]);
    } finally {
      await quiet.close();
    }
    expect(app.logs.length).toBe(before);
  });
});

describe('unfinished work is read a page at a time', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Jobs wait in Redis (no worker here), so the emails stay unsent from round to round.
    app = await startTestApp({ storage: 'postgres', redis: true, captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  /** Three orders of a new user of that name, finished (`status`) an hour ago. */
  const finishedAnHourAgo = async (name: string, status: 'completed' | 'failed') => {
    const buyer = await registerUser(app, name);
    const orderIds = [randomUUID(), randomUUID(), randomUUID()];
    await app.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT id, $2, $3, 100, 'USD', '[]'::jsonb, now() - interval '1 hour', now() - interval '1 hour' FROM unnest($1::uuid[]) AS id`,
      [orderIds, buyer.id, status],
    );
    return orderIds;
  };

  it('the reconciler takes the next page of unsent emails each round and starts again from the oldest after the last', async () => {
    // Finished an hour ago, their emails owed and never sent (their jobs lost).
    const orderIds = await finishedAnHourAgo('buyer', 'completed');
    await app.db.query(
      `INSERT INTO email_deliveries (order_id, kind, created_at) SELECT id, 'order_confirmation', now() - interval '1 hour' FROM unnest($1::uuid[]) AS id`,
      [orderIds],
    );
    const emailWalk = { pageSize: 2 };
    const counts: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const before = app.logs.length;
      await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 60, eventsRetentionHours: 48, logger: app.deps.logger, emailWalk });
      counts.push(app.logs.slice(before).find((line) => line.message === 'reconciler picked up unfinished work')?.emails);
    }
    expect(counts).toEqual([2, 1, 2]);
  });

  it('when more orders and emails are unfinished than one page holds, then a start-up resume enqueues every one of them at once, not a page now and the rest by later reconciler rounds', async () => {
    const buyer = await registerUser(app, 'resumer');
    const pending = Array.from({ length: 5 }, () => randomUUID());
    const finished = Array.from({ length: 3 }, () => randomUUID());
    await app.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT id, $2, CASE WHEN id = ANY($3::uuid[]) THEN 'completed' ELSE 'pending' END, 100, 'USD', '[]'::jsonb, now(), now()
       FROM unnest($1::uuid[]) AS id`,
      [[...pending, ...finished], buyer.id, finished],
    );
    await app.db.query(`INSERT INTO email_deliveries (order_id, kind, created_at) SELECT id, 'order_confirmation', now() - interval '1 second' FROM unnest($1::uuid[]) AS id`, [finished]);
    // Other cases' unsent emails are unfinished work too (their jobs already wait: enqueued again, they are the same jobs).
    const { rows } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM email_deliveries WHERE status = 'pending' AND NOT order_id = ANY($1::uuid[])", [finished]);
    const waitingBefore = (await app.queue.counts()).waiting;
    await resumeUnfinishedWork({ db: app.db, orders: app.deps.orders, queue: app.queue, logger: app.deps.logger, emailWalk: { pageSize: 2 }, ordersPageSize: 2 });
    expect((await app.queue.counts()).waiting - waitingBefore).toBe(pending.length + finished.length);
    const lines = app.logs.filter((line) => line.message === 'resuming work left unfinished by the last run');
    expect(lines).toEqual([expect.objectContaining({ orders: pending.length, emails: finished.length + rows[0]!.n })]);
  });

  it("when an order was placed by an API host whose clock runs a day ahead of the database's and its job was lost, then the reconciler still re-enqueues it, not a day later", async () => {
    const buyer = await registerUser(app, 'skewed');
    // Placement is timed by the API host's clock; later moves never take an order's time back.
    await app.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       VALUES ($1, $2, 'pending', 100, 'USD', '[]'::jsonb, now() + interval '1 day', now() + interval '1 day')`,
      [randomUUID(), buyer.id],
    );
    const before = app.logs.length;
    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 60, eventsRetentionHours: 48, logger: app.deps.logger });
    expect(app.logs.slice(before).find((line) => line.message === 'reconciler picked up unfinished work')).toEqual(expect.objectContaining({ orders: 1 }));
  });

  it('the reconciler takes the next page of owed voids each round, so voids the provider keeps refusing cannot hide newer ones whose job was lost', async () => {
    // Failed (given up) an hour ago, their voids owed since and still not done; the oldest two
    // are refused by the provider every time, so they stay owed, and at the front, for good.
    const orderIds = await finishedAnHourAgo('refunded', 'failed');
    await app.db.query(
      `INSERT INTO payment_voids (order_id, requested_at)
       SELECT id, now() - interval '1 hour' + (ord || ' seconds')::interval FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)`,
      [orderIds],
    );
    const voidWalk = { pageSize: 2 };
    const picked: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const before = app.logs.length;
      await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 60, eventsRetentionHours: 48, logger: app.deps.logger, voidWalk });
      picked.push(app.logs.slice(before).find((line) => line.message === 'reconciler picked up unfinished work')?.voids);
    }
    // The third, behind the two refused ones, is reached in the second round; then the walk starts over.
    expect(picked).toEqual([2, 1, 2]);
  });
});

describe('one job the reconciler cannot re-enqueue', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Jobs wait in Redis (no worker here), so what a round enqueued can be counted.
    app = await startTestApp({ storage: 'postgres', redis: true, captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when Redis refuses one job (its key holds something else), then the round logs it and still re-enqueues the other orders and the emails after it', async () => {
    const buyer = await registerUser(app, 'stalled');
    const pending = [randomUUID(), randomUUID(), randomUUID()].sort();
    const finished = randomUUID();
    // Untouched for an hour, their jobs lost; one order and one email owed after the bad job.
    await app.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT id, $2, CASE WHEN id = $3 THEN 'completed' ELSE 'pending' END, 100, 'USD', '[]'::jsonb,
              now() - interval '1 hour', now() - interval '1 hour' - (ord || ' seconds')::interval
       FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)`,
      [[...pending, finished], buyer.id, finished],
    );
    await app.db.query("INSERT INTO email_deliveries (order_id, kind, created_at) VALUES ($1, 'order_confirmation', now() - interval '1 hour')", [finished]);
    // The first job the round ensures: a key of the wrong type, so Redis answers WRONGTYPE for it alone.
    const stalledFirst = pending[2]!;
    await app.redis!.set(`${queuePrefix(app.config.redis.prefix)}:${QUEUE_NAME}:process-order-${stalledFirst}`, 'not a job');

    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 60, eventsRetentionHours: 48, logger: app.deps.logger });

    expect(app.logs.filter((line) => line.message === 'reconciler picked up unfinished work')).toEqual([expect.objectContaining({ orders: 2, emails: 1 })]);
    expect(app.logs.filter((line) => String(line.message).startsWith('reconciler could not re-enqueue'))).toEqual([
      expect.objectContaining({ level: 'warn', jobs: 1, jobIds: [`process-order-${stalledFirst}`], errorMessage: expect.stringMatching(/WRONGTYPE/) }),
    ]);
    // The two other orders' jobs and the email's wait for a worker.
    expect((await app.queue.counts()).waiting).toBe(3);
  });
});
