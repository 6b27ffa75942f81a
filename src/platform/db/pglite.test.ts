import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedEmbeddedDataDir } from '../../../test/harness.js';
import { loopTurnsDuring } from '../../../test/wait.js';
import { lockDataDir } from './data-dir-lock.js';
import { EMBEDDED_START_PARAMS, EmbeddedDatabaseError, openEmbeddedDatabase, wrapPGlite } from './pglite.js';

// PGlite's initdb (in a child process) is seconds of WASM on a quiet machine, far more on a
// loaded one, so it runs once per suite on a really fresh directory: test/server.test.ts starts
// `node dist/server.js` on an empty DATA_DIR, which creates the cluster, and restarts it to find
// its admin kept. The failure to create one is tested here.
describe('openEmbeddedDatabase', { timeout: 120_000 }, () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'ops-pglite-')), 'data');
  });

  afterEach(() => {
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('on an existing data directory, opens the database, and what is written survives closing and reopening', async () => {
    seedEmbeddedDataDir(dataDir);
    const first = await openEmbeddedDatabase(dataDir);
    await first.exec('CREATE TABLE notes (body text NOT NULL)');
    await first.query('INSERT INTO notes (body) VALUES ($1)', ['kept']);
    await first.query('SELECT body FROM notes', [], { name: 'read-notes' });
    await first.close();
    // A statement after closing (a loop racing shutdown) rejects plainly, named or not.
    await expect(first.query('SELECT body FROM notes', [], { name: 'read-notes' })).rejects.toThrow('PGlite is closed');
    await expect(first.query('SELECT body FROM notes')).rejects.toThrow('PGlite is closed');

    const second = await openEmbeddedDatabase(dataDir);
    try {
      expect((await second.query<{ body: string }>('SELECT body FROM notes')).rows).toEqual([{ body: 'kept' }]);
      // The embedded settings (a smaller buffer pool in memory that never shrinks) apply.
      expect((await second.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows).toEqual([{ shared_buffers: '16MB' }]);
    } finally {
      await second.close();
    }
  });

  it('a service runs PostgreSQL on a thread of its own: the event loop turns while a statement runs (in this thread, not once)', async () => {
    seedEmbeddedDataDir(dataDir);
    const db = await openEmbeddedDatabase(dataDir);
    try {
      expect(await loopTurnsDuring(db.query('SELECT pg_sleep(0.2)'))).toBeGreaterThan(10);
    } finally {
      await db.close();
    }
  });

  // A command (`oneShot`) keeps PGlite on its one thread, wrapped as below.
  it('on this thread, lets the event loop turn between queued statements (requests are read and timers fire while a queue drains)', async () => {
    seedEmbeddedDataDir(dataDir);
    const db = wrapPGlite(await PGlite.create(path.join(dataDir, 'pgdata'), { startParams: EMBEDDED_START_PARAMS }));
    try {
      const log: string[] = [];
      const statements = Array.from({ length: 20 }, (_, i) => db.query('SELECT $1::int AS n', [i]).then(() => log.push(`statement ${i}`)));
      // Queued after all twenty: PGlite alone ran them all in one turn, before this fired.
      setImmediate(() => log.push('immediate'));
      await Promise.all(statements);
      expect(log.slice(0, 2)).toContain('immediate');
      expect(log.filter((line) => line.startsWith('statement'))).toEqual(Array.from({ length: 20 }, (_, i) => `statement ${i}`));
    } finally {
      await db.close();
    }
  });

  it('when the database cannot be created, then it rejects naming the directory, and leaves it unlocked', async () => {
    mkdirSync(dataDir, { recursive: true });
    const pgdata = path.join(dataDir, 'pgdata');
    writeFileSync(pgdata, 'not a directory');
    const refusal = openEmbeddedDatabase(dataDir);
    await expect(refusal).rejects.toBeInstanceOf(EmbeddedDatabaseError);
    await expect(refusal).rejects.toThrow(`Could not create the embedded database in ${pgdata}`);
    lockDataDir(dataDir)();
  });

  // PGlite fails with Emscripten file-system errors, which are not Errors, on the cluster's
  // process (creating) and its thread (opening): each program names the reason.
  it.each([
    ['created', [], /^Could not create the embedded database in .+ \(ErrnoError \d+\); DATA_DIR must be a writable directory$/],
    ['opened', ['PG_VERSION'], /^Could not open the embedded database in .+ \(PGlite failed to initialize properly\); DATA_DIR must be a writable directory$/],
  ])('when the cluster cannot be %s (its folders are files), then it rejects with PGlite\'s reason', async (_, present, message) => {
    const pgdata = path.join(dataDir, 'pgdata');
    mkdirSync(pgdata, { recursive: true });
    for (const name of [...present, 'base', 'global', 'pg_wal']) writeFileSync(path.join(pgdata, name), name === 'PG_VERSION' ? '17\n' : 'not a directory');
    await expect(openEmbeddedDatabase(dataDir)).rejects.toThrow(message);
    lockDataDir(dataDir)();
  });
});
