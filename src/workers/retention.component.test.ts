import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, STORAGE_KINDS, type TestApp } from '../../test/harness.js';
import { reconcileOnce } from './reconciler.js';

/**
 * The reconciler's retention: published outbox rows go after 7 days, order events after their
 * retention, in bounded batches walked from the oldest rows (the outbox's DELETE read the whole
 * table every 30 s; the events' ran unbounded inside the relay's round).
 */
describe.each(STORAGE_KINDS)('retention on %s', (storage) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp({ storage });
  });
  afterAll(async () => {
    await app.close();
  });

  /** `rows` outbox rows written 9 days ago, published `publishedAgo` ago (null: never). */
  const outbox = (rows: number, publishedAgo: string | null) =>
    app.db.query(
      `INSERT INTO outbox_events (topic, aggregate_id, created_at, published_at, sequenced)
       SELECT 'order.placed', gen_random_uuid(), now() - interval '9 days', now() - $2::interval, true FROM generate_series(1, $1)`,
      [rows, publishedAgo],
    );
  const events = (rows: number, age: string) =>
    app.db.query(
      `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order", created_at)
       SELECT -(s + (SELECT count(*) FROM order_events)), gen_random_uuid(), $3::uuid, 'order.placed', '{}'::jsonb, now() - $2::interval
       FROM generate_series(1, $1) AS s`,
      [rows, age, randomUUID()],
    );

  it('deletes what is due, batch after batch, past a row at the front that is not due yet, and keeps the rest', async () => {
    await outbox(1, '1 hour'); // the oldest id, published late: not due
    await outbox(23, '8 days');
    await outbox(1, null); // never published: kept whatever its age
    await outbox(3, '1 hour');
    await events(11, '3 days');
    await events(2, '1 hour');

    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 600, eventsRetentionHours: 48, pruneBatch: 4 });

    const { rows } = await app.db.query<{ kept: number; unpublished: number; due: number }>(
      `SELECT count(*)::int AS kept, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished,
              count(*) FILTER (WHERE published_at < now() - interval '7 days')::int AS due FROM outbox_events`,
    );
    expect(rows).toEqual([{ kept: 5, unpublished: 1, due: 0 }]);
    const kept = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM order_events WHERE created_at > now() - interval '48 hours'");
    const all = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM order_events');
    expect([kept.rows[0]!.n, all.rows[0]!.n]).toEqual([2, 2]);
  });

  it('gets past a whole batch of old rows not due (never published) to the due rows behind them', async () => {
    await app.db.query('DELETE FROM outbox_events');
    await outbox(4, null);
    await outbox(9, '8 days');

    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 600, eventsRetentionHours: 48, pruneBatch: 4 });

    const { rows } = await app.db.query<{ kept: number; unpublished: number }>(
      'SELECT count(*)::int AS kept, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM outbox_events',
    );
    expect(rows).toEqual([{ kept: 4, unpublished: 4 }]);
  });

  it('deletes finished webhook deliveries 30 days after they finished, batch after batch, and keeps pending ones whatever their age', async () => {
    const webhookId = randomUUID();
    await app.db.query("INSERT INTO webhooks (id, url, events, description, secret) VALUES ($1, 'https://hooks.example.com/x', '{order.placed}', '', 'whsec_x')", [webhookId]);
    /** `rows` deliveries in `status`, last changed `age` ago. */
    const deliveries = (rows: number, status: string, age: string) =>
      app.db.query(
        `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload, status, created_at, updated_at)
         SELECT gen_random_uuid(), $1, (SELECT coalesce(max(event_seq), 0) FROM webhook_deliveries) + s, 'order.placed', '{}'::jsonb, $3,
                now() - $4::interval, now() - $4::interval
         FROM generate_series(1, $2) AS s`,
        [webhookId, rows, status, age],
      );
    await deliveries(6, 'succeeded', '31 days');
    await deliveries(3, 'failed', '40 days');
    await deliveries(2, 'pending', '60 days');
    await deliveries(2, 'succeeded', '29 days');

    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 600, eventsRetentionHours: 48, pruneBatch: 4 });

    const { rows } = await app.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY status ORDER BY status',
      [webhookId],
    );
    expect(rows).toEqual([
      { status: 'pending', n: 2 },
      { status: 'succeeded', n: 2 },
    ]);
  });

  it('deletes payment voids 30 days after they were voided, batch after batch, and keeps owed ones whatever their age', async () => {
    /** `rows` failed orders, each with a void requested `requestedAgo` ago and voided `voidedAgo` ago (null: still owed). */
    const voids = (rows: number, requestedAgo: string, voidedAgo: string | null) =>
      app.db.query(
        `WITH o AS (
           INSERT INTO orders (id, user_id, status, total_cents, currency, history)
           SELECT gen_random_uuid(), $4::uuid, 'failed', 500, 'EUR', '[]'::jsonb FROM generate_series(1, $1) RETURNING id)
         INSERT INTO payment_voids (order_id, requested_at, voided_at)
         SELECT id, now() - $2::interval, now() - $3::interval FROM o`,
        [rows, requestedAgo, voidedAgo, userId],
      );
    const userId = randomUUID();
    await app.db.query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Buyer', 'x')", [userId, `${userId}@example.com`]);
    await voids(6, '40 days', '31 days');
    await voids(3, '90 days', '89 days');
    await voids(2, '60 days', null); // owed for two months (the provider kept refusing): kept
    await voids(2, '40 days', '29 days');

    // Owed voids this old are not re-enqueued in this round (its void job would void them).
    const year = 365 * 24 * 3600;
    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: year, eventsRetentionHours: 48, pruneBatch: 4 });

    const { rows } = await app.db.query<{ owed: number; voided: number }>(
      'SELECT count(*) FILTER (WHERE voided_at IS NULL)::int AS owed, count(*) FILTER (WHERE voided_at IS NOT NULL)::int AS voided FROM payment_voids',
    );
    expect(rows).toEqual([{ owed: 2, voided: 2 }]);
  });

  it('deletes a login\'s refresh tokens once every one of them has expired, families at a time, and keeps every token of a login that can still refresh', async () => {
    const userId = randomUUID();
    await app.db.query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Refresher', 'x')", [userId, `${userId}@example.com`]);
    /** A family of `used` rotated tokens and its newest (unused) one, which expires `newestExpiresIn` from now; `revoked`: logged out. */
    const family = async (used: number, newestExpiresIn: string, revoked = false) => {
      const familyId = randomUUID();
      await app.db.query(
        `INSERT INTO refresh_tokens (user_id, family_id, token_hash, created_at, expires_at, used_at, revoked_at)
         SELECT $1, $2, md5(random()::text || s), now() - interval '40 days', now() + $4::interval - make_interval(mins => 15 * ($3 + 1 - s)),
                CASE WHEN s <= $3 THEN now() - interval '40 days' END, CASE WHEN $5 THEN now() - interval '35 days' END
         FROM generate_series(1, $3 + 1) AS s`,
        [userId, familyId, used, newestExpiresIn, revoked],
      );
      return familyId;
    };
    await Promise.all([family(3, '-2 days'), family(0, '-1 hour'), family(5, '-5 days', true), family(2, '-10 days'), family(1, '-3 days')]);
    const live = await Promise.all([family(4, '1 hour'), family(2, '20 days', true), family(0, '29 days')]);

    await reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 600, eventsRetentionHours: 48, pruneBatch: 4 });

    const { rows } = await app.db.query<{ familyId: string; tokens: number }>(
      'SELECT family_id AS "familyId", count(*)::int AS tokens FROM refresh_tokens WHERE user_id = $1 GROUP BY family_id',
      [userId],
    );
    expect(rows.map((row) => row.familyId).sort()).toEqual([...live].sort());
    expect(rows.reduce((sum, row) => sum + row.tokens, 0)).toBe(5 + 3 + 1);
  });

  it('deletes idempotency keys 48 hours after they were claimed, in batches bounded per round, and keeps younger ones', async () => {
    const userId = randomUUID();
    await app.db.query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Keyholder', 'x')", [userId, `${userId}@example.com`]);
    /** `rows` keys of this user claimed `age` ago. */
    const keys = (rows: number, age: string) =>
      app.db.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash, created_at)
         SELECT $1, $2 || s, 'h', now() - $4::interval FROM generate_series(1, $3) AS s`,
        [userId, `${age}-`, rows, age],
      );
    const left = async () =>
      (
        await app.db.query<{ old: number; young: number }>(
          `SELECT count(*) FILTER (WHERE created_at < now() - interval '48 hours')::int AS old,
                  count(*) FILTER (WHERE created_at >= now() - interval '48 hours')::int AS young
           FROM idempotency_keys WHERE user_id = $1`,
          [userId],
        )
      ).rows[0];
    // A backlog (after downtime, or a day of heavy traffic) larger than a round's 20 batches of 4.
    await keys(85, '3 days');
    await keys(3, '47 hours');

    const round = () => reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 600, eventsRetentionHours: 48, pruneBatch: 4 });
    // One DELETE of every due key held its row locks (and a placement re-using one of those keys)
    // for as long as the whole backlog took, and past the statement timeout it deleted nothing, ever.
    await round();
    expect(await left()).toEqual({ old: 85 - 20 * 4, young: 3 });
    await round();
    expect(await left()).toEqual({ old: 0, young: 3 });
  });
});
