import { chmodSync, mkdirSync } from 'node:fs';

/**
 * DATA_DIR holds the generated JWT secret, `.eml` mail and the embedded database's files. The
 * process umask becomes 0o077, so every file made from here on (PGlite's included, which
 * takes no mode option) is 0600 and every folder 0700; the folder itself is made or narrowed
 * to 0700 when the embedded database will live there. Only the API and worker entry points call this: it changes the whole process.
 */
export function protectDataDir(dataDir: string, options: { create: boolean }): void {
  process.umask(0o077);
  // With a database server DATA_DIR may never be used (or be read-only): make it only when needed.
  if (!options.create) return;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}
