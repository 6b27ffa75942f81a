import { randomBytes } from 'node:crypto';
import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { adminExists } from './admin-accounts.repository.js';
import { findUserByEmail, insertUser } from './auth.repository.js';
import { hashPassword, verifyPassword, type PasswordHashProfile } from './passwords.js';

export const LOCAL_ADMIN_EMAIL = 'admin@example.com';

/**
 * Makes sure the first admin exists. With `ADMIN_EMAIL`/`ADMIN_PASSWORD` that account is created
 * if absent (an existing account is left as it is). Without them, and only when `allowGenerated`
 * (the embedded default), a local admin is created once with a random password printed once.
 */
export async function ensureAdmin(
  db: Database,
  admin: { email: string | undefined; password: string | undefined },
  options: { allowGenerated: boolean; passwordHashProfile: PasswordHashProfile; logger: Logger; print?: (line: string) => void },
): Promise<void> {
  if (admin.email && admin.password) {
    const existing = await findUserByEmail(db, admin.email);
    if (existing) {
      // The usual case in production: the variables stay set and still match. Nothing to say.
      if (existing.role === 'admin' && (await verifyPassword(existing.passwordHash, admin.password))) return;
      // Said out loud: a changed ADMIN_PASSWORD silently not working was the way to get locked out.
      const fix = `npm run admin -- ${existing.role === 'admin' ? 'reset-password' : 'create'} ${admin.email}`;
      options.logger.warn(
        existing.role === 'admin'
          ? `ADMIN_PASSWORD is ignored: the admin ${admin.email} already exists with its own password; change it with: ${fix}`
          : `ADMIN_EMAIL ${admin.email} belongs to an existing customer, which was left as it is; make it an admin with: ${fix}`,
        { email: admin.email },
      );
      return;
    }
    const created = await insertUser(db, { email: admin.email, name: 'Administrator', role: 'admin', passwordHash: await hashPassword(admin.password, options.passwordHashProfile) });
    // Instances started together race to create it; only the one whose insert won says so.
    if (created) options.logger.info('admin account created from ADMIN_EMAIL', { email: admin.email });
    return;
  }
  if (!options.allowGenerated) return;
  if (await adminExists(db)) return;
  const password = randomBytes(12).toString('base64url');
  const created = await insertUser(db, {
    email: LOCAL_ADMIN_EMAIL,
    name: 'Local administrator',
    role: 'admin',
    passwordHash: await hashPassword(password, options.passwordHashProfile),
  });
  if (!created) return;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  print(`Created local admin ${LOCAL_ADMIN_EMAIL} with password ${password} (shown once; set ADMIN_EMAIL/ADMIN_PASSWORD to choose your own; lost it? npm run admin -- reset-password ${LOCAL_ADMIN_EMAIL})`);
}
