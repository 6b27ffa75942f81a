import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { childEntry } from '../../../test/child-build.js';
import { seedEmbeddedDataDir } from '../../../test/harness.js';
import { loopTurnsDuring } from '../../../test/wait.js';
import type { Database } from './database.js';
import { EMBEDDED_START_PARAMS } from './pglite.js';
import { startPGliteThread, wrapPGliteThread } from './pglite-thread.js';

// PGlite on a worker thread of its own (the embedded default's service): what the main thread
// sees must be what PGlite gives in this thread (pglite-statements.component.test.ts runs the
// named statements on both), and the main thread must be free while PostgreSQL works.
describe('the embedded database on a thread of its own', { timeout: 60_000 }, () => {
  let dir: string;
  let db: Database;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ops-pglite-thread-'));
    seedEmbeddedDataDir(path.join(dir, 'data'));
    db = await wrapPGliteThread(await startPGliteThread(path.join(dir, 'data', 'pgdata'), EMBEDDED_START_PARAMS));
    await db.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, refs uuid[], doc jsonb, at timestamptz NOT NULL DEFAULT now())');
  });

  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the event loop turns while a statement runs (PostgreSQL works on its own thread)', async () => {
    // In this thread PGlite blocks the event loop for the whole 200 ms: not one turn.
    expect(await loopTurnsDuring(db.query('SELECT pg_sleep(0.2)'))).toBeGreaterThan(10);
  });

  it('parameters and rows keep their types (arrays, json, timestamps), and the settings are the embedded ones', async () => {
    const refs = [crypto.randomUUID(), crypto.randomUUID()];
    const inserted = await db.query('INSERT INTO notes (id, body, refs, doc) VALUES ($1, $2, $3::uuid[], $4::jsonb) RETURNING id, refs, doc, at', [
      1,
      'typed',
      refs,
      JSON.stringify({ nested: [true, null] }),
    ]);
    expect(inserted.rowCount).toBe(1);
    expect(inserted.rows[0]).toMatchObject({ id: 1, refs, doc: { nested: [true, null] } });
    expect(inserted.rows[0]?.at).toBeInstanceOf(Date);
    expect((await db.query('SHOW shared_buffers')).rows).toEqual([{ shared_buffers: '16MB' }]);
  });

  it("rejects with PostgreSQL's error (code, constraint), named or not, and goes on", async () => {
    await db.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [2, 'first']);
    await expect(db.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [2, 'again'])).rejects.toMatchObject({ code: '23505', constraint: 'notes_pkey' });
    await expect(db.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [2, 'again'], { name: 'insert-note' })).rejects.toMatchObject({ code: '23505' });
    await expect(db.query('SELECT ops_assert(false, $1)', ['raised on purpose'])).rejects.toThrow('raised on purpose');
    expect((await db.query('SELECT body FROM notes WHERE id = $1', [2], { name: 'read-note' })).rows).toEqual([{ body: 'first' }]);
  });

  it('a transaction holds the session: a statement sent meanwhile runs after it, and one already under way is not drawn into it', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let sawAfter: number | undefined;
    let seenInside: number | undefined | 'not yet';
    // Unnamed with parameters: two round trips (describe, then execute), started before the
    // transaction. Its second must not land in the transaction, which is rolled back.
    const before = db.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [10, 'before the transaction']);
    const rolledBack = db.transaction(async (tx) => {
      await tx.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [11, 'rolled back']);
      entered();
      await held;
      // Had the statement below been sent at once, the database thread would have answered it
      // before this one (it answers in order).
      await tx.query('SELECT 1');
      seenInside = sawAfter ?? 'not yet';
      throw new Error('roll back');
    });
    await inside;
    const meanwhile = db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes WHERE id = ANY($1::int[])', [[10, 11]]).then((result) => (sawAfter = result.rows[0]?.n));
    release();
    await expect(rolledBack).rejects.toThrow('roll back');
    await before;
    await meanwhile;
    expect(seenInside).toBe('not yet');
    expect(sawAfter).toBe(1);
    expect((await db.query('SELECT id FROM notes WHERE id = ANY($1::int[]) ORDER BY id', [[10, 11]])).rows).toEqual([{ id: 10 }]);
  });

  it('a committed transaction is kept, and its NOTIFY reaches listeners once it commits; after unlisten, none', async () => {
    let notified = 0;
    const unlisten = await db.listen('notes_changed', () => notified++);
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [20, 'committed'], { name: 'insert-note' });
      await tx.query("SELECT pg_notify('notes_changed', '')");
      expect(notified).toBe(0);
    });
    expect(notified).toBe(1);
    expect((await db.query('SELECT body FROM notes WHERE id = $1', [20], { name: 'read-note' })).rows).toEqual([{ body: 'committed' }]);
    await unlisten();
    await db.query("SELECT pg_notify('notes_changed', '')");
    expect(notified).toBe(1);
  });

  it('many statements at once all get their own answers, in order', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => db.query<{ n: number }>('SELECT $1::int * 2 AS n', [i], { name: 'double' })));
    expect(answers.map((answer) => answer.rows[0]?.n)).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
  });
});

describe('the database thread and the process', { timeout: 60_000 }, () => {
  it('a process whose work is done exits with the database open (the idle thread holds nothing), and what it wrote is kept', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ops-pglite-exit-'));
    try {
      seedEmbeddedDataDir(path.join(dir, 'data'));
      const pgdata = path.join(dir, 'data', 'pgdata');
      const script = path.join(dir, 'open-and-forget.mjs');
      writeFileSync(
        script,
        `import { startPGliteThread, wrapPGliteThread } from '${childEntry('src/platform/db/pglite-thread.ts')}';
         import { EMBEDDED_START_PARAMS } from '${childEntry('src/platform/db/pglite.ts')}';
         const db = await wrapPGliteThread(await startPGliteThread(${JSON.stringify(pgdata)}, EMBEDDED_START_PARAMS));
         await db.exec('CREATE TABLE left_open (x int)');
         await db.query('INSERT INTO left_open VALUES ($1)', [1]);
         process.stdout.write('done');`,
      );
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (exitCode) => resolve({ code: exitCode, stdout: out }));
        // A child the idle thread held open would outlive the test: end it when the test times out.
        onTestFinished(() => void child.kill('SIGKILL'));
      });
      expect({ code, stdout }).toEqual({ code: 0, stdout: 'done' });
      const db = await wrapPGliteThread(await startPGliteThread(pgdata, EMBEDDED_START_PARAMS));
      try {
        expect((await db.query('SELECT x FROM left_open')).rows).toEqual([{ x: 1 }]);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
