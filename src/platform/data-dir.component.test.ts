import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveJwtSecret } from '../config/jwt-secret.js';
import { StartupError } from '../shared/startup-error.js';
import { protectDataDir } from './data-dir.js';
import { lockDataDir } from './db/data-dir-lock.js';

const parent = mkdtempSync(path.join(tmpdir(), 'ops-data-dir-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const aFile = path.join(parent, 'a-file');
writeFileSync(aFile, 'not a directory');

/** protectDataDir narrows the umask of the whole process: this test process gets its own back. */
function protectKeepingUmask(dataDir: string): void {
  const umask = process.umask();
  try {
    protectDataDir(dataDir, { create: true });
  } finally {
    process.umask(umask);
  }
}

// Every place that makes DATA_DIR: the API's start (protectDataDir), the embedded database's
// lock (API, db:migrate, db:seed, admin) and the generated JWT secret (API in server mode).
const makers: [string, (dataDir: string) => unknown][] = [
  ['the API start', protectKeepingUmask],
  ['the embedded database lock', (dataDir) => lockDataDir(dataDir)],
  ['the generated JWT secret', (dataDir) => resolveJwtSecret(undefined, dataDir)],
];

describe('DATA_DIR that cannot be a directory', () => {
  it.each(makers)('when DATA_DIR is a regular file, then %s refuses with one line naming DATA_DIR and the path', (_where, make) => {
    const refusal = () => make(aFile);
    expect(refusal).toThrow(StartupError);
    expect(refusal).toThrow(`Cannot use DATA_DIR ${aFile}: it is a file, not a directory; set DATA_DIR to a writable directory`);
  });

  it.each(makers)('when DATA_DIR lies under a regular file, then %s says a folder on its path is a file', (_where, make) => {
    const under = path.join(aFile, 'data');
    expect(() => make(under)).toThrow(`Cannot use DATA_DIR ${under}: a folder on its path is a file; set DATA_DIR to a writable directory`);
  });
});

describe('a JWT secret file that cannot be read or written', () => {
  it('when DATA_DIR/jwt-secret is a directory, then start-up refuses with one line naming the file and the fix', () => {
    const dataDir = path.join(parent, 'secret-is-a-dir');
    mkdirSync(path.join(dataDir, 'jwt-secret'), { recursive: true });
    const file = path.join(dataDir, 'jwt-secret');
    expect(() => resolveJwtSecret(undefined, dataDir)).toThrow(StartupError);
    expect(() => resolveJwtSecret(undefined, dataDir)).toThrow(`Cannot use ${file}: it is a directory, not a file; set JWT_SECRET, or DATA_DIR to a directory this user can write`);
  });

  it('when the secret cannot be written (here: the name leads under a regular file), then the same one line, no stack', () => {
    const dataDir = path.join(parent, 'secret-unwritable');
    mkdirSync(dataDir);
    // A dangling link: nothing to read, and writing through it fails (as an unwritable directory would for a non-root user).
    symlinkSync(path.join(aFile, 'jwt-secret'), path.join(dataDir, 'jwt-secret'));
    expect(() => resolveJwtSecret(undefined, dataDir)).toThrow(`Cannot use ${path.join(dataDir, 'jwt-secret')}: a folder on its path is a file; set JWT_SECRET`);
  });
});
