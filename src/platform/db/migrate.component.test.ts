import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from './postgres.js';
import { migrate } from './migrate.js';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import { settledWithin, waitUntil } from '../../../test/wait.js';

/** A folder of migrations for one test (the database already has the project's own applied). */
function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(dir, name), sql);
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(kind: 'pglite' | 'postgres'): Promise<TestDatabase> {
  const database = await createTestDatabase(kind);
  cleanups.push(() => database.drop());
  return database;
}

const indexIsValid = async (db: TestDatabase['db'], name: string) =>
  (await db.query<{ valid: boolean }>('SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1', [name])).rows[0]?.valid;

describe.each(STORAGE_KINDS)('migrate on %s', (kind) => {
  it('applies a no-transaction migration (CREATE INDEX CONCURRENTLY) once, and records it', async () => {
    const { db } = await database(kind);
    const dir = migrationsDir({
      '30000101000000_table.sql': 'CREATE TABLE mig_items (a int); INSERT INTO mig_items SELECT generate_series(1, 100);',
      '30000101000001_index.sql': '-- migrate:no-transaction\n-- why: a comment after the marker\nCREATE INDEX CONCURRENTLY IF NOT EXISTS mig_items_a ON mig_items (a);\n',
    });

    expect(await migrate(db, dir)).toEqual(['30000101000000_table.sql', '30000101000001_index.sql']);
    expect(await migrate(db, dir)).toEqual([]);
    expect(await indexIsValid(db, 'mig_items_a')).toBe(true);
  });

  it('rebuilds an index whose concurrent build failed before, instead of taking the invalid leftover for done', async () => {
    const { db } = await database(kind);
    await db.exec('CREATE TABLE mig_codes (code int); INSERT INTO mig_codes VALUES (1), (1), (2);');
    const dir = migrationsDir({ '30000101000000_unique.sql': '-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS mig_codes_code ON mig_codes (code);' });

    await expect(migrate(db, dir)).rejects.toThrow(/could not create unique index/);
    expect(await indexIsValid(db, 'mig_codes_code')).toBe(false);
    await db.query('DELETE FROM mig_codes WHERE ctid = (SELECT min(ctid) FROM mig_codes WHERE code = 1)');

    expect(await migrate(db, dir)).toEqual(['30000101000000_unique.sql']);
    expect(await indexIsValid(db, 'mig_codes_code')).toBe(true);
  });

  it('records nothing of a transactional migration that fails, and keeps the ones before it', async () => {
    const { db } = await database(kind);
    const dir = migrationsDir({
      '30000101000000_good.sql': 'CREATE TABLE mig_good (a int);',
      '30000101000001_bad.sql': 'CREATE TABLE mig_half (a int); SELECT no_such_function();',
    });

    await expect(migrate(db, dir)).rejects.toThrow(/no_such_function/);
    const tables = await db.query<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relname IN ('mig_good', 'mig_half')");
    expect(tables.rows.map((row) => row.name)).toEqual(['mig_good']);
    const recorded = await db.query<{ name: string }>("SELECT name FROM schema_migrations WHERE name LIKE '3000%'");
    expect(recorded.rows.map((row) => row.name)).toEqual(['30000101000000_good.sql']);
  });
});

describe('migrate on a PostgreSQL server', () => {
  it('builds a no-transaction migration’s index while other transactions keep writing to its table', async () => {
    const { db, url } = await database('postgres');
    await db.exec('CREATE TABLE mig_orders (a int); INSERT INTO mig_orders SELECT generate_series(1, 1000);');
    // A writer's open transaction makes the build wait (a concurrent build waits for writers it
    // could miss); a plain CREATE INDEX would hold up every write queued behind it meanwhile.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    cleanups.push(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('INSERT INTO mig_orders VALUES (0)');
    const dir = migrationsDir({ '30000101000000_index.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS mig_orders_a ON mig_orders (a);' });

    const migrating = migrate(db, dir);
    await waitUntil(
      async () => (await db.query("SELECT 1 FROM pg_stat_progress_create_index WHERE relid = 'mig_orders'::regclass")).rows.length > 0,
      10_000,
      'the index build to start',
    );
    const written = await settledWithin(db.query('INSERT INTO mig_orders VALUES (1001)'), 5000);
    expect(written?.rowCount).toBe(1);
    expect(await settledWithin(migrating, 50)).toBeUndefined();

    await holder.query('COMMIT');
    expect(await migrating).toEqual(['30000101000000_index.sql']);
    expect(await indexIsValid(db, 'mig_orders_a')).toBe(true);
  });

  it('applies each migration once when several processes start at the same moment, one of them building an index concurrently', async () => {
    const { db, url } = await database('postgres');
    const dir = migrationsDir({
      '30000101000000_table.sql': 'CREATE TABLE mig_starts (a int); INSERT INTO mig_starts VALUES (1);',
      '30000101000001_index.sql': '-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS mig_starts_a ON mig_starts (a);',
      '30000101000002_row.sql': 'INSERT INTO mig_starts VALUES (2);',
    });
    const others = [1, 2, 3].map(() => createPostgresDatabase(url!, 2));
    cleanups.push(async () => void (await Promise.all(others.map((other) => other.close()))));

    const results = await Promise.all([db, ...others].map((each) => migrate(each, dir)));

    expect(results.flat().sort()).toEqual(['30000101000000_table.sql', '30000101000001_index.sql', '30000101000002_row.sql']);
    expect((await db.query('SELECT a FROM mig_starts ORDER BY a')).rows).toEqual([{ a: 1 }, { a: 2 }]);
    expect(await indexIsValid(db, 'mig_starts_a')).toBe(true);
  });

  it('says once that it is waiting while another process migrates, and goes on when that one is done', async () => {
    const { db, url } = await database('postgres');
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    cleanups.push(() => other.end());
    await other.query('SELECT pg_advisory_lock(727001)');
    const dir = migrationsDir({ '30000101000000_table.sql': 'CREATE TABLE mig_waits (a int);' });
    let waited = 0;

    const migrating = migrate(db, dir, { onWaiting: () => waited++, waitingAfterMs: 0 });
    await waitUntil(() => waited > 0, 5000, 'the migration to say it waits');
    expect(await settledWithin(migrating, 100)).toBeUndefined();
    await other.query('SELECT pg_advisory_unlock(727001)');

    expect(await migrating).toEqual(['30000101000000_table.sql']);
    expect(waited).toBe(1);
  });

  it('runs migrations without the pool’s statement timeout and leaves the pool’s connections as they were', async () => {
    const { db } = await database('postgres');
    const dir = migrationsDir({ '30000101000000_setting.sql': "CREATE TABLE mig_setting AS SELECT current_setting('statement_timeout') AS value;" });

    await migrate(db, dir);

    expect((await db.query('SELECT value FROM mig_setting')).rows).toEqual([{ value: '0' }]);
    const pooled = await Promise.all([1, 2, 3].map(() => db.query<{ statement_timeout: string }>('SHOW statement_timeout')));
    expect(pooled.map((result) => result.rows[0]?.statement_timeout)).toEqual(['15s', '15s', '15s']);
  });
});
