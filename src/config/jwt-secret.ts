import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeDataDirFailure, makeDataDir } from '../platform/data-dir.js';
import { StartupError } from '../shared/startup-error.js';

/**
 * The configured JWT secret, or outside production a generated one kept in the data directory
 * so tokens survive restarts. `generated` tells the caller to warn about it.
 */
export function resolveJwtSecret(configured: string | undefined, dataDir: string): { secret: string; generated: boolean } {
  if (configured) return { secret: configured, generated: false };
  const file = path.join(dataDir, 'jwt-secret');
  // A data directory this user cannot write (made by another user, a read-only mount) stops
  // start-up with one line naming the file and what to do, not a stack.
  const failed = (error: unknown) =>
    new StartupError(`Cannot use ${file}: ${describeDataDirFailure(error as NodeJS.ErrnoException)}; set JWT_SECRET, or DATA_DIR to a directory this user can write`);
  try {
    if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), generated: true };
  } catch (error) {
    throw failed(error);
  }
  makeDataDir(dataDir, { mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  try {
    writeFileSync(file, secret, { mode: 0o600 });
  } catch (error) {
    throw failed(error);
  }
  return { secret, generated: true };
}
