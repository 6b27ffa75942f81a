import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { migrate, type Database } from '../src/platform/db/index.js';
import { createPostgresDatabase } from '../src/platform/db/postgres.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';
import { waitUntil } from './wait.js';

/**
 * A migrated PostgreSQL server of the test's own, for reads on a primary with a synchronous
 * standby: `server.set('synchronous_standby_names', …)` makes every commit wait for a standby
 * that never answers, which the shared server's other tests must not feel.
 */
export interface StandbyTestServer {
  server: PrivatePostgres;
  /** The service's pool on it. */
  db: Database;
  /** A session of the test's own. */
  admin: pg.Client;
  /** The server's sessions now waiting for the synchronous standby to confirm their commit. */
  waitingForStandby(): Promise<number[]>;
  /**
   * Runs `sql` in a commit whose wait for the standby ends early: visible on this server alone,
   * as a primary killed with kill -9 shows its other sessions for a moment (the standby never
   * got it, and the new primary will not have it). Cancelling the wait makes that state here.
   */
  commitSeenHereOnly(sql: string, params?: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

async function startStandbyTestServer(): Promise<StandbyTestServer> {
  const server = await startPrivatePostgres();
  const db = createPostgresDatabase(server.url, 4);
  await migrate(db);
  const admin = new pg.Client({ connectionString: server.url });
  admin.on('error', () => undefined); // the server's shutdown at the end
  await admin.connect();
  const waitingForStandby = async () =>
    (await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'`)).rows.map((row) => row.pid);
  return {
    server,
    db,
    admin,
    waitingForStandby,
    async commitSeenHereOnly(sql, params = []) {
      const writer = new pg.Client({ connectionString: server.url });
      await writer.connect();
      try {
        const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        const written = writer.query(sql, params);
        await waitUntil(async () => (await waitingForStandby()).includes(writerPid), 10_000, 'the write to wait for the standby');
        await admin.query('SELECT pg_cancel_backend($1)', [writerPid]);
        await written;
      } finally {
        await writer.end();
      }
    },
    async stop() {
      // The server first: a read still waiting for the standby (a failed run) would hold the pool open.
      await server.stop();
      await admin.end().catch(() => undefined);
      await db.close().catch(() => undefined);
    },
  };
}

/** One such server for the calling test file: started before its tests, stopped after them. */
export function useStandbyTestServer(): Omit<StandbyTestServer, 'stop'> {
  let started: StandbyTestServer | undefined;
  beforeAll(async () => {
    started = await startStandbyTestServer();
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  const current = () => {
    if (!started) throw new Error('the standby test server is used before it started');
    return started;
  };
  return {
    get server() {
      return current().server;
    },
    get db() {
      return current().db;
    },
    get admin() {
      return current().admin;
    },
    waitingForStandby: () => current().waitingForStandby(),
    commitSeenHereOnly: (sql, params) => current().commitSeenHereOnly(sql, params),
  };
}
