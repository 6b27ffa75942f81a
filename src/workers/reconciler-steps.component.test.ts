import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestApp } from '../../test/harness.js';
import { startTcpProxy } from '../../test/processes.js';
import { registerUser } from '../../test/users.js';
import { findStalledOrderIds } from '../modules/orders/orders.repository.js';
import type { Database } from '../platform/db/index.js';
import { createPostgresDatabase } from '../platform/db/postgres.js';
import { createLogger } from '../platform/logger.js';
import { createInProcessQueue } from '../platform/queue/index.js';
import { ServiceUnavailableError } from '../shared/errors.js';
import { reconcileOnce } from './reconciler.js';

/**
 * A reconciler round's steps (record owed emails, re-enqueue stalled orders, owed emails and
 * voids, prune) are independent: one failing statement must not keep the others from running.
 */
describe('a reconciler step that fails', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Jobs wait in Redis (no worker here), so what a round enqueued can be counted.
    app = await startTestApp({ storage: 'postgres', redis: true, captureLogs: true });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when recording owed emails fails, then the round still re-enqueues stalled orders and owed emails, prunes, and fails with that one error', async () => {
    const buyer = await registerUser(app, 'stalled');
    const [pending, finished] = [randomUUID(), randomUUID()];
    // Untouched for an hour, their jobs lost: an order to process and an email to send.
    await app.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       SELECT id, $2, CASE WHEN id = $3 THEN 'completed' ELSE 'pending' END, 100, 'USD', '[]'::jsonb, now() - interval '1 hour', now() - interval '1 hour'
       FROM unnest($1::uuid[]) AS id`,
      [[pending, finished], buyer.id, finished],
    );
    await app.db.query("INSERT INTO email_deliveries (order_id, kind, created_at) VALUES ($1, 'order_confirmation', now() - interval '1 hour')", [finished]);
    await app.db.query("INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, 'old', 'h', now() - interval '3 days')", [buyer.id]);
    // The database refuses the statement that records owed emails (the only insert into email_deliveries a round makes).
    await app.db.exec(`
      CREATE FUNCTION refuse_email_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'email rows refused'; END $$;
      CREATE TRIGGER refuse_email_rows BEFORE INSERT ON email_deliveries FOR EACH STATEMENT EXECUTE FUNCTION refuse_email_rows();
    `);

    const round = reconcileOnce({ db: app.db, orders: app.deps.orders, queue: app.queue, olderThanSeconds: 60, eventsRetentionHours: 48, recordOwedEmails: true, logger: app.deps.logger });

    await expect(round).rejects.toThrow('email rows refused');
    expect(app.logs.filter((line) => line.message === 'reconciler picked up unfinished work')).toEqual([expect.objectContaining({ orders: 1, emails: 1 })]);
    expect((await app.queue.counts()).waiting).toBe(2);
    expect((await app.db.query("SELECT 1 FROM idempotency_keys WHERE key = 'old'")).rowCount).toBe(0);
  });
});

describe('a reconciler round while the database is down', () => {
  it('when the database cannot be reached, then the round fails after one statement and a ping, not one failure per step', async () => {
    const database = await createTestDatabase('postgres');
    const proxy = await startTcpProxy(Number(new URL(database.url!).port));
    const url = new URL(database.url!);
    url.port = String(proxy.port);
    const reached = createPostgresDatabase(url.toString(), 2);
    // Every statement and ping the round sends, counted on their way to the adapter.
    const sent: string[] = [];
    const db: Database = {
      ...reached,
      query: (text, params, options) => (sent.push(text), reached.query(text, params, options)),
      ping: () => (sent.push('ping'), reached.ping()),
    };
    const logger = createLogger({ level: 'error', format: 'json', silent: true });
    const queue = createInProcessQueue({ handlers: {}, concurrency: 1, backoff: { baseMs: 1000, maxMs: 1000 }, logger });
    try {
      await proxy.cut();
      const round = reconcileOnce({ db, orders: { findStalledOrderIds: (seconds) => findStalledOrderIds(db, seconds) }, queue, olderThanSeconds: 60, eventsRetentionHours: 48, recordOwedEmails: true });
      await expect(round).rejects.toBeInstanceOf(ServiceUnavailableError);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toBe('ping');
    } finally {
      await reached.close();
      await proxy.close();
      await database.drop();
    }
  });
});
