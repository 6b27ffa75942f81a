import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';
import { lockDataDir } from './data-dir-lock.js';

type PGliteLike = PGlite | Transaction;

async function run<Row>(target: PGliteLike, text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
  const result = await target.query<Row>(text, params as unknown[]);
  return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
}

function queryable(target: PGliteLike): Queryable {
  return {
    query: (text, params) => run(target, text, params),
    async exec(script) {
      await target.exec(script);
    },
  };
}

/** Wraps an open PGlite instance. PGlite runs one statement at a time and queues queries behind an open transaction. */
export function wrapPGlite(pglite: PGlite, onClose: () => void = () => undefined): Database {
  return {
    kind: 'pglite',
    ...queryable(pglite),
    transaction: (work) => pglite.transaction((tx) => work(queryable(tx))),
    async ping() {
      await pglite.query('SELECT 1');
    },
    async close() {
      await pglite.close();
      onClose();
    },
  };
}

/** Opens (creating on first use) the embedded database under `dataDir`, refusing a second process. */
export async function openEmbeddedDatabase(dataDir: string): Promise<Database> {
  const unlock = lockDataDir(dataDir);
  try {
    const pglite = await PGlite.create(path.join(dataDir, 'pgdata'));
    return wrapPGlite(pglite, unlock);
  } catch (error) {
    unlock();
    throw error;
  }
}
