import { loadConfig } from '../config/index.js';
import { exitOnStartupFailure } from '../lifecycle.js';
import { migrate, openDatabase } from '../platform/db/index.js';

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.db.url, poolMax: 1, statementTimeoutMs: config.db.statementTimeoutMs, dataDir: config.dataDir, oneShot: true });
  try {
    const applied = await migrate(db, undefined, {
      onWaiting: () => process.stdout.write('Waiting for another process to finish migrating the database…\n'),
    });
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date\n');
  } finally {
    await db.close();
  }
}

// The same one-line messages as the service's own start-up (a missing database, a locked data dir).
main().catch(exitOnStartupFailure('npm run db:migrate'));
