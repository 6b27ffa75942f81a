import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import { waitUntil } from '../../../test/wait.js';
import { findOrders } from './orders.repository.js';
import { transitionManyAtomically } from './transition-order.repository.js';

/**
 * A status change is one moment: the history entry it appends and the order's `updatedAt` are the
 * same time, for every order the statement moves. (They were two clock readings: an order event's
 * snapshot, built while its status was current, showed `updatedAt`, and built after the next
 * change, the history's time; the two could straddle a millisecond.)
 */
describe.each(STORAGE_KINDS)('a batched status change on %s', (kind) => {
  let database: TestDatabase;
  const orderIds = Array.from({ length: 300 }, () => randomUUID());

  beforeAll(async () => {
    database = await createTestDatabase(kind, 2);
    const userId = randomUUID();
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Buyer', 'customer', 'x')", [userId, `${userId}@example.com`]);
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT id, $2, 'pending', 100, 'USD', jsonb_build_array(jsonb_build_object('status', 'pending', 'at', '2026-12-05T10:00:00.000Z')),
              '2026-12-05 10:00:00+00', '2026-12-05 10:00:00+00'
       FROM unnest($1::uuid[]) AS id`,
      [orderIds, userId],
    );
  });
  afterAll(async () => {
    await database.drop();
  });

  it('moves every order at one moment: its new history entry is its updatedAt, the same for all of them', async () => {
    const { moved } = await transitionManyAtomically(database.db, { orderIds, from: ['pending'], to: 'processing', stockEffect: undefined, publish: false, startsJobs: false });
    expect(moved).toHaveLength(orderIds.length);
    const read = await findOrders(database.db, orderIds);
    for (const { order } of [...moved, ...read]) {
      expect(order.history.at(-1)).toEqual({ status: 'processing', at: order.updatedAt });
    }
    const { rows } = await database.db.query<{ moments: number }>('SELECT count(DISTINCT updated_at)::int AS moments FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
    expect(rows).toEqual([{ moments: 1 }]);
  });
});

/**
 * Placement times an order by the API host's clock, status changes by the database's. A host
 * whose clock runs ahead of the database's must not make the order's later times earlier.
 */
describe.each(STORAGE_KINDS)('a status change of an order placed by a host whose clock runs ahead, on %s', (kind) => {
  let database: TestDatabase;
  const orderId = randomUUID();
  let placedAt = '';

  beforeAll(async () => {
    database = await createTestDatabase(kind, 2);
    const userId = randomUUID();
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Buyer', 'customer', 'x')", [userId, `${userId}@example.com`]);
    // An hour ahead of the database, as place-order.repository.ts writes it ($7: the app's clock).
    placedAt = new Date(Date.now() + 3_600_000).toISOString();
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       VALUES ($1, $2, 'pending', 100, 'USD', jsonb_build_array(jsonb_build_object('status', 'pending', 'at', $3::text)), $3::timestamptz, $3::timestamptz)`,
      [orderId, userId, placedAt],
    );
  });
  afterAll(async () => {
    await database.drop();
  });

  it('never moves its updatedAt or its history back in time, and keeps the two equal', async () => {
    const move = async (from: 'pending' | 'processing', to: 'processing' | 'completed') => {
      const { moved } = await transitionManyAtomically(database.db, { orderIds: [orderId], from: [from], to, stockEffect: undefined, publish: false, startsJobs: false });
      return moved[0]!.order;
    };
    const processing = await move('pending', 'processing');
    const completed = await move('processing', 'completed');
    const [read] = await findOrders(database.db, [orderId]);
    for (const order of [processing, completed, read!.order]) {
      expect(order.updatedAt >= placedAt).toBe(true);
      expect(order.history.at(-1)!.at).toBe(order.updatedAt);
    }
    const times = read!.order.history.map((entry) => entry.at);
    expect(times).toEqual([...times].sort());
    expect(completed.updatedAt >= processing.updatedAt).toBe(true);
  });
});

describe('a status change that waits for another transaction on PostgreSQL', () => {
  let database: TestDatabase;
  const orderId = randomUUID();

  beforeAll(async () => {
    database = await createTestDatabase('postgres', 3);
    const userId = randomUUID();
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Buyer', 'customer', 'x')", [userId, `${userId}@example.com`]);
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       VALUES ($1, $2, 'pending', 100, 'USD', '[{"status": "pending", "at": "2026-12-05T10:00:00.000Z"}]', '2026-12-05 10:00:00+00', '2026-12-05 10:00:00+00')`,
      [orderId, userId],
    );
  });
  afterAll(async () => {
    await database.drop();
  });

  it('is timed after the lock it waited for is released, not when its statement began', async () => {
    let releasedAt = '';
    let change: ReturnType<typeof transitionManyAtomically> | undefined;
    await database.db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [orderId]);
      change = transitionManyAtomically(database.db, { orderIds: [orderId], from: ['pending'], to: 'processing', stockEffect: undefined, publish: false, startsJobs: false });
      await waitUntil(
        async () => {
          const { rows } = await database.db.query<{ waiting: boolean }>(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE '%moment AS MATERIALIZED%') AS waiting",
          );
          return rows[0]!.waiting;
        },
        10_000,
        'the status change waiting for the order lock',
      );
      const { rows } = await tx.query<{ at: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`);
      releasedAt = rows[0]!.at;
    });
    const { moved } = await change!;
    expect(moved[0]!.order.history.at(-1)!.at >= releasedAt).toBe(true);
  });
});
