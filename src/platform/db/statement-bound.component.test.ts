import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/processes.js';
import { settledWithin, waitUntil } from '../../../test/wait.js';
import { ServiceUnavailableError } from '../../shared/errors.js';
import type { Database } from './database.js';
import { createPostgresDatabase } from './postgres.js';

/** The server cancels a statement after this (DATABASE_STATEMENT_TIMEOUT_MS); the client gives up 2 s later. */
const STATEMENT_TIMEOUT_MS = 1000;
const CLIENT_BOUND_MS = STATEMENT_TIMEOUT_MS + 2000;

const backendPid = async (on: Pick<Database, 'query'>) => (await on.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** How a statement ends, and after how long; `undefined` outcome: still unanswered after 10 s. */
async function outcomeOf(statement: Promise<unknown>): Promise<{ error: unknown; ms: number } | undefined> {
  const started = Date.now();
  const error = await settledWithin(
    statement.then(
      () => 'answered',
      (failure: unknown) => failure,
    ),
    10_000,
  );
  return error === undefined ? undefined : { error, ms: Date.now() - started };
}

/**
 * A database network that silently drops packets while a statement is in flight: the server's
 * statement timeout cannot answer, so only the client can bound the wait. The pools have one
 * connection, so a connection returned to the pool after its statement was given up would be
 * the very one the next statement gets.
 */
describe('a statement in flight when the database network goes silent', () => {
  let database: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    await proxy?.close();
    await database?.drop();
  });

  async function proxiedDatabase(): Promise<Database> {
    database = await createTestDatabase('postgres');
    proxy = await startTcpProxy(Number(new URL(database.url!).port));
    const url = new URL(database.url!);
    url.port = String(proxy.port);
    db = createPostgresDatabase(url.toString(), 1, { statementTimeoutMs: STATEMENT_TIMEOUT_MS });
    return db;
  }

  const backendGone = (pid: number) => async () => (await database!.db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0;

  it('when a statement gets no answer, then it fails with 503 shortly after the statement timeout and its connection is discarded', async () => {
    const pool = await proxiedDatabase();
    const before = await backendPid(pool);

    proxy!.stall();
    const outcome = await outcomeOf(pool.query('SELECT 1'));
    expect(outcome, 'the statement was still waiting after 10 s').toBeDefined();
    expect(outcome!.error).toBeInstanceOf(ServiceUnavailableError);
    expect(outcome!.ms).toBeGreaterThanOrEqual(CLIENT_BOUND_MS - 50);
    expect(outcome!.ms).toBeLessThan(CLIENT_BOUND_MS + 2000);

    proxy!.resume();
    expect(await backendPid(pool)).not.toBe(before);
    // Its socket was closed, not left to TCP: the server sees the connection go once packets flow.
    await waitUntil(backendGone(before), 10_000, 'the given-up connection to end on the server');
  });

  it('when a statement of a transaction gets no answer, then the transaction fails with 503 and none of it is committed', async () => {
    const pool = await proxiedDatabase();
    await pool.exec('CREATE TABLE bound_probe (id int)');
    const before = await backendPid(pool);

    const transaction = pool.transaction(async (tx) => {
      await tx.query('INSERT INTO bound_probe VALUES (1)');
      proxy!.stall();
      await tx.query('SELECT 1');
    });
    const outcome = await outcomeOf(transaction);
    expect(outcome, 'the transaction was still waiting after 10 s').toBeDefined();
    expect(outcome!.error).toBeInstanceOf(ServiceUnavailableError);
    expect(outcome!.ms).toBeLessThan(CLIENT_BOUND_MS + 2000);

    proxy!.resume();
    await waitUntil(backendGone(before), 10_000, 'the given-up connection to end on the server');
    expect((await pool.query('SELECT id FROM bound_probe')).rows).toEqual([]);
  });

  it('when a session runs without a statement timeout (a migration) and LISTEN idles past the bound, then neither is cut', async () => {
    const pool = await proxiedDatabase();
    let notified = 0;
    const stopListening = await pool.listen('bound_probe', () => notified++);
    const listener = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`;
    const listening = await waitUntil(async () => (await database!.db.query<{ pid: number }>(listener)).rows[0]?.pid, 10_000, 'the LISTEN connection');

    const slept = await pool.session(async (session) => {
      await session.query('SET statement_timeout = 0');
      return session.query(`SELECT pg_sleep(${(CLIENT_BOUND_MS + 500) / 1000})`);
    });
    expect(slept.rowCount).toBe(1);

    await database!.db.query("NOTIFY bound_probe, 'after'");
    await waitUntil(() => notified > 0, 10_000, 'the notification');
    expect(notified).toBe(1);
    expect((await database!.db.query<{ pid: number }>(listener)).rows.map((row) => row.pid)).toEqual([listening]);
    await stopListening();
  });
});
