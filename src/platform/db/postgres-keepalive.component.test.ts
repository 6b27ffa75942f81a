import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import { waitUntil } from '../../../test/wait.js';
import { createPostgresDatabase } from './postgres.js';
import type { Database } from './database.js';

const run = promisify(execFile);

/**
 * The kernel's own view of a client socket (`ss -o`): a socket with SO_KEEPALIVE set shows a
 * `keepalive` timer while it is idle; one without it shows no timer at all. node-postgres does not
 * expose the option it passed to the socket, so this is read where it takes effect.
 */
async function socketTimer(localPort: number): Promise<string> {
  const { stdout } = await run('ss', ['-tnoH', 'state', 'established', `( sport = :${localPort} )`]);
  return stdout;
}

describe('PostgreSQL connections keep their TCP connection alive', () => {
  let database: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    db = createPostgresDatabase(database.url!, 1);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it('when a pooled connection is idle, then its socket has TCP keepalive on', async () => {
    // The server sees the client's port: the pool's one connection is the socket on that port here.
    const { rows } = await db.query<{ port: number }>('SELECT inet_client_port() AS port');
    const port = rows[0]!.port;
    expect(port).toBeGreaterThan(0);
    expect(await socketTimer(port)).toContain('timer:(keepalive');
  });

  it('when a LISTEN connection waits for notifications, then its socket has TCP keepalive on', async () => {
    const stop = await db.listen('keepalive_probe', () => undefined);
    try {
      const port = await waitUntil(
        async () =>
          (await db.query<{ port: number }>("SELECT client_port AS port FROM pg_stat_activity WHERE query LIKE 'LISTEN %keepalive_probe%' AND datname = current_database()")).rows[0]
            ?.port,
        10_000,
        'the LISTEN connection',
      );
      expect(await socketTimer(port)).toContain('timer:(keepalive');
    } finally {
      await stop();
    }
  });
});
