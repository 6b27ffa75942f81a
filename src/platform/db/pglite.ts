import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Logger } from '../logger.js';
import type { Database, Queryable, QueryResult } from './database.js';
import { lockDataDir } from './data-dir-lock.js';
import { describeFailure, DESCRIBE_FAILURE_SOURCE } from './pglite-failure.js';
import { restrictTree } from '../data-dir.js';
import { defaultV8Flag } from '../v8-flags.js';
import { namedStatementsOf, type NamedStatements } from './pglite-statements.js';
import { startPGliteThread } from './pglite-thread.js';
import { wrapPGliteThread } from './pglite-thread-database.js';
import { createTurnTaker } from './turns.js';

type PGliteLike = PGlite | Transaction;

async function run<Row>(target: PGliteLike, text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
  const result = await target.query<Row>(text, params as unknown[]);
  return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
}

function queryable(target: PGliteLike, named: NamedStatements, inTransaction = false): Queryable {
  return {
    // A named statement in an open transaction runs in it (PGlite has one session); a closed
    // transaction's own `query` rejects as it should.
    query: (text, params, options) =>
      options?.name && !target.closed ? named.run(options.name, text, params, { inTransaction }) : run(target, text, params),
    async exec(script) {
      await target.exec(script);
    },
  };
}

/**
 * Wraps an open PGlite instance. PGlite runs one statement at a time; each statement, and each
 * transaction as a whole, takes its turn of the event loop (./turns.ts), so requests are read
 * and timers fire between them. Inside a transaction, use its `tx`: the transaction holds the turn.
 * Named statements are prepared once (./pglite-statements.ts), in and out of transactions.
 */
export function wrapPGlite(pglite: PGlite, onClose: () => void = () => undefined): Database {
  const inTurn = createTurnTaker();
  const named = namedStatementsOf(pglite);
  const direct = queryable(pglite, named);
  const database: Database = {
    kind: 'pglite',
    query: (text, params, options) => inTurn(() => direct.query(text, params, options)),
    exec: (script) => inTurn(() => direct.exec(script)),
    transaction: (work) => inTurn(() => pglite.transaction((tx) => work(queryable(tx, named, true)))),
    // PGlite has one session: the database is it.
    session: (work) => work(database),
    async ping() {
      await inTurn(() => pglite.query('SELECT 1'));
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
  return database;
}

/**
 * V8 runs WebAssembly on its baseline compiler (Liftoff) first and recompiles what runs hot with
 * its optimising one (TurboFan) on background threads. A process that opens the database, does
 * one thing and exits (initdb, the admin, migrate and seed commands) never earns that second
 * compilation back: on baseline code alone initdb took ~35 % less CPU and ~10 % less memory, the
 * admin command ~45 % less CPU (docs/benchmarks.md, "PGlite's initdb on V8's baseline tier"). A
 * server keeps both tiers: after a minute of load TurboFan's code was as cheap or cheaper.
 * Set before PGlite compiles; a V8 without the flag says so on stderr and goes on.
 */
const BASELINE_TIER_ONLY = '--liftoff-only';

/**
 * A service recompiles PGlite's hot functions one at a time. V8 otherwise runs up to one
 * compilation per platform thread (four in Node) at once, and what their compilers allocate
 * stays in the malloc arenas after they finish: the embedded API sat ~30–50 MiB higher, idle
 * after its start as after a load, for no difference in its speed the bench could tell
 * (docs/benchmarks.md, "The embedded default's memory, again"). V8 reads it when it starts
 * compiling, so it is set before PGlite's module is compiled.
 */
const SERVICE_WASM_COMPILE_TASKS = 1;

// Runs in a child process (`node -e`, CommonJS): argv[1] is PGlite's entry, argv[2] the folder.
const CREATE_CLUSTER = `
require('node:v8').setFlagsFromString('${BASELINE_TIER_ONLY}');
const { PGlite } = require(process.argv[1]);
${DESCRIBE_FAILURE_SOURCE}
PGlite.create(process.argv[2]).then(
  (db) => db.close(),
  (error) => {
    process.stderr.write(describeFailure(error));
    process.exit(1);
  },
);`;

/**
 * Creates the database cluster (initdb) in a child process. The PGlite instance that ran initdb
 * peaks at ~800 MiB, and a worker thread, which this was, left ~110 MiB of it in the API's
 * resident memory after it ended; a process gives all of it back.
 */
async function createCluster(pgdata: string): Promise<void> {
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['-e', CREATE_CLUSTER, pglite, pgdata], { maxBuffer: 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) resolve();
      else reject(new Error(stderr.trim().split('\n').at(-1) || error.message));
    });
  });
}

/** The embedded database could not be created or opened: a problem with DATA_DIR the user can fix. */
export class EmbeddedDatabaseError extends Error {}

/**
 * PostgreSQL's default 128 MB of shared buffers live in PGlite's WebAssembly memory, which never
 * shrinks: 16 MB holds a shop's working set (its tables are a few MB; the rest is read back from
 * the operating system's cache) and saves ~130 MiB of the API's resident memory.
 */
export const EMBEDDED_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/**
 * Opens (creating on first use) the embedded database under `dataDir`, refusing a second process.
 * `oneShot`: the process exits once its one task is done (a command, not a service).
 */
export async function openEmbeddedDatabase(dataDir: string, options: { oneShot?: boolean; logger?: Pick<Logger, 'error' | 'warn'> } = {}): Promise<Database> {
  if (options.oneShot) setFlagsFromString(BASELINE_TIER_ONLY);
  const unlock = lockDataDir(dataDir);
  try {
    const pgdata = path.join(dataDir, 'pgdata');
    const fresh = !existsSync(path.join(pgdata, 'PG_VERSION'));
    try {
      if (fresh) {
        // A folder that cannot be made fails here in a millisecond, not after seconds of initdb.
        mkdirSync(pgdata, { recursive: true, mode: 0o700 });
        await createCluster(pgdata);
      }
      restrictTree(pgdata);
      const closed = () => {
        restrictTree(pgdata);
        unlock();
      };
      // A command runs its few statements on this thread; a service gives PostgreSQL a thread of
      // its own (./pglite-thread.ts), as a server has processes of its own.
      if (options.oneShot) return wrapPGlite(await PGlite.create(pgdata, { startParams: EMBEDDED_START_PARAMS }), closed);
      defaultV8Flag('wasm-num-compilation-tasks', SERVICE_WASM_COMPILE_TASKS);
      return wrapPGliteThread(await startPGliteThread(pgdata, EMBEDDED_START_PARAMS, options.logger ? { logger: options.logger } : {}), closed);
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
