import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PG_BIN, postgresUser } from '../scripts/local-postgres.js';
import { freePort } from './processes.js';
import { waitUntil } from './wait.js';

export interface PrivatePostgres {
  url: string;
  /** Sets a server setting for every session (ALTER SYSTEM + reload), and waits until new sessions see it. */
  set(name: string, value: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own (initdb in a temporary folder, ~1–2 s), for a test that
 * changes server-wide settings the shared server's other tests must not see, such as
 * `synchronous_standby_names`. Runs as the `postgres` user when the test runs as root
 * (PostgreSQL refuses root). Fails loudly when the PostgreSQL 15 binaries are missing.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  if (!existsSync(path.join(PG_BIN, 'postgres'))) throw new Error(`PostgreSQL 15 binaries not found in ${PG_BIN}`);
  const user = postgresUser();
  // The test run's own temporary folder is root's alone; the postgres user needs a folder it can reach.
  const dir = mkdtempSync(path.join(user ? (existsSync('/dev/shm') ? '/dev/shm' : '/tmp') : tmpdir(), 'ops-private-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  execFileSync(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    stdio: 'ignore',
    ...(user ?? {}),
  });
  const port = await freePort();
  const server: ChildProcess = spawn(
    path.join(PG_BIN, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=20'],
    { stdio: 'ignore', ...(user ?? {}) },
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: url });
  const stop = async () => {
    await admin.end().catch(() => undefined);
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGQUIT'); // immediate shutdown: nothing in it is worth keeping, and no session may hold it up
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => {
        const probe = new pg.Client({ connectionString: url });
        try {
          await probe.connect();
          return true;
        } catch {
          return false;
        } finally {
          await probe.end().catch(() => undefined);
        }
      },
      20_000,
      'the private PostgreSQL server to accept connections',
      100,
    );
    await admin.connect();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    async set(name, value) {
      await admin.query(`ALTER SYSTEM SET ${name} = ${admin.escapeLiteral(value)}`);
      await admin.query('SELECT pg_reload_conf()');
      await waitUntil(
        async () => {
          const fresh = new pg.Client({ connectionString: url });
          await fresh.connect();
          try {
            return (await fresh.query<{ value: string }>('SELECT current_setting($1) AS value', [name])).rows[0]!.value === value;
          } finally {
            await fresh.end();
          }
        },
        10_000,
        `${name} = '${value}' to reach new sessions`,
      );
    },
    stop,
  };
}
