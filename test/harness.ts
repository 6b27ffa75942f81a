import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import supertest from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config/index.js';
import type { Database } from '../src/platform/db/index.js';
import { EMBEDDED_START_PARAMS, wrapPGlite } from '../src/platform/db/pglite.js';
import { createPostgresDatabase } from '../src/platform/db/postgres.js';
import { createLogger } from '../src/platform/logger.js';
import { createRedis, queuePrefix, type Redis, type RedisClient } from '../src/platform/redis.js';
import { buildDeps, type Built } from '../src/runtime.js';
import { POSTGRES_ADMIN_URL, REDIS_URL, testDatabasePrefix } from './global-setup.js';

export type StorageKind = 'pglite' | 'postgres';
export const STORAGE_KINDS: StorageKind[] = ['pglite', 'postgres'];

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/**
 * Apps and processes the harness starts hash passwords with cheap argon2id parameters: ~600
 * hashes a run cost ~30 s of CPU with the real ones, and almost every test only needs a signed-in
 * user. Tests about hashing itself pass `PASSWORD_HASH_PROFILE: 'owasp'` (passwords.test.ts,
 * auth.routes.test.ts).
 */
export const TEST_PASSWORD_HASH_PROFILE = 'test-only-weak';

export interface TestDatabase {
  db: Database;
  /** For postgres: the URL of this file's own database (for child processes). */
  url: string | undefined;
  drop(): Promise<void>;
}

function databaseUrl(name: string): string {
  const parsed = new URL(POSTGRES_ADMIN_URL);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * One connection per test process for creating and dropping databases, kept open: a connection
 * costs PostgreSQL ~20 ms of CPU on these VMs (a backend forked, its caches loaded, then torn
 * down), and a run creates and drops ~25 databases. It does not keep the process alive.
 */
let adminPool: pg.Pool | undefined;

async function adminQuery(sql: string): Promise<void> {
  if (!adminPool) {
    adminPool = new pg.Pool({ connectionString: POSTGRES_ADMIN_URL, max: 1, idleTimeoutMillis: 0, allowExitOnIdle: true });
    // A connection lost while idle is dropped from the pool, and the next query opens another.
    adminPool.on('error', () => undefined);
  }
  await adminPool.query(sql);
}

/** A migrated database of its own: a copy of the run's template (server) or image (PGlite). */
export async function createTestDatabase(kind: StorageKind, poolMax = 10): Promise<TestDatabase> {
  if (kind === 'pglite') return pgliteTestDatabase();
  let name = spareDatabases.pop();
  if (!name) {
    name = `${testDatabasePrefix(inject('postgresTemplate'))}${randomBytes(6).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${inject('postgresTemplate')}`);
    templateSchema.postgres ??= withClient(databaseUrl(name), async (client) => (await client.query<{ schema: string }>(SCHEMA_FINGERPRINT)).rows[0]!.schema);
    await templateSchema.postgres;
  }
  const url = databaseUrl(name);
  const db = createPostgresDatabase(url, poolMax);
  let toldOthers = false;
  return {
    db,
    get url() {
      toldOthers = true;
      return url;
    },
    async drop() {
      await db.close();
      if (!toldOthers && (await emptiedForReuse(url))) spareDatabases.push(name);
      else await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * PostgreSQL databases this test process is done with, emptied, for its next file. Creating one
 * from the template (PostgreSQL 15 WAL-logs every block it copies) and dropping it cost ~0.35 s
 * of server time under the suite's load, emptying one ~0.1 s. A database goes back only if no
 * other process was given its URL (a child process could outlive the file and act on the next
 * one's data), nobody else is connected, and its schema is still the template's; any other is
 * dropped. The global teardown drops the spares with the template they were named after.
 */
const spareDatabases: string[] = [];

/** What a test could change in a database's schema: relations and columns, functions, triggers, constraints, migrations. */
const SCHEMA_FINGERPRINT = `
  SELECT (SELECT md5(string_agg(c.relname || ':' || c.relkind::text || ':' || coalesce(a.attname, '') || ':' || coalesce(format_type(a.atttypid, a.atttypmod), ''), ',' ORDER BY c.relname, a.attnum))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))
      || ':' || (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
      || ':' || (SELECT count(*) FROM pg_trigger) || ':' || (SELECT count(*) FROM pg_constraint) || ':' || (SELECT count(*) FROM schema_migrations) AS schema`;

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The schema fingerprint of the template and the image (PGlite's catalogs differ), read from this process's first copy of each before anyone used it. */
const templateSchema: Partial<Record<StorageKind, Promise<string>>> = {};

type RunSql = (sql: string) => Promise<{ rows: unknown[] }>;

/** Empties a database for the next test if it can be reused (see spareDatabases); false if it cannot. */
async function emptiedForReuse(target: string | PGlite): Promise<boolean> {
  try {
    if (typeof target !== 'string') return await emptied('pglite', (sql) => target.query(sql));
    return await withClient(target, (client) => emptied('postgres', (sql) => client.query(sql)));
  } catch {
    return false;
  }
}

async function emptied(kind: StorageKind, run: RunSql): Promise<boolean> {
  const { rows } = await run(
    `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) AS others,
            (${SCHEMA_FINGERPRINT}) AS schema,
            (SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations') AS tables`,
  );
  const { others, schema, tables } = rows[0] as { others: number; schema: string; tables: string };
  if (others > 0 || schema !== (await templateSchema[kind])) return false;
  await run(`TRUNCATE ${tables} RESTART IDENTITY CASCADE`);
  return true;
}

/** Open PGlite databases this test process is done with, emptied, for its next file. */
const sparePGlites: { pglite: PGlite; dataDir: string }[] = [];

/**
 * An embedded database of its own. Opening one costs ~0.4 s of CPU (WebAssembly instantiation,
 * PostgreSQL's start, its file-system bundle), so one a test is done with stays open and is
 * emptied for the next, under the same rules as the server's (emptiedForReuse), and also only
 * if the test closed everything it listened with. Each user gets its own handle, which refuses
 * every call once dropped: something left running by one file fails loudly instead of acting on
 * the next file's data.
 */
async function pgliteTestDatabase(): Promise<TestDatabase> {
  const spare = sparePGlites.pop();
  const dataDir = spare?.dataDir ?? copyPGliteImage(mkdtempSync(path.join(tmpdir(), 'ops-pglite-')));
  const pglite = spare?.pglite ?? (await PGlite.create(dataDir, { ...(await pgliteRuntime()), startParams: EMBEDDED_START_PARAMS }));
  if (!spare) templateSchema.pglite ??= pglite.query<{ schema: string }>(SCHEMA_FINGERPRINT).then((result) => result.rows[0]!.schema);
  await templateSchema.pglite;
  const base = wrapPGlite(pglite, () => rmSync(dataDir, { recursive: true, force: true }));
  const listening = new Set<() => Promise<void>>();
  let state: 'open' | 'closed' | 'returned' = 'open';
  const usable = () => {
    if (state === 'returned') throw new Error('this test database was dropped; its PGlite serves another test now');
  };
  const db: Database = {
    kind: 'pglite',
    query: (text, params) => (usable(), base.query(text, params)),
    exec: (script) => (usable(), base.exec(script)),
    transaction: (work) => (usable(), base.transaction(work)),
    session: (work) => (usable(), base.session(work)),
    ping: () => (usable(), base.ping()),
    async listen(channel, onNotify) {
      usable();
      const unlisten = await base.listen(channel, onNotify);
      const stop = async () => {
        listening.delete(stop);
        await unlisten();
      };
      listening.add(stop);
      return stop;
    },
    async close() {
      usable();
      state = 'closed';
      await base.close();
    },
  };
  return {
    db,
    url: undefined,
    async drop() {
      if (state === 'open' && listening.size === 0 && (await emptiedForReuse(pglite))) {
        state = 'returned';
        sparePGlites.push({ pglite, dataDir });
        return;
      }
      await db.close();
    },
  };
}

/**
 * Fills a new `DATA_DIR` with the run's migrated PGlite image, as the embedded default leaves it
 * after its first start (files 0666, as PGlite writes them). A process opening it skips PGlite's
 * initdb and the migrations, seconds of CPU; the test of the first start itself (server.test.ts)
 * does not use this.
 */
export function seedEmbeddedDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  copyPGliteImage(path.join(dataDir, 'pgdata'));
}

let compiledPGlite: Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> | undefined;

/**
 * PGlite's WebAssembly module compiled once per test process, and its file-system bundle read
 * once, for every PGlite database the process opens: each open then costs a third of the CPU
 * (with the embedded default's smaller shared buffers, ~0.4 s instead of ~1.3 s).
 */
function pgliteRuntime(): Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> {
  compiledPGlite ??= (async () => {
    const dist = path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    const [wasm, bundle] = await Promise.all([readFile(path.join(dist, 'pglite.wasm')), readFile(path.join(dist, 'pglite.data'))]);
    // Node has the WebAssembly global; this project's type libraries only declare its types.
    const { WebAssembly: runtime } = globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } };
    return { pgliteWasmModule: await runtime.compile(wasm), fsBundle: new Blob([bundle]) };
  })();
  return compiledPGlite;
}

/**
 * Copies the run's migrated PGlite data directory to `target` (a new or empty folder) and returns
 * it. In-process: the run's folders are on tmpfs where there is one (global-setup.ts), and there
 * copying the ~1,000 files takes ~50 ms, while starting `cp` from a test process holding several
 * PGlite instances cost ~0.2 s in fork alone.
 */
function copyPGliteImage(target: string): string {
  cpSync(inject('pgliteImage'), target, { recursive: true });
  return target;
}

export interface TestAppOptions {
  storage: StorageKind;
  /** Real Redis under a unique key prefix (server mode), or a Redis URL; default: in-process. */
  redis?: boolean | string;
  env?: Record<string, string>;
  /** Run the outbox relay and reconciler (and so process orders); default off, orders stay pending. */
  processing?: boolean;
  /** With `redis`: also run a BullMQ worker in this process. */
  worker?: boolean;
  /** Use this database instead of a fresh one (e.g. a second API instance on the same data). */
  database?: TestDatabase;
  /** Keep every log line (parsed JSON) in `logs`. */
  captureLogs?: boolean;
  /** The access tokens' clock (`manualClock().now`), to expire tokens without waiting. */
  clock?: () => number;
}

export interface TestApp extends Built {
  http: ReturnType<typeof supertest>;
  /** The app listens on a loopback port, for clients other than supertest (races, fetch). */
  baseUrl: string;
  /** The HTTP server behind `baseUrl` (its connections' server side: what a client left unread). */
  server: Server;
  /** Parsed log lines, when started with `captureLogs`. */
  logs: Record<string, unknown>[];
  config: Readonly<Config>;
  database: TestDatabase;
  close(): Promise<void>;
}

/** A Redis key prefix of this test run's own (the global teardown fails the run on keys left under it). */
export function testRedisPrefix(): string {
  return `${inject('redisPrefixRoot')}-${randomBytes(6).toString('hex')}`;
}

export function testConfig(overrides: Record<string, string> = {}): Readonly<Config> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-data-'));
  return loadConfig(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      LOG_FORMAT: 'json',
      JWT_SECRET: TEST_JWT_SECRET,
      PASSWORD_HASH_PROFILE: TEST_PASSWORD_HASH_PROFILE,
      DATA_DIR: dataDir,
      REDIS_PREFIX: testRedisPrefix(),
      ...overrides,
    },
    undefined,
  );
}

export async function waitUntilReady(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis did not become ready')), 5000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Deletes every key a process with REDIS_PREFIX=`prefix` can have made (for tests that open a runtime themselves). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = createRedis(REDIS_URL, 'request');
  try {
    await waitUntilReady(redis);
    await deleteKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  // The queue's keys carry a hash tag ahead of the prefix (`{<prefix>:bull}:…`).
  for (const pattern of [`${prefix}:*`, `${queuePrefix(prefix)}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
}

/** The real app, in-process, on its own database and Redis prefix. */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const redisUrl = typeof options.redis === 'string' ? options.redis : REDIS_URL;
  const config = testConfig({
    JOB_BACKOFF_BASE_MS: '50',
    JOB_BACKOFF_MAX_MS: '500',
    ...(options.redis ? { REDIS_URL: redisUrl } : {}),
    ...options.env,
  });
  const database = options.database ?? (await createTestDatabase(options.storage));
  const redis = options.redis ? createRedis(redisUrl, 'request') : undefined;
  if (redis && options.redis === true) await waitUntilReady(redis);
  const logs: Record<string, unknown>[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = options.captureLogs
    ? createLogger({ level: 'info', format: 'json', stream: capture })
    : createLogger({ level: config.log.level, format: 'json', silent: process.env.TEST_LOGS !== '1' });
  const built = buildDeps(config, logger, { db: database.db, redis, ...(options.clock ? { clock: options.clock } : {}) });
  const background = options.processing ? built.startBackground() : undefined;
  const consumer = options.worker ? built.startConsumer() : undefined;
  const server: Server = createServer(createApp(built.deps));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...built,
    http: supertest(server),
    baseUrl: `http://127.0.0.1:${port}`,
    server,
    logs,
    config,
    database,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await consumer?.close();
      await background?.stop();
      await built.queue.close();
      built.mailer.close();
      if (redis) {
        if (redis.status === 'ready') await deleteKeys(redis, config.redis.prefix);
        redis.disconnect();
      }
      if (!options.database) await database.drop();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}
