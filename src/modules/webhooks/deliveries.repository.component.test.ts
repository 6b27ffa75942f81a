import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { holdDeliveryRow, untilWaitingForLock } from '../../../test/row-locks.js';
import { waitUntil } from '../../../test/wait.js';
import type { Database } from '../../platform/db/index.js';
import { createPostgresDatabase } from '../../platform/db/postgres.js';
import { claimDueDeliveries, recordAttempt, type ClaimedDelivery } from './deliveries.repository.js';

const SECRET = 'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q=';

/** Claims made from several connections of real PostgreSQL at once, as several senders make them. */
describe('claiming webhook deliveries from several connections', () => {
  let database: TestDatabase;
  let senders: Database[];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // Each sender its own pool of one connection: its claims never share a connection with another's.
    senders = Array.from({ length: 4 }, () => createPostgresDatabase(database.url!, 1));
  });
  afterAll(async () => {
    for (const sender of senders) await sender.close();
    await database.drop();
  });
  beforeEach(async () => {
    await database.db.exec('TRUNCATE webhooks CASCADE');
  });

  async function addEndpoint(): Promise<string> {
    const { rows } = await database.db.query<{ id: string }>(
      `INSERT INTO webhooks (id, url, events, secret) VALUES (gen_random_uuid(), 'http://192.0.2.1/hook', ARRAY['order.placed'], $1) RETURNING id`,
      [SECRET],
    );
    return rows[0]!.id;
  }
  async function addDelivery(webhookId: string, seq: number, options: { status?: string; dueSecondsAgo?: number } = {}): Promise<string> {
    const { rows } = await database.db.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload, status, next_attempt_at)
       VALUES (gen_random_uuid(), $1, $2::int, 'order.placed', '{}', $3, now() - make_interval(secs => $4::int)) RETURNING id`,
      [webhookId, seq, options.status ?? 'pending', options.dueSecondsAgo ?? 1],
    );
    return rows[0]!.id;
  }
  const leasedOf = async (webhookId: string) =>
    (await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1 AND leased_until > now()', [webhookId])).rows[0]!.n;
  const claim = (db: Database) => claimDueDeliveries(db, { limit: 4, leaseMs: 60_000, busyWebhookIds: [] });

  it('when another delivery of the endpoint becomes due first while a claim is under way, then a concurrent claim takes none of its deliveries', async () => {
    const webhookId = await addEndpoint();
    const first = await addDelivery(webhookId, 1, { dueSecondsAgo: 60 });
    // Failed for now, and due before the first one once redelivered.
    const redelivered = await addDelivery(webhookId, 2, { status: 'failed', dueSecondsAgo: 3600 });
    // A statement holding the first delivery's row (as a redelivery or a record does for a moment)
    // holds up the first claim after it has chosen that delivery.
    const holder = await holdDeliveryRow(database.db, first);
    const claimOne = claim(senders[0]!);
    await untilWaitingForLock(database.db, 'the first claim to wait for the held row');
    await database.db.query(`UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1`, [redelivered]);
    const claimTwo = await claim(senders[1]!);
    holder.release();
    await holder.released;
    const claimed = [...(await claimOne), ...claimTwo].filter((delivery) => delivery.webhookId === webhookId);
    expect(claimed.map((delivery) => delivery.id)).toHaveLength(1);
    expect(await leasedOf(webhookId)).toBe(1);
  });

  it('when several senders claim and record in a loop, then no endpoint ever has two attempts in flight', async () => {
    const endpoints = await Promise.all([1, 2, 3].map(() => addEndpoint()));
    for (const webhookId of endpoints) for (const seq of [1, 2, 3, 4, 5, 6]) await addDelivery(webhookId, seq);
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    let attempts = 0;
    const send = async (db: Database, delivery: ClaimedDelivery) => {
      if (inFlight.has(delivery.webhookId)) overlaps.push(delivery.webhookId);
      inFlight.add(delivery.webhookId);
      attempts++;
      await Promise.resolve();
      inFlight.delete(delivery.webhookId);
      // Every other attempt fails and is due again at once: the backlog keeps changing under the claims.
      await recordAttempt(db, delivery, { ok: attempts % 2 === 0, statusCode: 200, error: undefined, retryInMs: attempts % 2 === 0 ? undefined : 0 });
    };
    const loop = async (db: Database) => {
      for (let round = 0; round < 40; round++) {
        const claims = await claim(db);
        await Promise.all(claims.map((delivery) => send(db, delivery)));
      }
    };
    await Promise.all(senders.map(loop));
    expect(attempts).toBeGreaterThan(0);
    expect(overlaps).toEqual([]);
  });

  it('when a dead endpoint has a large backlog of due deliveries, then a claim reads only the deliveries it takes, not the backlog', async () => {
    const dead = await addEndpoint();
    const other = await addEndpoint();
    // A day of a busy shop's events for an endpoint that does not answer: all of them due now.
    await database.db.query(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload, next_attempt_at)
       SELECT gen_random_uuid(), $1, seq, 'order.placed', '{}', now() - make_interval(secs => seq) FROM generate_series(1, 20000) seq`,
      [dead],
    );
    const otherDelivery = await addDelivery(other, 1);
    // One of the dead endpoint's deliveries is in flight (its attempt waiting for the time-out).
    await database.db.query(`UPDATE webhook_deliveries SET leased_until = now() + interval '1 minute' WHERE webhook_id = $1 AND event_seq = 1`, [dead]);
    await database.db.exec('ANALYZE webhook_deliveries');
    const sender = senders[2]!;
    // Index entries and table rows the claim's statements read, from the statistics its
    // connection flushes before it answers (it is idle then).
    const rowsRead = async () => {
      await sender.query('SELECT pg_stat_force_next_flush()');
      const { rows } = await database.db.query<{ n: string }>(
        `SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'webhook_deliveries')
              + (SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries') AS n`,
      );
      return Number(rows[0]!.n);
    };
    const before = await rowsRead();
    const claimed = await claim(sender);
    const read = (await rowsRead()) - before;
    expect(claimed.map((delivery) => delivery.id)).toEqual([otherDelivery]);
    // Before: every claim (one per event signal, poll and finished attempt) read the backlog, twice.
    expect(read).toBeLessThan(100);
  });

  it('when a claim waits before it takes its delivery, then the lease runs from when it took it, not from when the claim began', async () => {
    const webhookId = await addEndpoint();
    const deliveryId = await addDelivery(webhookId, 1);
    const holder = await holdDeliveryRow(database.db, deliveryId);
    const claiming = claimDueDeliveries(senders[3]!, { limit: 4, leaseMs: 1000, busyWebhookIds: [] });
    await untilWaitingForLock(database.db, 'the claim to wait for the held row');
    // The claim waits longer than its lease.
    await waitUntil(
      async () =>
        (await database.db.query<{ late: boolean }>(`SELECT bool_or(now() - xact_start > interval '1500 milliseconds') AS late FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))
          .rows[0]!.late,
      10_000,
      'the claim to wait longer than its lease',
    );
    holder.release();
    await holder.released;
    const [claimed] = await claiming;
    expect(claimed?.id).toBe(deliveryId);
    // Still leased: its attempt is only starting, and no other sender may take the endpoint meanwhile.
    expect(await leasedOf(webhookId)).toBe(1);
  });
});
