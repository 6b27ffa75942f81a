import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, TEST_PASSWORD_HASH_PROFILE as PROFILE, type TestDatabase } from '../../../test/harness.js';
import { createLogger } from '../../platform/logger.js';
import { adminExists, createAdmin, demote, resetPassword } from './admin-accounts.js';
import { ensureAdmin } from './admin-bootstrap.js';
import { findUserByEmail, insertRefreshToken, insertUser } from './auth.repository.js';
import { hashPassword, verifyPassword } from './passwords.js';

function captureLogs() {
  const stream = new PassThrough();
  const lines: { level: string; message: string }[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: string; message: string });
  });
  return { logger: createLogger({ level: 'info', format: 'json', stream }), lines };
}
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe.each(STORAGE_KINDS)('admin accounts (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database.drop();
  });

  it('when no admin exists, then create makes one with the given password; a second create says it exists', async () => {
    expect(await adminExists(database.db)).toBe(false);
    expect(await createAdmin(database.db, 'ops@example.com', () => Promise.resolve('first password'), PROFILE)).toBe('created');
    const admin = await findUserByEmail(database.db, 'ops@example.com');
    expect(admin?.role).toBe('admin');
    expect(await verifyPassword(admin!.passwordHash, 'first password')).toBe(true);
    expect(await adminExists(database.db)).toBe(true);
    const asked: string[] = [];
    const ask = () => {
      asked.push('asked');
      return Promise.resolve('unused password');
    };
    expect(await createAdmin(database.db, 'OPS@example.com', ask, PROFILE)).toBe('already-admin');
    // No password was asked for (so none was generated and printed) for nothing.
    expect(asked).toEqual([]);
  });

  it('when create names an existing customer, then it becomes an admin and keeps its password', async () => {
    await insertUser(database.db, { email: 'cust@example.com', name: 'C', role: 'customer', passwordHash: await hashPassword('customer password', PROFILE) });
    expect(await createAdmin(database.db, 'cust@example.com', () => Promise.reject(new Error('not asked')), PROFILE)).toBe('promoted');
    const user = await findUserByEmail(database.db, 'cust@example.com');
    expect(user?.role).toBe('admin');
    expect(await verifyPassword(user!.passwordHash, 'customer password')).toBe(true);
  });

  it('when reset-password runs, then the new password works, the old one does not and the sessions are revoked', async () => {
    const user = await findUserByEmail(database.db, 'ops@example.com');
    await insertRefreshToken(database.db, { userId: user!.id, familyId: randomUUID(), tokenHash: `hash-${kind}`, ttlSeconds: 600 });
    expect(await resetPassword(database.db, 'ops@example.com', 'second password', PROFILE)).toBe(true);
    const after = await findUserByEmail(database.db, 'ops@example.com');
    expect(await verifyPassword(after!.passwordHash, 'second password')).toBe(true);
    expect(await verifyPassword(after!.passwordHash, 'first password')).toBe(false);
    const { rows } = await database.db.query<{ live: number }>('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [user!.id]);
    expect(rows[0]?.live).toBe(0);
    expect(await resetPassword(database.db, 'nobody@example.com', 'whatever pw', PROFILE)).toBe(false);
  });

  it('when ADMIN_PASSWORD no longer matches the existing admin, or ADMIN_EMAIL is a customer, then start-up says so and names the command', async () => {
    const { logger, lines } = captureLogs();
    const print = () => undefined;
    await ensureAdmin(database.db, { email: 'ops@example.com', password: 'second password' }, { allowGenerated: false, passwordHashProfile: PROFILE, logger, print });
    await flush();
    // Still matching: the usual production restart, nothing to say.
    expect(lines).toEqual([]);
    await ensureAdmin(database.db, { email: 'ops@example.com', password: 'a changed password' }, { allowGenerated: false, passwordHashProfile: PROFILE, logger, print });
    await insertUser(database.db, { email: 'shopper@example.com', name: 'S', role: 'customer', passwordHash: await hashPassword('shopper password', PROFILE) });
    await ensureAdmin(database.db, { email: 'shopper@example.com', password: 'shopper password' }, { allowGenerated: false, passwordHashProfile: PROFILE, logger, print });
    await flush();
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/ADMIN_PASSWORD is ignored.*npm run admin -- reset-password ops@example.com/) }),
      expect.objectContaining({ level: 'warn', message: expect.stringMatching(/customer.*npm run admin -- create shopper@example.com/) }),
    ]);
    expect((await findUserByEmail(database.db, 'shopper@example.com'))?.role).toBe('customer');
  });

  it('when demote runs, then an admin becomes a customer, but never the last admin; a customer or a missing account is named as such', async () => {
    const { rows } = await database.db.query<{ email: string }>("SELECT email FROM users WHERE role = 'admin' ORDER BY email");
    const admins = rows.map((row) => row.email);
    expect(admins.length).toBeGreaterThanOrEqual(2);
    for (const email of admins.slice(1)) expect(await demote(database.db, email.toUpperCase())).toBe('demoted');
    expect(await demote(database.db, admins[0]!)).toBe('last-admin');
    expect((await findUserByEmail(database.db, admins[0]!))?.role).toBe('admin');
    expect(await demote(database.db, admins[1]!)).toBe('not-admin');
    expect(await demote(database.db, 'nobody@example.com')).toBe('no-account');
  });

  it('when the last two admins are demoted at once, then exactly one demotion happens', async () => {
    await createAdmin(database.db, `second-${kind}@example.com`, () => Promise.resolve('second admin pw'), PROFILE);
    const { rows } = await database.db.query<{ email: string }>("SELECT email FROM users WHERE role = 'admin'");
    expect(rows).toHaveLength(2);
    const outcomes = await Promise.all(rows.map((row) => demote(database.db, row.email)));
    expect(outcomes.sort()).toEqual(['demoted', 'last-admin']);
    expect(await adminExists(database.db)).toBe(true);
  });
});
