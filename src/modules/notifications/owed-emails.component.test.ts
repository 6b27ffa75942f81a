import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import { MIGRATIONS_DIR } from '../../platform/db/migrate.js';
import { transitionManyAtomically } from '../orders/transition-order.repository.js';
import { claimDeliveries, findMissingEmails, markSent, markUndeliverable, oldestPendingEmailSeconds, recordOwedEmails } from './email-deliveries.repository.js';

const MIGRATION = readFileSync(path.join(MIGRATIONS_DIR, '20261206040000_email_owed_at_finish.sql'), 'utf8');

/**
 * An owed email is on record from the statement that finishes its order, so the reconciler
 * finds unsent ones among the pending rows alone (it scanned every finished order before).
 */
describe.each(STORAGE_KINDS)('emails owed by finished orders, on %s', (kind) => {
  let database: TestDatabase;
  const completed = Array.from({ length: 4 }, () => randomUUID());
  const failed = Array.from({ length: 2 }, () => randomUUID());
  const cancelled = randomUUID();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const userId = randomUUID();
    await database.db.query("INSERT INTO users (id, email, name, role, password_hash) VALUES ($1, $2, 'Buyer', 'customer', 'x')", [userId, `${userId}@example.com`]);
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history)
       SELECT id, $2, 'pending', 100, 'USD', '[]'::jsonb FROM unnest($1::uuid[]) AS id`,
      [[...completed, ...failed, cancelled], userId],
    );
    const move = (orderIds: string[], from: 'pending' | 'processing', to: 'processing' | 'completed' | 'failed' | 'cancelled') =>
      transitionManyAtomically(database.db, { orderIds, from: [from], to, stockEffect: undefined, publish: false, startsJobs: false });
    await move([...completed, ...failed], 'pending', 'processing');
    await move(completed, 'processing', 'completed');
    await move(failed, 'processing', 'failed');
    await move([cancelled], 'pending', 'cancelled');
  });
  afterAll(async () => {
    await database.drop();
  });

  const rowsOf = async () =>
    (
      await database.db.query<{ order_id: string; kind: string; status: string; attempts: number; message_id: string | null; owed_at_finish: boolean }>(
        `SELECT d.order_id, d.kind, d.status, d.attempts, d.message_id, d.created_at = o.updated_at AS owed_at_finish
         FROM email_deliveries d JOIN orders o ON o.id = d.order_id ORDER BY d.order_id`,
      )
    ).rows;

  it('the statement that finishes an order writes its email unsent, timed at the finish; a cancellation owes none', async () => {
    const expected = [
      ...completed.map((id) => ({ order_id: id, kind: 'order_confirmation' })),
      ...failed.map((id) => ({ order_id: id, kind: 'order_failure' })),
    ].sort((a, b) => a.order_id.localeCompare(b.order_id));
    expect(await rowsOf()).toEqual(expected.map((row) => ({ ...row, status: 'pending', attempts: 0, message_id: null, owed_at_finish: true })));
    // The metrics gauge sees them waiting (0 only when nothing is owed).
    expect(await oldestPendingEmailSeconds(database.db)).toBeGreaterThan(0);
  });

  it('the reconciler finds the pending ones not claimed right now, and none that was sent or refused for good', async () => {
    const [sent, refused, claimed, ...rest] = completed;
    await markSent(database.db, [sent!], 'order_confirmation');
    const claim = await claimDeliveries(database.db, { kind: 'order_confirmation', deliveries: [{ orderId: refused!, messageId: '<m@shop>' }], leaseSeconds: 60 });
    await markUndeliverable(database.db, claim.token, [{ orderId: refused!, error: '550 No such user here' }], 'order_confirmation');
    await database.db.query("UPDATE email_deliveries SET claimed_until = now() + interval '1 minute' WHERE order_id = $1", [claimed]);

    const missing = (await findMissingEmails(database.db, 0)).emails;
    expect(missing.map((m) => `${m.kind}:${m.orderId}`).sort()).toEqual(
      [...rest.map((id) => `order_confirmation:${id}`), ...failed.map((id) => `order_failure:${id}`)].sort(),
    );
    // Owed for less time than asked: left to the job that is sending it.
    expect((await findMissingEmails(database.db, 3600)).emails).toEqual([]);
  });

  it('the reconciler walks the unsent emails a page per round, then starts again from the oldest: a full page that keeps failing hides no newer one', async () => {
    const all = (await findMissingEmails(database.db, 0)).emails.map((m) => `${m.kind}:${m.orderId}`);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const walked: string[] = [];
    let after: Awaited<ReturnType<typeof findMissingEmails>>['next'];
    for (let round = 0; round < all.length; round++) {
      const page = await findMissingEmails(database.db, 0, { limit: 2, ...(after ? { after } : {}) });
      walked.push(...page.emails.map((m) => `${m.kind}:${m.orderId}`));
      after = page.next;
      if (!after) break;
    }
    // Every one once, in the order of a single read, and the walk ended (the next round starts over).
    expect(walked).toEqual(all);
    expect(after).toBeUndefined();
    expect((await findMissingEmails(database.db, 0, { limit: 2 })).emails.map((m) => `${m.kind}:${m.orderId}`)).toEqual(all.slice(0, 2));
  });

  it('the migration records the emails of orders finished before it, and leaves existing rows as they are', async () => {
    const before = await rowsOf();
    await database.db.query('DELETE FROM email_deliveries WHERE order_id = ANY($1::uuid[])', [[completed[3], failed[0]]]);

    await database.db.exec(MIGRATION);

    expect(await rowsOf()).toEqual(before);
  });

  it("the reconciler's sweep records the email of an order a previous version finished lately without its row, however long ago it was placed", async () => {
    const [recent, older] = [randomUUID(), randomUUID()];
    const userId = (await database.db.query<{ user_id: string }>('SELECT user_id FROM orders LIMIT 1')).rows[0]!.user_id;
    // As a previous version's finishing statement left them: finished, no email row. Both placed
    // three hours ago; one finished ten minutes ago, the other two hours ago.
    await database.db.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       VALUES ($1, $3, 'completed', 100, 'USD', '[]'::jsonb, now() - interval '3 hours', now() - interval '10 minutes'),
              ($2, $3, 'failed', 100, 'USD', '[]'::jsonb, now() - interval '3 hours', now() - interval '2 hours')`,
      [recent, older, userId],
    );

    expect(await recordOwedEmails(database.db, 1)).toBe(1);
    expect(await recordOwedEmails(database.db, 1)).toBe(0);
    const { rows } = await database.db.query<{ order_id: string; kind: string; status: string }>(
      'SELECT order_id, kind, status FROM email_deliveries WHERE order_id = ANY($1::uuid[])',
      [[recent, older]],
    );
    expect(rows).toEqual([{ order_id: recent, kind: 'order_confirmation', status: 'pending' }]);
  });
});
