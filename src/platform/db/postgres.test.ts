import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_ADMIN_URL } from '../../../test/global-setup.js';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { waitUntil } from '../../../test/processes.js';
import { ServiceUnavailableError } from '../../shared/errors.js';
import { createPostgresDatabase } from './postgres.js';
import type { Database } from './database.js';

/**
 * What a PostgreSQL failover looks like to the pool: backends terminated (57P01, "Connection
 * terminated"), and connections left on a server that became read-only (25006). Each is a 503
 * for the request at hand, and the pool recovers by itself without a restart.
 */
describe('PostgreSQL pool across a failover', () => {
  let database: TestDatabase;
  let db: Database;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    // A pool of one: recovering means replacing that very connection.
    db = createPostgresDatabase(database.url!, 1);
    admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    await db.exec('CREATE TABLE failover_probe (id int)');
  });
  afterAll(async () => {
    await admin.end();
    await db.close();
    await database.drop();
  });

  const backendPid = async (on: Pick<Database, 'query'> = db) =>
    (await on.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);

  it('when the backend of a running transaction is terminated, then that transaction fails with 503 and the next query gets a new connection', async () => {
    const outcome = db.transaction(async (tx) => {
      const pid = await backendPid(tx);
      await terminate(pid);
      // The termination notice reaches the idle checked-out client first; it must not crash the process.
      await waitUntil(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 10_000, 'the backend to go');
      await tx.query('INSERT INTO failover_probe VALUES (1)');
    });
    await expect(outcome).rejects.toBeInstanceOf(ServiceUnavailableError);
    await db.query('INSERT INTO failover_probe VALUES (2)');
    const { rows } = await db.query<{ id: number }>('SELECT id FROM failover_probe ORDER BY id');
    expect(rows).toEqual([{ id: 2 }]);
  });

  it('when an idle pooled connection is terminated, then queries answer 503 at most until the pool reconnects, without a restart', async () => {
    const before = await backendPid();
    await terminate(before);
    const after = await waitUntil(
      () =>
        backendPid().catch((error: unknown) => {
          // The only acceptable failure on the way is the 503 kind.
          expect(error).toBeInstanceOf(ServiceUnavailableError);
          return undefined;
        }),
      10_000,
      'a fresh connection',
    );
    expect(after).not.toBe(before);
  });

  it('when the connection is on a server that turned read-only (a demoted primary, 25006), then the write is a 503 and the connection is replaced', async () => {
    const pid = await backendPid();
    await db.exec('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    await expect(db.query('INSERT INTO failover_probe VALUES (3)')).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(await backendPid()).not.toBe(pid);
    await db.transaction((tx) => tx.query('INSERT INTO failover_probe VALUES (4)'));
  });

  it('when the server takes no writes (a standby or a demoted primary), then ping fails, so /health/ready names the database', async () => {
    // Every session of this pool is read-only, as on a hot standby: SELECT 1 works, every write is 25006.
    const url = new URL(database.url!);
    url.searchParams.set('options', '-c default_transaction_read_only=on');
    const readOnly = createPostgresDatabase(url.toString(), 1);
    try {
      await expect(readOnly.query('INSERT INTO failover_probe VALUES (5)')).rejects.toBeInstanceOf(ServiceUnavailableError);
      // The readiness check of the database is this ping (runtime.ts).
      await expect(readOnly.ping()).rejects.toBeInstanceOf(ServiceUnavailableError);
    } finally {
      await readOnly.close();
    }
    await db.ping();
  });
});
