import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/platform/db/index.js';
import { MIGRATIONS_DIR } from '../src/platform/db/migrate.js';
import { createPostgresDatabase } from '../src/platform/db/postgres.js';
import { wrapPGlite } from '../src/platform/db/pglite.js';
import { buildChildEntries } from './child-build.js';

export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Migrated PGlite images live here between runs, one per migration set and PGlite version. */
const IMAGE_CACHE_DIR = path.resolve(import.meta.dirname, '..', '.tmp', 'test-cache');

declare module 'vitest' {
  export interface ProvidedContext {
    postgresTemplate: string;
    pgliteImage: string;
    /** Every Redis key prefix of this run starts with it (`testRedisPrefix()`), so its leftovers can be found. */
    redisPrefixRoot: string;
  }
}

/** Fails the whole run, loudly, when a service the tests need is not there. */
async function requireServices(): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
  } catch (error) {
    throw new Error(`PostgreSQL is required for the tests at ${POSTGRES_ADMIN_URL}: ${(error as Error).message}`, { cause: error });
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`Redis is required for the tests at ${REDIS_URL}: ${(error as Error).message}`, { cause: error });
  } finally {
    redis.disconnect();
  }
}

/**
 * A test that leaves keys in Redis fails the run here (they are deleted first, so the next run
 * starts clean): every test deletes what it made, and a leak shows the day it is written.
 */
async function failOnRedisLeftovers(root: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const left = new Set<string>();
    // The queue's keys carry a hash tag ahead of the prefix (`{<prefix>:bull}:…`).
    for (const pattern of [`${root}-*`, `{${root}-*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) left.add(key);
      } while (cursor !== '0');
    }
    if (left.size === 0) return;
    await redis.del(...left);
    // Vitest reports an error thrown while closing without failing the run: the exit code must say it.
    process.exitCode = 1;
    const prefixes = [...new Set([...left].map((key) => key.replace(/^\{/, '').split(':')[0]))];
    throw new Error(`the tests left ${left.size} Redis key(s) behind under ${prefixes.join(', ')} (deleted now); the test that made them must delete them`);
  } finally {
    redis.disconnect();
  }
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Names what an image contains: every migration's name and text, and the PGlite that wrote it. */
function imageKey(): string {
  const hash = createHash('sha256');
  const pglitePackage = path.resolve(import.meta.dirname, '..', 'node_modules', '@electric-sql', 'pglite', 'package.json');
  hash.update((JSON.parse(readFileSync(pglitePackage, 'utf8')) as { version: string }).version);
  for (const name of readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort()) {
    hash.update(`\0${name}\0`).update(readFileSync(path.join(MIGRATIONS_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * A migrated PGlite data directory, shut down cleanly. Creating it takes seconds of WASM
 * start-up, so it is kept across runs under a name that changes with any migration. Each test
 * database starts from a copy of the folder: a `cp` plus PGlite opening it costs about half the
 * CPU of loading the same files from a tarball through a Blob. A concurrent run creating the
 * same image loses the rename race and throws its copy away.
 */
async function pgliteImage(): Promise<string> {
  const dir = path.join(IMAGE_CACHE_DIR, `pglite-${imageKey()}`);
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  mkdirSync(IMAGE_CACHE_DIR, { recursive: true });
  const partial = `${dir}.${randomBytes(4).toString('hex')}.partial`;
  const pglite = await PGlite.create(partial);
  await migrate(wrapPGlite(pglite));
  await pglite.exec('CHECKPOINT');
  await pglite.close();
  try {
    renameSync(partial, dir);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'PG_VERSION'))) throw error;
  }
  return dir;
}

interface RunFixtures {
  postgresTemplate: string;
  pgliteImage: string;
  redisPrefixRoot: string;
  teardown(): Promise<void>;
}

/**
 * `/dev/shm` when it is a writable tmpfs, as on every Linux with glibc. The suite writes a lot of
 * short-lived files (a PGlite data directory of ~1,000 files per embedded database, mail files,
 * Chromium profiles): copying the PGlite image took ~0.8 s of kernel time on this machine's disk
 * and 0.06 s on tmpfs, with the test process blocked meanwhile. Nothing needs to outlive the run.
 */
function memoryBackedTmp(): string | undefined {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return statfsSync('/dev/shm').type === TMPFS_MAGIC ? '/dev/shm' : undefined;
  } catch {
    return undefined;
  }
}
const TMPFS_MAGIC = 0x01021994;

/**
 * The start of the names of the test databases made from `template`; the test processes keep
 * emptied ones for their next file (harness.ts), and the teardown drops what they kept.
 */
export function testDatabasePrefix(template: string): string {
  return `${template.replace('ops_template_', 'ops_test_')}_`;
}

async function prepareRun(): Promise<RunFixtures> {
  // One temporary folder for the whole run, removed with it: every folder a test, Playwright or
  // Chromium makes under os.tmpdir() lands inside (test workers inherit TMPDIR), including those
  // of processes that are killed rather than closed.
  const outerTmp = process.env.TMPDIR;
  const runTmp = mkdtempSync(path.join(memoryBackedTmp() ?? tmpdir(), 'ops-test-run-'));
  process.env.TMPDIR = runTmp;
  const childEntries = buildChildEntries();
  await requireServices();
  const template = `ops_template_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const templateDb = createPostgresDatabase(withDatabase(POSTGRES_ADMIN_URL, template), 1);
  const [image] = await Promise.all([pgliteImage(), migrate(templateDb).finally(() => templateDb.close()), childEntries]);
  const redisPrefixRoot = `ops-test-${randomBytes(3).toString('hex')}`;
  return {
    postgresTemplate: template,
    pgliteImage: image,
    redisPrefixRoot,
    async teardown() {
      const spares = await admin.query<{ name: string }>('SELECT datname AS name FROM pg_database WHERE starts_with(datname, $1)', [testDatabasePrefix(template)]);
      for (const { name } of spares.rows) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
      await admin.end();
      if (outerTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = outerTmp;
      rmSync(runTmp, { recursive: true, force: true });
      await failOnRedisLeftovers(redisPrefixRoot);
    },
  };
}

/**
 * Migrates one PostgreSQL template database and one PGlite image once per run; each test file
 * then gets its own copy in well under a second instead of migrating from scratch. Also
 * transpiles the sources that tests run as child processes (test/child-build.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = await prepareRun();
  project.provide('postgresTemplate', run.postgresTemplate);
  project.provide('pgliteImage', run.pgliteImage);
  project.provide('redisPrefixRoot', run.redisPrefixRoot);
  return () => run.teardown();
}
