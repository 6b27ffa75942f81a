import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Database, Session } from './database.js';

/** `migrations/` at the repository root; the same depth from `src/platform/db` and `dist/platform/db`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

// Any constant works; it only has to be the same in every process migrating this database.
const MIGRATION_LOCK_KEY = 727_001;

/**
 * A migration whose first line is this runs outside a transaction, as its one statement: for
 * `CREATE INDEX CONCURRENTLY`, which builds an index on a large table without blocking its
 * writes (a plain CREATE INDEX holds up every placement for as long as it reads the table).
 */
const NO_TRANSACTION = /^--\s*migrate:no-transaction\b/;

// The index a concurrent build makes, to find the invalid one a failed or killed build left.
const CONCURRENT_INDEX = /CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)/i;

export interface MigrateOptions {
  /** Called once when another process has been migrating this database for `waitingAfterMs` (5 s). */
  onWaiting?: () => void;
  waitingAfterMs?: number;
}

/**
 * Applies every `migrations/*.sql` not yet recorded, in name order, each in its own transaction
 * (or, marked `-- migrate:no-transaction`, as one statement outside any). A session advisory
 * lock makes concurrent start-ups (several API instances and workers) apply each exactly once.
 * It is polled, not waited on: a process waiting inside a statement holds a snapshot, and a
 * concurrent index build waits for every older snapshot to end, so two start-ups would each
 * wait for the other. Statements run without the pool's statement timeout: a migration of a
 * large table may take minutes. Returns the names applied.
 */
export async function migrate(db: Database, dir: string = MIGRATIONS_DIR, options: MigrateOptions = {}): Promise<string[]> {
  const files = readdirSync(dir).filter((name) => name.endsWith('.sql')).sort();
  return db.session(async (session) => {
    await takeMigrationLock(session, options);
    try {
      await session.query('SET statement_timeout = 0');
      await session.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           name text PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await session.query<{ name: string }>('SELECT name FROM schema_migrations');
      const applied = new Set(rows.map((row) => row.name));
      const pending = files.filter((name) => !applied.has(name));
      for (const name of pending) await apply(session, name, readFileSync(`${dir}/${name}`, 'utf8'));
      return pending;
    } finally {
      await session.query('RESET statement_timeout').catch(() => undefined);
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  });
}

async function apply(session: Session, name: string, script: string): Promise<void> {
  const record = (target: Pick<Session, 'query'>) => target.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
  if (!NO_TRANSACTION.test(script)) {
    await session.transaction(async (tx) => {
      await tx.exec(script);
      await record(tx);
    });
    return;
  }
  await dropUnfinishedIndex(session, script);
  await session.exec(script);
  await record(session);
}

/**
 * A concurrent build that failed (or whose process was killed) leaves its index behind, invalid:
 * never used by queries, yet kept up to date by every write, and `IF NOT EXISTS` would take it
 * for done. It is dropped, so the migration builds it again.
 */
async function dropUnfinishedIndex(session: Session, script: string): Promise<void> {
  const index = CONCURRENT_INDEX.exec(script)?.[1]?.toLowerCase();
  if (!index) return;
  const { rows } = await session.query(
    `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = $1 AND pg_table_is_visible(c.oid) AND NOT i.indisvalid`,
    [index],
  );
  if (rows.length > 0) await session.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
}

const LOCK_POLL_MS = { first: 20, max: 500 };

async function takeMigrationLock(session: Session, { onWaiting, waitingAfterMs = 5000 }: MigrateOptions): Promise<void> {
  const started = Date.now();
  let told = false;
  for (let pollMs = LOCK_POLL_MS.first; ; pollMs = Math.min(pollMs * 2, LOCK_POLL_MS.max)) {
    const { rows } = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
    if (rows[0]?.locked) return;
    if (!told && Date.now() - started >= waitingAfterMs) {
      told = true;
      onWaiting?.();
    }
    await delay(pollMs);
  }
}
