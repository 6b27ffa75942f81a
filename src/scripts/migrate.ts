import { ConfigError, loadConfig } from '../config/index.js';
import { migrate, openDatabase } from '../platform/db/index.js';

/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase({ url: config.db.url, poolMax: 1, dataDir: config.dataDir, oneShot: true });
  try {
    const applied = await migrate(db);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date\n');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
