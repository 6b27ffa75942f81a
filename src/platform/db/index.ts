import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import { openEmbeddedDatabase } from './pglite.js';
import { createPostgresDatabase } from './postgres.js';
import { checkPostgresConnection } from './postgres-startup.js';

export type { Database, Queryable, QueryResult } from './database.js';
export { sqlState } from './database.js';
export { isoUtc, isoUtcMicros, WITH_SYNC_STANDBY_BARRIER } from './sql-text.js';
export { migrate } from './migrate.js';
export { DataDirLockedError } from './data-dir-lock.js';
export { EmbeddedDatabaseError } from './pglite.js';
export { describePostgresFailure } from './postgres-startup.js';

/**
 * The one place that picks the storage adapter: a server when `url` is set, else PGlite in
 * `dataDir`. `oneShot`: a command that does one task and exits, not a service. `logger` hears
 * of the embedded database's thread stopping and starting again.
 */
export async function openDatabase(options: {
  url: string | undefined;
  poolMax: number;
  statementTimeoutMs?: number;
  dataDir: string;
  oneShot?: boolean;
  logger?: Logger;
}): Promise<Database> {
  if (!options.url) return openEmbeddedDatabase(options.dataDir, { oneShot: options.oneShot, ...(options.logger ? { logger: options.logger } : {}) });
  await checkPostgresConnection(options.url);
  return createPostgresDatabase(options.url, options.poolMax, options.statementTimeoutMs ? { statementTimeoutMs: options.statementTimeoutMs } : {});
}
