import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { StartupError } from '../shared/startup-error.js';

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
  makeDataDir(dataDir, { narrow: true });
}

/** Why DATA_DIR, or a file in it, could not be used, in the operator's words. */
export function describeDataDirFailure(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EEXIST':
      return 'it is a file, not a directory';
    case 'ENOTDIR':
      return 'a folder on its path is a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'EISDIR':
      return 'it is a directory, not a file';
    default:
      return error.code ?? error.message;
  }
}

/**
 * Makes DATA_DIR (and its parents) with `mode` if missing; `narrow` sets an existing one to 0700
 * too. A path that cannot be a directory (a file, a folder under a file, no permission) stops
 * start-up with one line naming DATA_DIR and the path, not a stack.
 */
export function makeDataDir(dataDir: string, options: { mode?: number; narrow?: boolean } = {}): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: options.narrow ? 0o700 : options.mode });
    if (options.narrow) chmodSync(dataDir, 0o700);
  } catch (error) {
    throw new StartupError(`Cannot use DATA_DIR ${dataDir}: ${describeDataDirFailure(error as NodeJS.ErrnoException)}; set DATA_DIR to a writable directory`);
  }
}

/**
 * Narrows `dir` and every folder under it to 0700 and every file to 0600. PGlite's file system
 * layer sets its own modes (0644) and ignores the umask, so its files are narrowed when the
 * database opens and closes; in between, files it adds sit inside the 0700 DATA_DIR, which no
 * other user can enter. `dir` itself is narrowed too: a pgdata copied in (a restore, a test's
 * image) keeps the modes it was copied with.
 */
export function restrictTree(dir: string): void {
  chmodSync(dir, 0o700);
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        chmodSync(full, 0o700);
        pending.push(full);
      } else if (entry.isFile() && (statSync(full).mode & 0o077) !== 0) {
        chmodSync(full, 0o600);
      }
    }
  }
}
