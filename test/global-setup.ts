import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/platform/db/index.js';
import { createPostgresDatabase } from '../src/platform/db/postgres.js';
import { wrapPGlite } from '../src/platform/db/pglite.js';

export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresTemplate: string;
    pgliteDump: string;
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

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * Migrates one PostgreSQL template database and one PGlite image once per run; each test file
 * then gets its own copy in about a second instead of migrating from scratch.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await requireServices();
  const runId = randomBytes(4).toString('hex');
  const template = `ops_template_${runId}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const templateDb = createPostgresDatabase(withDatabase(POSTGRES_ADMIN_URL, template), 1);
  await migrate(templateDb);
  await templateDb.close();

  const pglite = await PGlite.create();
  await migrate(wrapPGlite(pglite));
  const dumpDir = mkdtempSync(path.join(tmpdir(), 'ops-pglite-'));
  const dumpFile = path.join(dumpDir, 'migrated.tar.gz');
  const dump = await pglite.dumpDataDir('gzip');
  writeFileSync(dumpFile, Buffer.from(await dump.arrayBuffer()));
  await pglite.close();

  project.provide('postgresTemplate', template);
  project.provide('pgliteDump', dumpFile);

  return async () => {
    rmSync(dumpDir, { recursive: true, force: true });
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.end();
  };
}
