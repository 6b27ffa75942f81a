import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';
import { lockDataDir } from './data-dir-lock.js';
import { restrictTree } from '../data-dir.js';

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
    async listen(channel, onNotify) {
      const unlisten = await pglite.listen(channel, () => onNotify());
      return () => unlisten();
    },
    async close() {
      await pglite.close();
      onClose();
    },
  };
}

// Runs in a worker thread; CommonJS, because an `eval` worker is.
const CREATE_CLUSTER = `
const { workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
PGlite.create(workerData.pgdata).then(
  (db) => db.close(),
  // As describeFailure below: a non-Error would reach the parent as "#<ErrnoError>".
  (error) => { throw error instanceof Error ? error : new Error(\`\${error?.name ?? 'error'} \${error?.errno ?? ''}\`.trim()); },
);`;

/**
 * Creates the database cluster (initdb) in a worker thread. The PGlite instance that ran
 * initdb keeps ~800 MiB until its thread ends, twice what the same database needs when opened
 * afresh, and the embedded default would otherwise hold that for its whole life.
 */
async function createCluster(pgdata: string): Promise<void> {
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  await new Promise<void>((resolve, reject) => {
    const worker = new Worker(CREATE_CLUSTER, { eval: true, workerData: { pglite, pgdata } });
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit code ${code}`))));
  });
}

/** PGlite rejects with Emscripten file-system errors, which are not Errors: keep what they say. */
function describeFailure(error: unknown): string {
  if (error instanceof Error) return error.message;
  const { name = 'error', errno = '' } = (error ?? {}) as { name?: string; errno?: number | string };
  return `${name} ${errno}`.trim();
}

/** The embedded database could not be created or opened: a problem with DATA_DIR the user can fix. */
export class EmbeddedDatabaseError extends Error {}

/** Opens (creating on first use) the embedded database under `dataDir`, refusing a second process. */
export async function openEmbeddedDatabase(dataDir: string): Promise<Database> {
  const unlock = lockDataDir(dataDir);
  try {
    const pgdata = path.join(dataDir, 'pgdata');
    const fresh = !existsSync(path.join(pgdata, 'PG_VERSION'));
    try {
      if (fresh) await createCluster(pgdata);
      restrictTree(pgdata);
      return wrapPGlite(await PGlite.create(pgdata), () => {
        restrictTree(pgdata);
        unlock();
      });
    } catch (error) {
      throw new EmbeddedDatabaseError(
        `Could not ${fresh ? 'create' : 'open'} the embedded database in ${pgdata} (${describeFailure(error)}); DATA_DIR must be a writable directory`,
        { cause: error },
      );
    }
  } catch (error) {
    unlock();
    throw error;
  }
}
