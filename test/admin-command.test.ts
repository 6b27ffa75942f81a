import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin } from '../src/modules/auth/admin-accounts.js';
import { findUserByEmail } from '../src/modules/auth/auth.repository.js';
import { verifyPassword } from '../src/modules/auth/passwords.js';
import { openDatabase, type Database } from '../src/platform/db/index.js';
import { createTestDatabase, seedEmbeddedDataDir, TEST_PASSWORD_HASH_PROFILE, type TestDatabase } from './harness.js';
import { runEntry } from './run-entry.js';

const ADMIN = 'src/scripts/admin.ts';

interface Target {
  env: Record<string, string>;
  /** Opens the same database the command used (PGlite allows one process at a time, so only between runs). */
  open(): Promise<Database>;
  close(): Promise<void>;
}

function embeddedTarget(): Promise<Target> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-admin-cmd-'));
  const dataDir = path.join(dir, 'data');
  seedEmbeddedDataDir(dataDir);
  return Promise.resolve({
    env: { DATA_DIR: dataDir },
    open: () => openDatabase({ url: undefined, poolMax: 1, dataDir }),
    close: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
}

async function postgresTarget(): Promise<Target> {
  const database: TestDatabase = await createTestDatabase('postgres', 1);
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-admin-cmd-'));
  return {
    env: { DATABASE_URL: database.url!, DATA_DIR: dir },
    open: () => Promise.resolve({ ...database.db, close: () => Promise.resolve() }),
    async close() {
      rmSync(dir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

/** For each password, whether `email` is an admin that signs in with it (one database open for all). */
async function passwordsWork(target: Target, email: string, passwords: string[]): Promise<boolean[]> {
  const db = await target.open();
  try {
    const user = await findUserByEmail(db, email);
    return await Promise.all(passwords.map(async (password) => user?.role === 'admin' && (await verifyPassword(user.passwordHash, password))));
  } finally {
    await db.close();
  }
}

describe.each([
  ['PGlite (DATA_DIR)', embeddedTarget],
  ['PostgreSQL (DATABASE_URL)', postgresTarget],
])('npm run admin on %s', (_name, makeTarget) => {
  let target: Target;
  beforeAll(async () => {
    target = await makeTarget();
  });
  afterAll(async () => {
    await target.close();
  });

  it('when create gets a password on stdin, then that admin can sign in with it; reset-password with nothing piped generates one and prints it once', async () => {
    const created = await runEntry(ADMIN, { env: target.env, args: ['create', 'root@example.com'], stdin: 'piped password 1\n' });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toBe('Created admin root@example.com');
    expect(await passwordsWork(target, 'root@example.com', ['piped password 1'])).toEqual([true]);

    const reset = await runEntry(ADMIN, { env: target.env, args: ['reset-password', 'root@example.com'] });
    expect(reset.code, reset.stderr).toBe(0);
    const printed = /^New password set for root@example\.com with password (\S+) \(shown once\); its sessions were signed out$/.exec(reset.stdout.trim());
    expect(printed, reset.stdout).not.toBeNull();
    expect(await passwordsWork(target, 'root@example.com', [printed![1]!, 'piped password 1'])).toEqual([true, false]);
  }, 240_000);
});

// What is refused here (the command line, stdin, a missing account) does not depend on the
// storage, so it runs once, on PostgreSQL, where a run costs no PGlite start. resetPassword
// answering false for a missing account is covered on both in admin-accounts.test.ts.
describe('npm run admin, refusals', () => {
  let target: Target;
  beforeAll(async () => {
    target = await postgresTarget();
    // The account the short password is refused for (creating it through the command is tested above).
    expect(await createAdmin(await target.open(), 'root@example.com', () => Promise.resolve('piped password 1'), TEST_PASSWORD_HASH_PROFILE)).toBe('created');
  });
  afterAll(async () => {
    await target.close();
  });

  it('when the command is wrong, the account is missing or the piped password too short, then it exits 1 with one line naming the fix', async () => {
    const usage = await runEntry(ADMIN, { env: target.env, args: ['delete', 'root@example.com'] });
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/^Usage: npm run admin -- create <email> \| reset-password <email>/);
    const missing = await runEntry(ADMIN, { env: target.env, args: ['reset-password', 'nobody@example.com'], stdin: 'some password\n' });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('No account has the email nobody@example.com; create one with: npm run admin -- create nobody@example.com');
    const short = await runEntry(ADMIN, { env: target.env, args: ['reset-password', 'root@example.com'], stdin: 'short\n' });
    expect(short.code).toBe(1);
    expect(short.stderr.trim()).toBe('The password on standard input must be at least 8 characters');
    const last = await runEntry(ADMIN, { env: target.env, args: ['demote', 'root@example.com'] });
    expect([last.code, last.stderr.trim()]).toEqual([1, 'root@example.com is the only admin; make another first with: npm run admin -- create <email>']);
  }, 240_000);

  it('when demote names one of two admins, then it becomes a customer and says so', async () => {
    expect(await createAdmin(await target.open(), 'deputy@example.com', () => Promise.resolve('deputy password'), TEST_PASSWORD_HASH_PROFILE)).toBe('created');
    const demoted = await runEntry(ADMIN, { env: target.env, args: ['demote', 'deputy@example.com'] });
    expect(demoted.code, demoted.stderr).toBe(0);
    expect(demoted.stdout.trim()).toBe("deputy@example.com is now a customer; its admin rights ended at once, its sessions go on as a customer's");
    const db = await target.open();
    expect((await findUserByEmail(db, 'deputy@example.com'))?.role).toBe('customer');
  }, 240_000);

  it('when list runs, then it prints each admin (email, then when it was created), oldest first, and no customer or demoted admin', async () => {
    expect(await createAdmin(await target.open(), 'second@example.com', () => Promise.resolve('second password'), TEST_PASSWORD_HASH_PROFILE)).toBe('created');
    const listed = await runEntry(ADMIN, { env: target.env, args: ['list'] });
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trim().split('\n').map((line) => line.split('\t'));
    expect(lines.map(([email]) => email)).toEqual(['root@example.com', 'second@example.com']);
    for (const [, createdAt] of lines) expect(createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }, 240_000);

  it('when asked for help, then it prints the usage on stdout and exits 0', async () => {
    const help = await runEntry(ADMIN, { env: target.env, args: ['--help'] });
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^Usage: npm run admin -- create <email> .* \| list/);
  }, 240_000);
});
