import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { childEntry } from '../../../test/child-build.js';
import { seedEmbeddedDataDir } from '../../../test/harness.js';
import { loopTurnsDuring, waitUntil } from '../../../test/wait.js';
import { ServiceUnavailableError } from '../../shared/errors.js';
import type { Database, Queryable } from './database.js';
import { EMBEDDED_START_PARAMS } from './pglite.js';
import { SessionLostError, startPGliteThread } from './pglite-thread.js';
import { wrapPGliteThread } from './pglite-thread-database.js';

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
        `import { startPGliteThread } from '${childEntry('src/platform/db/pglite-thread.ts')}';
         import { wrapPGliteThread } from '${childEntry('src/platform/db/pglite-thread-database.ts')}';
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

describe('when the database thread dies', { timeout: 60_000 }, () => {
  /** A thread over a fresh cluster, with a small heap limit so that a runaway ends it quickly, and what it logged. */
  async function openThread() {
    const dir = mkdtempSync(path.join(tmpdir(), 'ops-pglite-death-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    seedEmbeddedDataDir(path.join(dir, 'data'));
    const pgdata = path.join(dir, 'data', 'pgdata');
    const logged: string[] = [];
    const logger = { error: (message: string) => logged.push(`error: ${message}`), warn: (message: string) => logged.push(`warn: ${message}`) } as never;
    const db = await wrapPGliteThread(await startPGliteThread(pgdata, EMBEDDED_START_PARAMS, { logger, heapLimitMib: 32 }));
    onTestFinished(() => db.close());
    await db.exec('CREATE TABLE kept (id int PRIMARY KEY)');
    return { db, logged, pgdata };
  }

  // A real death, not a simulated one. In the pinned PGlite, a SQL function recursing past the
  // error-data stack leaves the backend broken, and its next statement grows a JavaScript array
  // without end, until the thread's heap limit ends the thread (in-process, V8 would end the
  // whole process).
  async function breakThread(db: Queryable): Promise<void> {
    await db.exec(`CREATE OR REPLACE FUNCTION deep(n int) RETURNS int LANGUAGE sql AS 'SELECT CASE WHEN n > 0 THEN deep(n - 1) ELSE 0 END'`);
    await db.exec(`SET max_stack_depth = '7MB'`);
    await db.query('SELECT deep(100000)');
    // The broken backend runs away on its next statement, or the one after (in a transaction).
    let failure: unknown;
    for (let i = 0; i < 3 && !failure; i++) failure = await db.query('SELECT 1').then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(ServiceUnavailableError);
    expect(String((failure as Error).cause)).toMatch(/memory limit/);
  }

  it('the statement under way fails, it is logged, and the next runs on a new thread over the same files: named statements prepare again, listeners hear again', async () => {
    const { db, logged } = await openThread();
    await db.query('INSERT INTO kept VALUES ($1)', [1], { name: 'insert-kept' });
    let notified = 0;
    await db.listen('kept_changed', () => (notified += 1));

    await breakThread(db);
    expect(logged).toEqual([expect.stringMatching(/^error: the embedded database's thread stopped/)]);

    await db.query('INSERT INTO kept VALUES ($1)', [2], { name: 'insert-kept' });
    expect(logged.at(-1)).toMatch(/^warn: the embedded database's thread was started again/);
    expect((await db.query('SELECT id FROM kept ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
    // Once for the outage (what was notified meanwhile is unknown), once for this NOTIFY.
    await db.query("SELECT pg_notify('kept_changed', '')");
    expect(notified).toBe(2);
  });

  it('a transaction open when it dies fails whole: its statements do not go on in the new session, and nothing of it is committed', async () => {
    const { db } = await openThread();
    await db.query('INSERT INTO kept VALUES (1)');
    const outcome = db.transaction(async (tx) => {
      await tx.query('INSERT INTO kept VALUES (10)');
      await breakThread(tx);
      await tx.query('INSERT INTO kept VALUES (11)');
    });
    await expect(outcome).rejects.toBeInstanceOf(SessionLostError);
    expect((await db.query('SELECT id FROM kept ORDER BY id')).rows).toEqual([{ id: 1 }]);
  });

  it('when the cluster is gone from its folder, no new empty one is made: statements fail, saying why, until it is back', async () => {
    const { db, logged, pgdata } = await openThread();
    await db.query('INSERT INTO kept VALUES (1)');
    await breakThread(db);
    renameSync(path.join(pgdata, 'PG_VERSION'), path.join(pgdata, 'PG_VERSION.away'));
    // A 503 to a client; why, in the cause (and the log).
    const why = (statement: Promise<unknown>) => statement.then(() => 'resolved', (error: Error) => `${error.constructor.name}: ${String(error.cause)}`);
    expect(await why(db.query('SELECT 1'))).toMatch(/^DatabaseThreadError: .*could not be started again: no database cluster in/);
    // Within the retry interval a statement fails at once, without another try.
    expect(await why(db.query('SELECT 1'))).toMatch(/could not be started again/);
    expect(logged.filter((line) => line.includes('could not be started again'))).toHaveLength(1);

    renameSync(path.join(pgdata, 'PG_VERSION.away'), path.join(pgdata, 'PG_VERSION'));
    const rows = await waitUntil(() => db.query('SELECT id FROM kept').then((r) => r.rows, () => undefined), 10_000, 'the thread started again');
    expect(rows).toEqual([{ id: 1 }]);
  });
});
