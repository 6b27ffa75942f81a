import { ConfigError, loadConfig } from '../config/index.js';
import { seedDemoCatalog } from '../modules/catalog/index.js';
import { migrate, openDatabase } from '../platform/db/index.js';

/** `npm run db:seed`: migrates, then fills an empty catalog with demo products and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.db.url, poolMax: 1, dataDir: config.dataDir, oneShot: true });
  try {
    await migrate(db);
    const inserted = await seedDemoCatalog(db, config.currency);
    process.stdout.write(inserted > 0 ? `Seeded ${inserted} demo products\n` : 'The catalog is not empty; nothing seeded\n');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
