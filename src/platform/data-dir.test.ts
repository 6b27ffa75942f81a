import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childEntry } from '../../test/child-build.js';
import { seedEmbeddedDataDir } from '../../test/harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What the API does with DATA_DIR in the embedded default, in a process of its own (umask is per process). */
const SCRIPT = `
import { protectDataDir } from '${childEntry('src/platform/data-dir.ts')}';
import { resolveJwtSecret } from '${childEntry('src/config/jwt-secret.ts')}';
import { createMailer } from '${childEntry('src/platform/mail.ts')}';
import { createLogger } from '${childEntry('src/platform/logger.ts')}';
import { openEmbeddedDatabase } from '${childEntry('src/platform/db/pglite.ts')}';
const dir = process.env.DATA_DIR;
protectDataDir(dir, { create: true });
resolveJwtSecret(undefined, dir);
const mailer = createMailer({ smtpUrl: undefined, gmail: undefined, from: 'a@example.com', dataDir: dir, logger: createLogger({ level: 'error', format: 'json', silent: true }) });
await mailer.send({ to: 'b@example.com', subject: 's', text: 't', html: '<p>t</p>', messageId: '<m1@example.com>' });
const db = await openEmbeddedDatabase(dir);
await db.query('CREATE TABLE t (x int)');
await db.close();
`;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? [full, ...walk(full)] : [full];
  });
}

describe('DATA_DIR permissions', () => {
  const parent = mkdtempSync(path.join(tmpdir(), 'ops-perm-'));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('under a permissive umask (022), then the folder is 0700 and every file in it (secret, .eml, PGlite) is readable by the owner only', async () => {
    const dataDir = path.join(parent, 'data');
    // PGlite's files as PGlite writes them (0666, in 0755 folders: it ignores the umask), copied
    // from the run's image rather than made by a first start here: initdb is seconds of CPU, and
    // what is tested is what the API makes of the modes. The folder starts open too.
    seedEmbeddedDataDir(dataDir);
    chmodSync(dataDir, 0o755);
    expect(walk(dataDir).filter((file) => (statSync(file).mode & 0o077) !== 0).length).toBeGreaterThan(100);
    const script = path.join(parent, 'embedded.mjs');
    writeFileSync(script, SCRIPT);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [script], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const entries = walk(dataDir);
    expect(entries.some((file) => file.endsWith('jwt-secret'))).toBe(true);
    expect(entries.some((file) => file.endsWith('.eml'))).toBe(true);
    expect(entries.filter((file) => file.includes('pgdata')).length).toBeGreaterThan(100);
    const open = entries.filter((file) => (statSync(file).mode & 0o077) !== 0);
    expect(open).toEqual([]);
  }, 120_000);
});
