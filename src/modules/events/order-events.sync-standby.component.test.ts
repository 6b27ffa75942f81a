import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivatePostgres, type PrivatePostgres } from '../../../test/private-postgres.js';
import { waitUntil } from '../../../test/wait.js';
import { migrate, type Database } from '../../platform/db/index.js';
import { createPostgresDatabase } from '../../platform/db/postgres.js';
import { eventsAfter, lastSeq, logStateOf } from './order-events.repository.js';

// A server of the test's own: it makes every commit wait for a synchronous standby that never
// answers, which the shared server's other tests must not feel.
let server: PrivatePostgres;
let db: Database;
let admin: pg.Client;

beforeAll(async () => {
  server = await startPrivatePostgres();
  db = createPostgresDatabase(server.url, 4);
  await migrate(db);
  admin = new pg.Client({ connectionString: server.url });
  admin.on('error', () => undefined); // the server's shutdown at the end
  await admin.connect();
}, 60_000);

afterAll(async () => {
  // The server first: a read still waiting for the standby (a failed run) would hold the pool open.
  await server?.stop();
  await admin?.end().catch(() => undefined);
  await db?.close().catch(() => undefined);
});

const insertEvent = (outboxId: number, orderId: string) =>
  `INSERT INTO order_events (outbox_id, order_id, user_id, type, "order") VALUES (${outboxId}, '${orderId}', '${randomUUID()}', 'order.placed', '{}')`;

/** The server's sessions now waiting for the synchronous standby to confirm their commit. */
const waitingForStandby = async () =>
  (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'`)).rows.map((row) => row.pid);

describe('order event reads on a primary with a synchronous standby', () => {
  it('answer only once the standby holds what they read: a commit the standby never got is not handed out', async () => {
    const orderId = randomUUID();
    await admin.query(insertEvent(1, orderId));
    await server.set('synchronous_standby_names', 'a_standby_that_never_answers');

    // A commit whose wait for the standby ends early is visible on this server alone: what a
    // primary killed with kill -9 shows its other sessions for a moment (the standby never got
    // it, and the new primary will not have it). Cancelling the wait makes that state here.
    const writer = new pg.Client({ connectionString: server.url });
    await writer.connect();
    const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const written = writer.query(insertEvent(2, orderId));
    await waitUntil(async () => (await waitingForStandby()).includes(writerPid), 10_000, 'the write to wait for the standby');
    await admin.query('SELECT pg_cancel_backend($1)', [writerPid]);
    await written;
    await writer.end();
    // A plain read sees it: the state the reads below must not answer from.
    expect((await admin.query('SELECT seq FROM order_events ORDER BY seq')).rows.map((row: { seq: string }) => Number(row.seq))).toEqual([1, 2]);

    let settled = false;
    const reads = Promise.all([eventsAfter(db, 0, {}, 10), logStateOf(db, orderId), lastSeq(db)]).finally(() => {
      settled = true;
    });
    await waitUntil(async () => settled || (await waitingForStandby()).length >= 3, 10_000, 'the reads to answer or wait for the standby');
    expect(settled, 'a read answered with a commit the standby does not hold').toBe(false);

    // The standby requirement goes (here: dropped; in a real cluster the standby catches up), and
    // the reads answer with what is now safe to hand out.
    await server.set('synchronous_standby_names', '');
    const [events, state, last] = await reads;
    expect(events.map((event) => event.seq)).toEqual([1, 2]);
    expect(state.latest?.seq).toBe(2);
    expect(last).toBe(2);
  });
});
