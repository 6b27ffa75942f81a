import { loadConfig } from '../config/index.js';
import { exitOnStartupFailure } from '../lifecycle.js';
import { seedDemoCatalog } from '../modules/catalog/index.js';
import { migrate, openDatabase } from '../platform/db/index.js';

/** `npm run db:seed`: migrates, then fills an empty catalog with demo products and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.db.url, poolMax: 1, statementTimeoutMs: config.db.statementTimeoutMs, dataDir: config.dataDir, oneShot: true });
  try {
    await migrate(db);
    const inserted = await seedDemoCatalog(db, config.currency);
    process.stdout.write(inserted > 0 ? `Seeded ${inserted} demo products\n` : 'The catalog is not empty; nothing seeded\n');
  } finally {
    await db.close();
  }
}

// The same one-line messages as the service's own start-up (a missing database, a locked data dir).
main().catch(exitOnStartupFailure('npm run db:seed'));
