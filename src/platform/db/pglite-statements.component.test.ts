import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEmbeddedDataDir } from '../../../test/harness.js';
import type { Database } from './database.js';
import { EMBEDDED_START_PARAMS, wrapPGlite } from './pglite.js';
import { startPGliteThread } from './pglite-thread.js';
import { wrapPGliteThread } from './pglite-thread-database.js';

// Named statements on the embedded database (pglite-statements.ts), through the adapters every
// repository uses (PGlite in this thread, for commands, and on a thread of its own, for the
// service): the answers must be the ones PGlite's own `query` gives for the same text.
describe.each([
  { where: 'in this thread', threaded: false },
  { where: 'on a thread of its own', threaded: true },
])('named statements on the embedded database, $where', { timeout: 60_000 }, ({ threaded }) => {
  let dir: string;
  let pglite: PGlite | undefined;
  let db: Database;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ops-pglite-named-'));
    seedEmbeddedDataDir(path.join(dir, 'data'));
    const pgdata = path.join(dir, 'data', 'pgdata');
    if (threaded) db = await wrapPGliteThread(await startPGliteThread(pgdata, EMBEDDED_START_PARAMS));
    else {
      pglite = await PGlite.create(pgdata);
      db = wrapPGlite(pglite);
    }
    await db.exec(`CREATE TABLE samples (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ref uuid NOT NULL, tags int[] NOT NULL,
      doc jsonb, at timestamptz NOT NULL DEFAULT now(), note text)`);
  });

  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = `INSERT INTO samples (ref, tags, doc, note) SELECT r, $2::int[], $3::jsonb, $4 FROM unnest($1::uuid[]) AS r RETURNING id, ref, tags, doc, note`;
  const select = 'SELECT id, ref, tags, doc, at, note FROM samples WHERE ref = ANY($1::uuid[]) ORDER BY id';

  it('answers what the same text answers unnamed (rows, types, counts), past the runs after which PostgreSQL may keep a generic plan', async () => {
    for (let run = 0; run < 7; run++) {
      const refs = [crypto.randomUUID(), crypto.randomUUID()];
      const inserted = await db.query(insert, [refs, [run, 7], JSON.stringify({ run, nested: [true, null] }), run % 2 ? null : `note ${run}`], { name: 'insert-samples' });
      expect(inserted.rowCount).toBe(2);
      expect(inserted.rows.map((row) => row.ref)).toEqual(refs);

      const named = await db.query(select, [refs], { name: 'select-samples' });
      const unnamed = await db.query(select, [refs]);
      expect(named).toEqual(unnamed);
      expect(named.rows[0]).toMatchObject({ ref: refs[0], tags: [run, 7], doc: { run, nested: [true, null] }, note: run % 2 ? null : `note ${run}` });
      expect(named.rows[0]?.at).toBeInstanceOf(Date);
      expect(typeof named.rows[0]?.id).toBe('number');

      const updated = await db.query('UPDATE samples SET note = $2 WHERE ref = ANY($1::uuid[])', [refs, 'seen'], { name: 'note-samples' });
      expect(updated).toEqual({ rows: [], rowCount: 2 });
    }
    // Each name was prepared once, for the life of the database session.
    const { rows } = await db.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name LIKE '%-samples' ORDER BY name");
    expect(rows.map((row) => row.name)).toEqual(['insert-samples', 'note-samples', 'select-samples']);
  });

  it("rejects with PostgreSQL's code and message, and the statement runs again afterwards", async () => {
    const bad = db.query(select, [['not-a-uuid']], { name: 'select-samples' });
    await expect(bad).rejects.toMatchObject({ code: '22P02', message: expect.stringContaining('invalid input syntax for type uuid') });
    await expect(db.query('SELECT ops_assert(false, $1)', ['raised on purpose'], { name: 'assert-now' })).rejects.toThrow('raised on purpose');
    await expect(db.query(select, [[crypto.randomUUID()]], { name: 'select-samples' })).resolves.toEqual({ rows: [], rowCount: 0 });
  });

  it('refuses a name already used for another text (a name means one statement, as in pg)', async () => {
    await expect(db.query('SELECT 1 AS one', [], { name: 'select-samples' })).rejects.toThrow('statement name "select-samples" is already used for another statement');
  });

  it('inside a transaction, runs in that transaction and is rolled back with it; a name first prepared there stays prepared', async () => {
    const ref = crypto.randomUUID();
    const count = 'SELECT count(*)::int AS n FROM samples WHERE ref = ANY($1::uuid[])';
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, [[ref], [1], null, 'rolled back'], { name: 'insert-samples' });
        expect((await tx.query(select, [[ref]], { name: 'select-samples' })).rowCount).toBe(1);
        expect((await tx.query(count, [[ref]], { name: 'count-samples' })).rows).toEqual([{ n: 1 }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await db.query(select, [[ref]], { name: 'select-samples' })).rowCount).toBe(0);
    // Prepared statements belong to the session, not the transaction: the name still works.
    expect((await db.query(count, [[ref]], { name: 'count-samples' })).rows).toEqual([{ n: 0 }]);
    const { rows } = await db.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name = 'count-samples'");
    expect(rows).toHaveLength(1);
  });

  it('a failed statement in a transaction rolls the transaction back, and the names work after it', async () => {
    const ref = crypto.randomUUID();
    await expect(
      db.transaction(async (tx) => {
        await tx.query(insert, [[ref], [2], null, 'rolled back'], { name: 'insert-samples' });
        await tx.query(select, [['not-a-uuid']], { name: 'select-samples' });
      }),
    ).rejects.toMatchObject({ code: '22P02' });
    expect((await db.query(select, [[ref]], { name: 'select-samples' })).rowCount).toBe(0);
  });

  // Only PGlite in this thread can be wrapped twice.
  if (!threaded) {
    it('two wrappers of one PGlite instance share its prepared statements (a second Parse of a name would fail)', async () => {
      const other = wrapPGlite(pglite!);
      await expect(other.query(select, [[crypto.randomUUID()]], { name: 'select-samples' })).resolves.toEqual({ rows: [], rowCount: 0 });
      await expect(other.query('SELECT $1::int + 1 AS n', [1], { name: 'plus-one' })).resolves.toEqual({ rows: [{ n: 2 }], rowCount: 1 });
      await expect(db.query('SELECT $1::int + 1 AS n', [2], { name: 'plus-one' })).resolves.toEqual({ rows: [{ n: 3 }], rowCount: 1 });
    });
  }
});
