import { randomBytes } from 'node:crypto';
import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { findUserByEmail, insertUser } from './auth.repository.js';
import { hashPassword } from './passwords.js';

export const LOCAL_ADMIN_EMAIL = 'admin@example.com';

/**
 * Makes sure the first admin exists. With `ADMIN_EMAIL`/`ADMIN_PASSWORD` that account is created
 * if absent (an existing account is left as it is). Without them, and only when `allowGenerated`
 * (the embedded default), a local admin is created once with a random password printed once.
 */
export async function ensureAdmin(
  db: Database,
  admin: { email: string | undefined; password: string | undefined },
  options: { allowGenerated: boolean; logger: Logger; print?: (line: string) => void },
): Promise<void> {
  if (admin.email && admin.password) {
    if (await findUserByEmail(db, admin.email)) return;
    await insertUser(db, { email: admin.email, name: 'Administrator', role: 'admin', passwordHash: await hashPassword(admin.password) });
    options.logger.info('admin account created from ADMIN_EMAIL', { email: admin.email });
    return;
  }
  if (!options.allowGenerated) return;
  const { rows } = await db.query("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1");
  if (rows.length > 0) return;
  const password = randomBytes(12).toString('base64url');
  const created = await insertUser(db, {
    email: LOCAL_ADMIN_EMAIL,
    name: 'Local administrator',
    role: 'admin',
    passwordHash: await hashPassword(password),
  });
  if (!created) return;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  print(`Created local admin ${LOCAL_ADMIN_EMAIL} with password ${password} (shown once; set ADMIN_EMAIL/ADMIN_PASSWORD to choose your own)`);
}
